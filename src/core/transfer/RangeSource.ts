import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import type { BackendClient } from './BackendClient.js';
import { openGet, presignedExpiry, readAnswer, s3Failure, type HttpAgents } from './httpClient.js';
import type { CallOptions } from './PartTransport.js';
import { abortError, throwIfAborted } from './retry.js';
import { bareEtag } from '../etag.js';

/** What a download needs to know before it starts. */
export interface ObjectInfo {
  size: number;
  etag: string;
  /** SHA-256 from the object's metadata (set by our uploads), when there is one. */
  sha256?: string;
}

export interface OpenRangeOptions {
  signal: AbortSignal;
  agents: HttpAgents;
  /** The last try failed on an expired URL: sign a new one first. */
  refresh: boolean;
}

/**
 * Where a download's bytes come from: ranged GETs on one object, by presigned URL (here) or S3
 * client (S3RangeSource.ts, apart so that presigned downloads never load the AWS SDK).
 */
export interface RangeSource {
  readonly name: string;
  stat(opts?: CallOptions): Promise<ObjectInfo>;
  /** The body of bytes [start, end) (206, or 200 for a whole object); S3 errors as AppErrors. */
  openRange(start: number, end: number, opts: OpenRangeOptions): Promise<Readable>;
}


/**
 * GETs a range and checks the answer is exactly that range of the same object version
 * (Content-Range, ETag): an object replaced mid-download is 'source_changed', never a blend.
 */
export async function getRange(url: string, start: number, end: number, info: ObjectInfo | undefined, o: OpenRangeOptions, what: string): Promise<Readable> {
  const res = await openGet(url, { headers: { range: `bytes=${start}-${end - 1}` }, agents: o.agents, signal: o.signal, what });
  const status = res.statusCode ?? 0;
  if (status !== 206 && !(status === 200 && start === 0 && info && end === info.size)) {
    throw s3Failure(await readAnswer(res), what, url, 'not_found');
  }
  const etag = res.headers.etag;
  if (info && etag && bareEtag(etag) !== bareEtag(info.etag)) {
    res.destroy();
    throw new AppError('source_changed', `${what}: the object was replaced during the download (ETag ${bareEtag(info.etag)} -> ${bareEtag(etag)}); download it again`);
  }
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
    if (!m || Number(m[1]) !== start || Number(m[2]) !== end - 1) {
      res.destroy();
      throw new AppError('upstream_error', `${what}: asked for bytes ${start}-${end - 1}, got "${res.headers['content-range'] ?? 'no Content-Range'}"`, { details: { status: 206 } });
    }
  }
  return res;
}

/** Downloads by presigned GET URLs from the backend's /api/request-download (the agent's way). */
export class PresignedRangeSource implements RangeSource {
  private url?: { url: string; expiresAt: number };
  private info?: ObjectInfo;
  private signing?: Promise<void>;

  constructor(
    private readonly backend: BackendClient,
    /** The key or s3:// path, as complete-upload returned it. */
    readonly name: string,
  ) {}

  async stat(opts: CallOptions = {}): Promise<ObjectInfo> {
    await this.sign(opts.signal);
    return this.info!;
  }

  async openRange(start: number, end: number, o: OpenRangeOptions): Promise<Readable> {
    if (o.refresh || !this.url || this.url.expiresAt - Date.now() < 30_000) await this.sign(o.signal);
    return getRange(this.url!.url, start, end, this.info, o, `bytes ${start}-${end - 1} of ${this.name}`);
  }

  /** Asks the backend for a fresh URL; ranges that need one at the same time share the call. */
  private async sign(signal: AbortSignal | undefined): Promise<void> {
    this.signing ??= (async () => {
      try {
        const r = await this.backend.requestDownload(this.name);
        this.url = { url: r.url, expiresAt: Math.min(Date.parse(r.expires_at), presignedExpiry(r.url) ?? Infinity) };
        // A refreshed URL must still be for the object this download started on: ranges are
        // checked against this.info, so replacing it would let two versions mix.
        if (this.info && (this.info.size !== r.size || this.info.etag !== r.etag)) {
          throw new AppError('source_changed', `${this.name} was replaced while it was downloading (size or ETag changed); download it again`);
        }
        this.info ??= { size: r.size, etag: r.etag, ...(r.sha256 ? { sha256: r.sha256 } : {}) };
      } finally {
        this.signing = undefined;
      }
    })();
    const shared = this.signing;
    // Wait for the shared call, but stop waiting (not the call) when this caller's signal aborts.
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal!));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
    });
    throwIfAborted(signal);
  }
}
