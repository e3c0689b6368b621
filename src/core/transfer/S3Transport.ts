import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import { listAllParts } from '../listAllParts.js';
import { partCount } from '../parts.js';
import { partChecksumHeaders, serverVerified, type PartChecksum } from './checksum.js';
import { createAgents, putStream, s3Failure, socketsFor, type HttpAgents } from './httpClient.js';
import type { CallOptions, CompletedUpload, DonePart, PartReceipt, PartTransport, RemotePart, UploadPartOptions, UploadSession } from './PartTransport.js';
import { DEFAULT_RETRY, STORAGE_FULL_HINT, storageFull, throwIfAborted, withRetry, type RetryPolicy } from './retry.js';

export interface S3TransportOptions {
  /** A client from makeS3Client (checksums only when required). */
  s3: S3Client;
  bucket: string;
  /** Sockets to S3 (the uploader's concurrency; 'auto' opens up to its maximum). Default 8. */
  concurrency?: number | 'auto';
  retry?: RetryPolicy;
}

export interface StartS3Upload {
  key: string;
  fileSize: number;
  partSize: number;
  sha256?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

/**
 * Parts go to S3 with the caller's own credentials (the worker's way). Control calls use the SDK;
 * each part is signed locally (a presigned UploadPart, the checksum header signed with it) and
 * sent by the same streaming node:http path as presigned uploads, so the data plane is one code path.
 */
export class S3Transport implements PartTransport {
  readonly kind = 's3';
  private readonly agents: HttpAgents;

  private constructor(
    private readonly o: S3TransportOptions,
    readonly session: UploadSession,
  ) {
    this.agents = createAgents(socketsFor(o.concurrency ?? 8));
  }

  static async start(o: S3TransportOptions, req: StartS3Upload, opts: CallOptions = {}): Promise<S3Transport> {
    const metadata: Record<string, string> = { 'file-size': String(req.fileSize), ...req.metadata };
    if (req.sha256) metadata.sha256 = req.sha256;
    const r = await s3Call(() => o.s3.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key: req.key, ContentType: req.contentType, Metadata: metadata }), { abortSignal: opts.signal }), 'CreateMultipartUpload', o.retry, opts.signal);
    if (!r.UploadId) throw new AppError('upstream_error', 'S3 returned no upload id for CreateMultipartUpload');
    return new S3Transport(o, {
      bucket: o.bucket,
      key: req.key,
      uploadId: r.UploadId,
      s3Path: `s3://${o.bucket}/${req.key}`,
      fileSize: req.fileSize,
      partSize: req.partSize,
      partCount: partCount(req.fileSize, req.partSize),
    });
  }

  static resume(o: S3TransportOptions, session: UploadSession): S3Transport {
    return new S3Transport(o, session);
  }

  async uploadPart(partNumber: number, body: Readable, size: number, checksum: PartChecksum | undefined, opts: UploadPartOptions): Promise<PartReceipt> {
    const what = `part ${partNumber}`;
    let url: string;
    try {
      throwIfAborted(opts.signal);
      url = await getSignedUrl(
        this.o.s3,
        new UploadPartCommand({
          Bucket: this.session.bucket,
          Key: this.session.key,
          UploadId: this.session.uploadId,
          PartNumber: partNumber,
          ...(checksum?.algorithm === 'md5' ? { ContentMD5: checksum.value } : {}),
          ...(checksum?.algorithm === 'crc32' ? { ChecksumCRC32: checksum.value } : {}),
          ...(checksum?.algorithm === 'crc32c' ? { ChecksumCRC32C: checksum.value } : {}),
        }),
        // Signed as headers, not hoisted into the query: S3 checks x-amz-checksum-* headers only.
        { expiresIn: 900, unhoistableHeaders: new Set(['x-amz-checksum-crc32', 'x-amz-checksum-crc32c']) },
      );
    } catch (e) {
      body.destroy();
      throw e;
    }
    const a = await putStream({ url, body, size, headers: partChecksumHeaders(checksum), agents: this.agents, signal: opts.signal, onBytes: opts.onBytes, what });
    if (a.status !== 200) throw s3Failure(a, what, url);
    const etag = a.headers.etag;
    if (!etag) throw new AppError('upstream_error', `${what}: S3 answered 200 without an ETag`, { details: { status: 200 } });
    return { etag, verified: serverVerified(checksum, a.headers) };
  }

  async urlsFor(): Promise<void> {
    // Every part is signed locally just before it is sent: nothing to fetch or refresh.
  }

  listParts(opts: CallOptions = {}): Promise<RemotePart[]> {
    return listAllParts(this.session, (command) => s3Call(() => this.o.s3.send(command, { abortSignal: opts.signal }), 'ListParts', this.o.retry, opts.signal));
  }

  async complete(parts: DonePart[], opts: CallOptions = {}): Promise<CompletedUpload> {
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    const { bucket, key, uploadId } = this.session;
    let gone: unknown;
    try {
      await s3Call(
        () => this.o.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) } }), { abortSignal: opts.signal }),
        'CompleteMultipartUpload',
        this.o.retry,
        opts.signal,
      );
    } catch (e) {
      // A retried Complete whose first try went through finds the upload gone: the object tells.
      if (!isAppError(e, 'upload_not_found')) throw e;
      gone = e;
    }
    // RGW answers Complete with an empty ETag: HeadObject has the real one (and the metadata).
    const h = await s3Call(() => this.o.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: opts.signal }), 'HeadObject', this.o.retry, opts.signal).catch((e: unknown) => {
      throw gone ?? e;
    });
    if (gone && h.ContentLength !== this.session.fileSize) throw gone;
    return { bucket, key, s3Path: this.session.s3Path, etag: h.ETag ?? '', size: h.ContentLength ?? 0, ...(h.Metadata?.sha256 ? { sha256: h.Metadata.sha256 } : {}) };
  }

  async abort(opts: CallOptions = {}): Promise<void> {
    try {
      await s3Call(() => this.o.s3.send(new AbortMultipartUploadCommand({ Bucket: this.session.bucket, Key: this.session.key, UploadId: this.session.uploadId }), { abortSignal: opts.signal }), 'AbortMultipartUpload', this.o.retry, opts.signal);
    } catch (e) {
      if (e instanceof AppError && e.code === 'upload_not_found') return;
      throw e;
    }
  }

  close(): void {
    this.agents.destroy();
  }
}

