import type { Readable } from 'node:stream';
import { AppError, isAppError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PartChecksumBody, PartUrl, RequestUploadBody, RequestUploadResponse } from '../schemas/backend.js';
import type { BackendClient } from './BackendClient.js';
import { partChecksumHeaders, serverVerified, type PartChecksum } from './checksum.js';
import { createAgents, presignedExpiry, putStream, s3Failure, socketsFor, type HttpAgents } from './httpClient.js';
import type { CallOptions, CompletedUpload, DonePart, PartReceipt, PartTransport, RemotePart, UploadPartOptions, UploadSession } from './PartTransport.js';
import { throwIfAborted } from './retry.js';

export interface PresignedTransportOptions {
  backend: BackendClient;
  /** Sockets to S3 (the uploader's concurrency; 'auto' opens up to its maximum). Default 8. */
  concurrency?: number | 'auto';
  /** Part URLs asked for per /api/upload-urls call. Default 64. */
  urlBatch?: number;
  /**
   * Each part's checksum (index n - 1), from the first pass over the file. CRC32/CRC32C ones are
   * sent with the URL requests so the backend signs them into the URLs.
   */
  partChecksums?: PartChecksum[];
  log?: Logger;
}

/** What request-upload needs besides the size: names, kind, optional part size and SHA-256. */
export type StartUploadRequest = Omit<RequestUploadBody, 'url_count' | 'kind' | 'part_checksums'> & { kind?: RequestUploadBody['kind'] };

interface CachedUrl {
  url: string;
  expiresAt: number;
  fetchedAt: number;
  /** The x-amz-checksum-* header signed into the URL, if any. */
  checksum?: PartUrl['checksum'];
}

/**
 * Parts go straight to S3 by presigned URLs that the backend signs (the agent's way: it holds no
 * S3 credentials). URLs are fetched in batches ahead of the queue, re-fetched when less than a
 * quarter of their lifetime (at most 5 min) is left, and re-signed at once when S3 says one expired.
 */
export class PresignedTransport implements PartTransport {
  readonly kind = 'presigned';
  private readonly urls = new Map<number, CachedUrl>();
  private readonly fetching = new Map<number, Promise<void>>();
  private readonly agents: HttpAgents;
  private readonly log: Logger;
  /** upload-urls calls made (for tests and logs). */
  urlFetches = 0;

  private constructor(
    private readonly o: PresignedTransportOptions,
    readonly session: UploadSession,
  ) {
    this.agents = createAgents(socketsFor(o.concurrency ?? 8));
    this.log = (o.log ?? silentLogger).child('presigned', { key: session.key });
  }

  /** POST /api/request-upload: a new multipart upload, with the first batch of part URLs. */
  static async start(o: PresignedTransportOptions, req: StartUploadRequest, opts: CallOptions = {}): Promise<PresignedTransport> {
    const urlCount = o.urlBatch ?? 64;
    const checksums = signable(o.partChecksums, Array.from({ length: urlCount }, (_, i) => i + 1));
    const r = await o.backend.requestUpload({ ...req, url_count: urlCount, ...(checksums.length ? { part_checksums: checksums } : {}) }, opts);
    throwIfAborted(opts.signal);
    const t = new PresignedTransport(o, sessionOf(r, req.file_size));
    t.cache(r.urls, r.expires_at);
    return t;
  }

  /** A transport for an upload started earlier (the session comes from the ledger). */
  static resume(o: PresignedTransportOptions, session: UploadSession): PresignedTransport {
    return new PresignedTransport(o, session);
  }

  async uploadPart(partNumber: number, body: Readable, size: number, checksum: PartChecksum | undefined, opts: UploadPartOptions): Promise<PartReceipt> {
    let cached: CachedUrl;
    try {
      cached = await this.urlFor(partNumber, opts.signal);
    } catch (e) {
      body.destroy();
      throw e;
    }
    const { url } = cached;
    // Content-MD5 needs no signature; an x-amz-checksum-* goes only when signed into the URL
    // (AWS refuses it otherwise). Without it the uploader checks the ETag instead.
    const sent = checksum && (checksum.algorithm === 'md5' || checksum.algorithm === cached.checksum) ? checksum : undefined;
    const what = `part ${partNumber}`;
    const a = await putStream({ url, body, size, headers: partChecksumHeaders(sent), agents: this.agents, signal: opts.signal, onBytes: opts.onBytes, what });
    if (a.status !== 200) {
      const err = s3Failure(a, what, url);
      if ((err.details as { expired?: boolean }).expired) this.urls.delete(partNumber);
      throw err;
    }
    const etag = a.headers.etag;
    if (!etag) throw new AppError('upstream_error', `${what}: S3 answered 200 without an ETag`, { details: { status: 200 } });
    return { etag, verified: serverVerified(sent, a.headers) };
  }

