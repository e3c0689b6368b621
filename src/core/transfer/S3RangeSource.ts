import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../errors.js';
import type { CallOptions } from './PartTransport.js';
import { getRange, type ObjectInfo, type OpenRangeOptions, type RangeSource } from './RangeSource.js';
import { DEFAULT_RETRY, throwIfAborted, withRetry, type RetryPolicy } from './retry.js';
import { s3SdkFailure } from './S3Transport.js';

/** Downloads with the caller's own S3 credentials (the worker's way): each range signed locally. */
export class S3RangeSource implements RangeSource {
  private info?: ObjectInfo;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  get name(): string {
    return `s3://${this.bucket}/${this.key}`;
  }

  async stat(opts: CallOptions = {}): Promise<ObjectInfo> {
    const h = await withRetry(
      async () => {
        try {
          return await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key }), { abortSignal: opts.signal });
        } catch (e) {
          throwIfAborted(opts.signal);
          const err = s3SdkFailure(e, 'HeadObject');
          // HeadObject has no body: a 404 is a missing object here, not a missing upload.
          throw err.code === 'upload_not_found' ? new AppError('not_found', `no object at ${this.name}`, { cause: e, details: err.details }) : err;
        }
      },
      { policy: this.retry, signal: opts.signal, what: 'HeadObject' },
    );
    this.info = { size: h.ContentLength ?? 0, etag: h.ETag ?? '', ...(h.Metadata?.sha256 ? { sha256: h.Metadata.sha256 } : {}) };
    return this.info;
  }

  async openRange(start: number, end: number, o: OpenRangeOptions): Promise<Readable> {
    const url = await getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: this.key }), { expiresIn: 900 });
    throwIfAborted(o.signal);
    return getRange(url, start, end, this.info, o, `bytes ${start}-${end - 1} of ${this.name}`);
  }
}
