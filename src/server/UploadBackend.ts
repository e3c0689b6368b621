import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  GetObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { listAllParts } from '../core/listAllParts.js';
import { STORAGE_FULL_HINT, storageFull } from '../core/transfer/retry.js';
import type { PartChecksumBody, PartUrl, UploadedPart } from '../core/schemas/backend.js';

export interface UploadBackendOptions {
  /** Client for calls the server makes itself. */
  s3: S3Client;
  /** Client whose endpoint is written into presigned URLs (the one clients can reach). */
  presigner: S3Client;
  bucket: string;
  urlTtlSeconds: number;
  log?: Logger;
}

/**
 * A clock offset from S3 this large is said once in the log. The SDK only corrects an offset of
 * 5 minutes or more (smaller ones are within S3's 15 minutes of tolerance), so that is the least
 * that is ever said.
 */
const SAY_OFFSET_MS = 60_000;

/**
 * The S3 side of the backend: multipart sessions, presigned URLs, part listings, completion.
 * Vendor errors are translated to AppError here and nowhere else.
 */
export class UploadBackend {
  private saidOffset = 0;

  constructor(private readonly o: UploadBackendOptions) {}

  get bucket(): string {
    return this.o.bucket;
  }

  /**
   * S3's time. The SDK learns the server clock's offset from S3's Date headers (from an answer
   * whose Date is 5 minutes or more off, or a RequestTimeTooSkewed refusal, which it then
   * retries) and signs its own calls with
   * it; presigned URLs are signed here, so they take it too: a server whose clock is off still
   * hands out URLs that S3 takes as issued now, and their expiry is said in S3's time.
   */
  private s3Now(): Date {
    const offset = this.o.s3.config.systemClockOffset ?? 0;
    if (Math.abs(offset) >= SAY_OFFSET_MS && Math.abs(offset - this.saidOffset) >= SAY_OFFSET_MS) {
      this.saidOffset = offset;
      this.o.log?.warn(`this machine's clock is ${Math.round(Math.abs(offset) / 1000)} s ${offset > 0 ? 'behind' : 'ahead of'} the S3 server's: presigned URLs are signed with S3's time; set the clock right (NTP) to silence this`, { clock_offset_s: Math.round(offset / 1000) });
    }
    return new Date(Date.now() + offset);
  }

  expiresAt(): string {
    return new Date(this.s3Now().getTime() + this.o.urlTtlSeconds * 1000).toISOString();
  }

  async createUpload(key: string, opts: { contentType?: string; metadata: Record<string, string> }): Promise<string> {
    const r = await this.call(() =>
      this.o.s3.send(new CreateMultipartUploadCommand({ Bucket: this.o.bucket, Key: key, ContentType: opts.contentType, Metadata: opts.metadata })),
    );
    if (!r.UploadId) throw new AppError('upstream_error', 'the S3 server returned no upload id for CreateMultipartUpload');
    return r.UploadId;
  }

  /**
   * Part URLs; a part with a checksum gets it signed in as the x-amz-checksum-* header (not
   * hoisted into the query: S3 checks the header only), so S3 verifies the part on arrival
   * (AWS refuses that header unsigned on a presigned URL).
   */
  async partUrls(key: string, uploadId: string, partNumbers: number[], checksums: PartChecksumBody[] = []): Promise<PartUrl[]> {
    const byPart = new Map(checksums.map((c) => [c.part_number, c]));
    // Signing is local CPU work (no request); 10,000 URLs take well under a second.
    return Promise.all(
      partNumbers.map(async (n) => {
        const c = byPart.get(n);
        const command = new UploadPartCommand({
          Bucket: this.o.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: n,
          ...(c?.algorithm === 'crc32' ? { ChecksumCRC32: c.value } : {}),
          ...(c?.algorithm === 'crc32c' ? { ChecksumCRC32C: c.value } : {}),
        });
        const url = await getSignedUrl(this.o.presigner, command, {
          expiresIn: this.o.urlTtlSeconds,
          signingDate: this.s3Now(),
          ...(c ? { unhoistableHeaders: new Set([`x-amz-checksum-${c.algorithm}`]) } : {}),
        });
        return { part_number: n, url, ...(c ? { checksum: c.algorithm } : {}) };
      }),
    );
  }