  async urlsFor(partNumbers: number[], opts: CallOptions & { force?: boolean } = {}): Promise<void> {
    const now = Date.now();
    const waits: Promise<void>[] = [];
    const need: number[] = [];
    for (const n of new Set(partNumbers)) {
      const pending = this.fetching.get(n);
      if (pending && !opts.force) waits.push(pending);
      else if (opts.force || !fresh(this.urls.get(n), now)) need.push(n);
    }
    if (need.length > 0) waits.push(this.fetch(need, opts.signal));
    // Settle all before deciding: no rejection is left unobserved.
    const settled = await Promise.allSettled(waits);
    throwIfAborted(opts.signal);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async listParts(opts: CallOptions = {}): Promise<RemotePart[]> {
    try {
      const parts = await this.o.backend.uploadStatus(this.session.key, this.session.uploadId, opts);
      return parts.map((p) => ({
        partNumber: p.part_number,
        etag: p.etag,
        size: p.size,
        ...(p.checksum_crc32 ? { checksumCrc32: p.checksum_crc32 } : {}),
        ...(p.checksum_crc32c ? { checksumCrc32c: p.checksum_crc32c } : {}),
      }));
    } catch (e) {
      throw goneAsUploadNotFound(e);
    }
  }

  async complete(parts: DonePart[], opts: CallOptions = {}): Promise<CompletedUpload> {
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    try {
      const r = await this.o.backend.completeUpload({ key: this.session.key, upload_id: this.session.uploadId, parts: sorted.map((p) => ({ part_number: p.partNumber, etag: p.etag })) }, opts);
      return { bucket: r.bucket, key: r.key, s3Path: r.s3_path, etag: r.etag, size: r.size, ...(r.sha256 ? { sha256: r.sha256 } : {}) };
    } catch (e) {
      // A retried Complete whose first try went through finds the upload gone: the object tells.
      if (isAppError(e) && (e.code === 'upload_not_found' || e.code === 'not_found')) {
        const head = await this.o.backend.requestDownload(this.session.key, opts).catch(() => undefined);
        if (head && head.size === this.session.fileSize) {
          return { bucket: head.bucket, key: head.key, s3Path: this.session.s3Path, etag: head.etag, size: head.size, ...(head.sha256 ? { sha256: head.sha256 } : {}) };
        }
      }
      throw goneAsUploadNotFound(e);
    }
  }

  async abort(opts: CallOptions = {}): Promise<void> {
    try {
      await this.o.backend.abortUpload(this.session.key, this.session.uploadId, opts);
    } catch (e) {
      // Already gone is what abort wants.
      if (isAppError(e) && (e.code === 'upload_not_found' || e.code === 'not_found')) return;
      throw e;
    }
  }

  close(): void {
    this.agents.destroy();
  }

  private async urlFor(n: number, signal: AbortSignal): Promise<CachedUrl> {
    const hit = this.urls.get(n);
    if (fresh(hit, Date.now()) && !this.fetching.has(n)) return hit!;
    // Fetch this part's URL together with the next ones that need one.
    const batch: number[] = [];
    const now = Date.now();
    for (let p = n; p <= this.session.partCount && batch.length < (this.o.urlBatch ?? 64); p++) if (p === n || !fresh(this.urls.get(p), now)) batch.push(p);
    await this.urlsFor(batch, { signal });
    const got = this.urls.get(n);
    if (!got) throw new AppError('upstream_error', `the backend returned no URL for part ${n}`);
    return got;
  }

  private fetch(numbers: number[], signal: AbortSignal | undefined): Promise<void> {
    const p = (async () => {
      this.urlFetches++;
      // Asked for by parts in the queue: a backend that does not answer fails the part at once,
      // and the queue waits for it (one probe for the whole transfer, no try counted).
      const r = await this.o.backend.uploadUrls(this.session.key, this.session.uploadId, numbers, { signal, outage: 'throw', checksums: signable(this.o.partChecksums, numbers) });
      this.cache(r.urls, r.expires_at);
      this.log.debug('part urls fetched', { parts: numbers.length });
    })();
    const done = p.finally(() => {
      for (const n of numbers) if (this.fetching.get(n) === done) this.fetching.delete(n);
    });
    // `done` is awaited by the caller; this handler only keeps a failure from being "unhandled" when nobody else waits.
    done.catch(() => undefined);
    for (const n of numbers) this.fetching.set(n, done);
    return done;
  }

  private cache(urls: PartUrl[], expiresAt: string): void {
    const now = Date.now();
    const serverExpiry = Date.parse(expiresAt);
    for (const u of urls) {
      const fromUrl = presignedExpiry(u.url);
      const exp = Math.min(Number.isFinite(serverExpiry) ? serverExpiry : Infinity, fromUrl ?? Infinity);
      this.urls.set(u.part_number, { url: u.url, expiresAt: Number.isFinite(exp) ? exp : now + 60_000, fetchedAt: now, ...(u.checksum ? { checksum: u.checksum } : {}) });
    }
  }
}

/** The CRC32/CRC32C checksums of these parts, for the backend to sign into their URLs. */
function signable(checksums: PartChecksum[] | undefined, partNumbers: number[]): PartChecksumBody[] {
  const out: PartChecksumBody[] = [];
  for (const n of partNumbers) {
    const c = checksums?.[n - 1];
    if (c && (c.algorithm === 'crc32' || c.algorithm === 'crc32c')) out.push({ part_number: n, algorithm: c.algorithm, value: c.value });
  }
  return out;
}

/** Usable for a while yet: more than a quarter of its lifetime (capped at 5 min) left. */
function fresh(u: CachedUrl | undefined, now: number): boolean {
  if (!u) return false;
  const margin = Math.min(5 * 60_000, (u.expiresAt - u.fetchedAt) / 4);
  return u.expiresAt - now > margin;
}

function sessionOf(r: RequestUploadResponse, fileSize: number): UploadSession {
  return { bucket: r.bucket, key: r.key, uploadId: r.upload_id, s3Path: r.s3_path, fileSize, partSize: r.part_size, partCount: r.part_count, prefixId: r.prefix_id };
}

/** The backend says 404 for an unknown upload (upload_not_found, or not_found from RGW's NoSuchKey). */
function goneAsUploadNotFound(e: unknown): unknown {
  if (isAppError(e) && (e.code === 'not_found' || e.code === 'upload_not_found')) {
    return new AppError('upload_not_found', 'the multipart upload is gone (completed, aborted or expired): start a new upload', { cause: e, details: e.details });
  }
  return e;
}