/** An SDK call with the shared retry schedule; SDK errors become AppErrors with FailureDetails. */
function s3Call<T>(fn: () => Promise<T>, what: string, policy: RetryPolicy | undefined, signal: AbortSignal | undefined): Promise<T> {
  return withRetry(
    async () => {
      try {
        return await fn();
      } catch (e) {
        throwIfAborted(signal);
        throw s3SdkFailure(e, what);
      }
    },
    { policy: policy ?? DEFAULT_RETRY, signal, what },
  );
}

/** Translates an SDK error at the adapter: NoSuchUpload (and RGW's NoSuchKey) -> upload_not_found, statuses kept for classification. */
export function s3SdkFailure(e: unknown, what: string): AppError {
  if (e instanceof AppError) return e;
  const err = e as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? 'Error';
  if (status === undefined) {
    const code = err.code ?? (err as { cause?: { code?: string } }).cause?.code;
    return new AppError('upstream_error', `${what}: cannot reach S3 (${code ?? err.message ?? name})`, { cause: e, details: { network: true, errno: code } });
  }
  if (name === 'NoSuchUpload' || name === 'NoSuchKey' || status === 404) {
    return new AppError('upload_not_found', `${what}: the multipart upload is gone (completed, aborted or expired): start a new upload`, { cause: e, details: { status, s3_code: name } });
  }
  const full = storageFull(status, name);
  const code: ErrorCode = full ? 'disk_full' : status >= 500 || status === 429 ? 'upstream_error' : status === 403 ? 'forbidden' : 'storage_error';
  return new AppError(code, `${what}: S3 answered ${status} (${name}): ${err.message ?? ''}${full ? `; ${STORAGE_FULL_HINT}` : ''}`, { cause: e, details: { status, s3_code: name } });
}
