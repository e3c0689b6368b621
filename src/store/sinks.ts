import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { createDigest, type ChecksumAlgorithm, type Digest } from './checksums.js';
import { gcPacer } from './GcPacer.js';

/**
 * Where request bodies go: every byte is hashed on its way (MD5 for the ETag, SHA-256 when the
 * payload hash was signed, the flexible checksums asked for) and written in batches.
 */
export class DigestSet {
  private readonly md5 = createDigest('MD5');
  private readonly digests = new Map<ChecksumAlgorithm, Digest>();
  size = 0;

  constructor(algorithms: Iterable<ChecksumAlgorithm>) {
    for (const a of algorithms) this.digests.set(a, createDigest(a));
  }

  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    this.md5.update(chunk);
    for (const d of this.digests.values()) d.update(chunk);
  }

  /** md5 as bytes and each checksum as raw bytes; call once, after the last update. */
  finish(): { md5: Buffer; checksums: Map<ChecksumAlgorithm, Buffer> } {
    const checksums = new Map<ChecksumAlgorithm, Buffer>();
    for (const [a, d] of this.digests) checksums.set(a, d.digest());
    return { md5: this.md5.digest(), checksums };
  }
}

const WRITE_BATCH = 1 << 20;

/**
 * Streams a body into a new file with one writev per batch of buffered chunks and a single
 * fsync at the end. The caller removes the file on failure.
 */
export class FileSink extends Writable {
  private fh: FileHandle | undefined;

  constructor(
    private readonly path: string,
    readonly digests: DigestSet,
  ) {
    super({ highWaterMark: WRITE_BATCH, decodeStrings: false });
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'wx', 0o600).then(
      (fh) => {
        this.fh = fh;
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    let n = 0;
    for (const b of bufs) {
      this.digests.update(b);
      n += b.length;
    }
    gcPacer.add(n);
    this.writeAll(bufs).then(() => cb(), (e: Error) => cb(e));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  private async writeAll(bufs: Buffer[]): Promise<void> {
    let pending = bufs;
    while (pending.length > 0) {
      const { bytesWritten } = await this.fh!.writev(pending);
      let n = bytesWritten;
      const rest: Buffer[] = [];
      for (const b of pending) {
        if (n >= b.length) n -= b.length;
        else {
          rest.push(b.subarray(n));
          n = 0;
        }
      }
      pending = rest;
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.fh!.sync().then(() => cb(), (e: Error) => cb(e));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) return cb(err);
    fh.close().then(() => cb(err), () => cb(err));
  }
}

/** Collects a small body (XML requests) in memory, up to `limit` bytes. */
export class MemorySink extends Writable {
  private readonly chunks: Buffer[] = [];

  constructor(
    readonly digests: DigestSet,
    private readonly limit: number,
    private readonly tooLarge: () => Error,
  ) {
    super({ decodeStrings: false });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.digests.update(chunk);
    if (this.digests.size > this.limit) return cb(this.tooLarge());
    this.chunks.push(chunk);
    cb();
  }

  body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
