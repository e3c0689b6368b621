import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError } from '../../../src/core/errors.js';
import type { PartChecksum } from '../../../src/core/transfer/checksum.js';
import type { CompletedUpload, DonePart, PartReceipt, PartTransport, RemotePart, UploadPartOptions, UploadSession } from '../../../src/core/transfer/PartTransport.js';
import { abortError } from '../../../src/core/transfer/retry.js';
import { partCount } from '../../../src/core/parts.js';

/**
 * An in-memory PartTransport for the uploader's state-machine tests: it consumes part streams
 * chunk by chunk (reporting bytes), keeps parts with MD5 ETags as S3 does, and can be told to
 * fail or hold a given part's tries.
 */
export class FakeTransport implements PartTransport {
  readonly kind = 'fake';
  readonly session: UploadSession;
  readonly parts = new Map<number, { etag: string; data: Buffer }>();
  readonly calls: { part: number; checksum?: PartChecksum }[] = [];
  aborted = false;
  completedWith?: DonePart[];
  /** part -> errors to throw on its next tries, in order. */
  failures = new Map<number, AppError[]>();
  /** When set, every part waits for this promise before it is accepted (while its signal is live). */
  gate?: Promise<void>;
  /** Delay per chunk (ms), to make uploads last a little. */
  chunkDelayMs = 0;
  /** false: behave like Ceph RGW, which ignores x-amz-checksum-* (the answer confirms nothing). */
  verifiesChecksums = true;
  /** part -> how many of its next tries are stored with a byte flipped (and answered 200). */
  damage = new Map<number, number>();

  constructor(fileSize: number, partSize: number) {
    this.session = { bucket: 'b', key: 'k', uploadId: 'u', s3Path: 's3://b/k', fileSize, partSize, partCount: partCount(fileSize, partSize) };
  }

  async uploadPart(n: number, body: Readable, size: number, checksum: PartChecksum | undefined, o: UploadPartOptions): Promise<PartReceipt> {
    this.calls.push({ part: n, ...(checksum ? { checksum } : {}) });
    const chunks: Buffer[] = [];
    const onAbort = (): void => void body.destroy(abortError(o.signal));
    o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const c of body as AsyncIterable<Buffer>) {
        if (this.chunkDelayMs) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
        if (o.signal.aborted) throw abortError(o.signal);
        chunks.push(c);
        o.onBytes(c.length);
      }
      if (o.signal.aborted) throw abortError(o.signal);
      const fail = this.failures.get(n)?.shift();
      if (fail) throw fail;
      if (this.gate) await Promise.race([this.gate, new Promise((_, rej) => o.signal.addEventListener('abort', () => rej(abortError(o.signal)), { once: true }))]);
    } finally {
      o.signal.removeEventListener('abort', onAbort);
    }
    const data = Buffer.concat(chunks);
    if (data.length !== size) throw new AppError('bad_request', `part ${n}: ${data.length} bytes, expected ${size}`);
    const damaged = this.damage.get(n) ?? 0;
    if (damaged > 0) {
      this.damage.set(n, damaged - 1);
      // A server that checks the checksum refuses the part; one that does not stores the damage.
      if (this.verifiesChecksums && checksum) throw new AppError('storage_error', `part ${n}: BadDigest`, { details: { status: 400, s3_code: 'BadDigest' } });
      data[0] ^= 1;
    }
    const etag = `"${createHash('md5').update(data).digest('hex')}"`;
    this.parts.set(n, { etag, data });
    return { etag, verified: this.verifiesChecksums && checksum !== undefined };
  }

  async urlsFor(): Promise<void> {}

  async listParts(): Promise<RemotePart[]> {
    if (this.aborted) throw new AppError('upload_not_found', 'gone');
    return [...this.parts.entries()].sort((a, b) => a[0] - b[0]).map(([partNumber, p]) => ({ partNumber, etag: p.etag, size: p.data.length }));
  }

  async complete(parts: DonePart[]): Promise<CompletedUpload> {
    this.completedWith = parts;
    const body = Buffer.concat(parts.map((p) => this.parts.get(p.partNumber)!.data));
    return { bucket: 'b', key: 'k', s3Path: 's3://b/k', etag: '"x-1"', size: body.length };
  }

  /** The object as Complete assembled it. */
  object(): Buffer {
    return Buffer.concat((this.completedWith ?? []).map((p) => this.parts.get(p.partNumber)!.data));
  }

  async abort(): Promise<void> {
    this.aborted = true;
  }

  close(): void {}
}