  /** Every uploaded part, following ListParts pages to the end. */
  async listParts(key: string, uploadId: string): Promise<UploadedPart[]> {
    const parts = await listAllParts({ bucket: this.o.bucket, key, uploadId }, (command) => this.call(() => this.o.s3.send(command), true));
    return parts.map((p) => ({
      part_number: p.partNumber,
      etag: p.etag,
      size: p.size,
      ...(p.checksumCrc32 ? { checksum_crc32: p.checksumCrc32 } : {}),
      ...(p.checksumCrc32c ? { checksum_crc32c: p.checksumCrc32c } : {}),
    }));
  }

  /** Completes, then reads size, ETag and metadata back (RGW answers Complete with an empty ETag). */
  async complete(key: string, uploadId: string, parts: { part_number: number; etag: string; checksum_crc32?: string; checksum_crc32c?: string }[]): Promise<{ etag: string; size: number; sha256?: string }> {
    await this.call(() =>
      this.o.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.o.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({ PartNumber: p.part_number, ETag: p.etag, ChecksumCRC32: p.checksum_crc32, ChecksumCRC32C: p.checksum_crc32c })),
          },
        }),
      ),
      true,
    );
    return this.head(key);
  }

  async abort(key: string, uploadId: string): Promise<void> {
    await this.call(() => this.o.s3.send(new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: key, UploadId: uploadId })), true);
  }

  async head(key: string): Promise<{ etag: string; size: number; sha256?: string }> {
    const h = await this.call(() => this.o.s3.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: key })));
    return { etag: h.ETag ?? '', size: h.ContentLength ?? 0, ...(h.Metadata?.sha256 ? { sha256: h.Metadata.sha256 } : {}) };
  }

  async downloadUrl(key: string): Promise<string> {
    return getSignedUrl(this.o.presigner, new GetObjectCommand({ Bucket: this.o.bucket, Key: key }), { expiresIn: this.o.urlTtlSeconds, signingDate: this.s3Now() });
  }

  private async call<T>(fn: () => Promise<T>, multipart = false): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = translateS3Error(e);
      // Ceph RGW answers ListParts and Complete for an unknown or aborted upload with NoSuchKey.
      if (multipart && err.code === 'not_found') throw new AppError('upload_not_found', 'no such multipart upload: it was completed, aborted or expired; start a new upload', { cause: e });
      throw err;
    }
  }
}

/** S3 error names (and HTTP statuses) to our codes, with a message that says what to do. */
export function translateS3Error(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? err.Code ?? 'Error';
  const status = err.$metadata?.httpStatusCode;
  const msg = err.message ?? String(e);
  switch (name) {
    case 'NoSuchUpload':
      return new AppError('upload_not_found', 'no such multipart upload: it was completed, aborted or expired; start a new upload', { cause: e });
    case 'NoSuchKey':
    case 'NotFound':
      return new AppError('not_found', 'no object at that key', { cause: e });
    case 'NoSuchBucket':
      return new AppError('storage_error', 'the server\'s bucket does not exist: start the server with --create-bucket or create it', { cause: e });
    case 'InvalidPart':
    case 'InvalidPartOrder':
    case 'EntityTooSmall':
    case 'InvalidArgument':
    case 'MalformedXML':
    case 'InvalidRequest':
      return new AppError('bad_request', `the S3 server refused the request (${name}): ${msg}`, { cause: e, details: { s3_code: name } });
    case 'PreconditionFailed':
      return new AppError('precondition_failed', `the object changed meanwhile (${name}): re-read it and retry`, { cause: e });
    case 'ConditionalRequestConflict':
      return new AppError('conflict', `a concurrent write won (${name}): re-read and retry`, { cause: e });
  }
  if (storageFull(status, name)) return new AppError('disk_full', `S3 request failed (${name}${status ? ` ${status}` : ''}): ${msg}; ${STORAGE_FULL_HINT}`, { cause: e, details: { s3_code: name } });
  if (status === 403 || name === 'AccessDenied' || name === 'SignatureDoesNotMatch' || name === 'InvalidAccessKeyId') {
    return new AppError('storage_error', `the S3 server refused the server's credentials (${name}): check --s3-access-key/--s3-secret-key`, { cause: e });
  }
  const code = (e as { code?: string }).code;
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code)) {
    // 503, not 502: the agent's transfers wait for the store to come back (a restart) instead of failing.
    return new AppError('unavailable', `cannot reach the S3 endpoint (${code}): is the store running and --s3-endpoint right?`, { cause: e, details: { errno: code } });
  }
  return new AppError('storage_error', `S3 request failed (${name}${status ? ` ${status}` : ''}): ${msg}`, { cause: e });
}
