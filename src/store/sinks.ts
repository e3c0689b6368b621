import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { writevAll } from '../core/writevAll.js';
import { createDigest, type ChecksumAlgorithm, type Digest } from './checksums.js';
import { gcPacer } from './GcPacer.js';
import type { HashWriteJob, HashWriterPool } from './HashWriterPool.js';

/**
 * Where request bodies go: every byte is hashed on its way (MD5 for the ETag, SHA-256 when the
 * payload hash was signed, the flexible checksums asked for) and written in batches.
 */
export class DigestSet {
  private readonly md5: Digest | undefined;
  private readonly digests = new Map<ChecksumAlgorithm, Digest>();
  /** Computed elsewhere (a HashWriterPool thread) and handed in by absorb(). */
  private readonly offloaded = new Map<ChecksumAlgorithm | 'MD5', Buffer | undefined>();
  size = 0;

  /** With `offload`, MD5, SHA-1 and SHA-256 are left to whoever calls absorb(); CRCs stay here. */
  constructor(algorithms: Iterable<ChecksumAlgorithm>, offload = false) {
    if (offload) this.offloaded.set('MD5', undefined);
    else this.md5 = createDigest('MD5');
    for (const a of algorithms) {
      if (offload && (a === 'SHA1' || a === 'SHA256')) this.offloaded.set(a, undefined);
      else this.digests.set(a, createDigest(a));
    }
  }

  /** The node:crypto names of the offloaded algorithms. */
  offloadedHashes(): string[] {
    return [...this.offloaded.keys()].map((a) => a.toLowerCase());
  }

  /** Counts the bytes and updates the digests computed here. */
  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    this.md5?.update(chunk);
    for (const d of this.digests.values()) d.update(chunk);
  }

  /** The offloaded digests, by node:crypto name, once every byte went through them. */
  absorb(byName: Map<string, Buffer>): void {
    for (const a of this.offloaded.keys()) this.offloaded.set(a, byName.get(a.toLowerCase()));
  }

  /** md5 as bytes and each checksum as raw bytes; call once, after the last update. */
  finish(): { md5: Buffer; checksums: Map<ChecksumAlgorithm, Buffer> } {
    const checksums = new Map<ChecksumAlgorithm, Buffer>();
    for (const [a, d] of this.digests) checksums.set(a, d.digest());
    for (const [a, d] of this.offloaded) {
      if (!d) throw new Error(`the ${a} digest was offloaded and never absorbed`);
      if (a !== 'MD5') checksums.set(a, d);
    }
    return { md5: this.md5?.digest() ?? this.offloaded.get('MD5')!, checksums };
  }
}

const WRITE_BATCH = 1 << 20;
/** Bytes gathered before they are handed to a pool thread in one message. */
const HANDOFF_BATCH = 256 * 1024;

/** SLEAP_RTC_STORE_DIRECT_IO=0 turns O_DIRECT off (for filesystems that accept it and do it badly). */
const DIRECT_IO = process.env.SLEAP_RTC_STORE_DIRECT_IO !== '0' && constants.O_DIRECT !== undefined;

/**
 * Opens a new body file, with O_DIRECT when asked and the filesystem takes it (a pool thread then
 * writes it in aligned blocks, past the page cache); otherwise as a plain file.
 */
async function openForBody(path: string, direct: boolean): Promise<{ fh: FileHandle; direct: boolean }> {
  if (direct) {
    try {
      return { fh: await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o600), direct: true };
    } catch (e) {
      // EINVAL: this filesystem has no O_DIRECT (tmpfs before Linux 6.6, some FUSE ones). Linux
      // creates the file before it checks the flag: remove that empty file (O_EXCL made it ours).
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      await unlink(path).catch(() => undefined);
    }
  }
  return { fh: await open(path, 'wx', 0o600), direct: false };
}

/** True when `b` is the only view of its whole ArrayBuffer as far as its shape tells. */
function wholeBuffer(b: Buffer): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer);
}

export interface FileSinkOptions {
  /**
   * Hash and write on a HashWriterPool thread (`digests` must have been made with offload):
   * the chunks' ArrayBuffers are transferred there when `ownsChunks`, copied otherwise.
   */
  offload?: HashWriterPool;
  /** Every chunk written is this sink's alone (node:http body chunks are): it may be detached. */
  ownsChunks?: boolean;
}

/**
 * Streams a body into a new file with one writev per batch of buffered chunks and a single
 * fsync at the end, hashing every byte on the way (here or on a pool thread). The caller removes
 * the file on failure.
 */
export class FileSink extends Writable {
  private fh: FileHandle | undefined;
  private job: HashWriteJob | undefined;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;

  constructor(
    private readonly path: string,
    readonly digests: DigestSet,
    private readonly opts: FileSinkOptions = {},
  ) {
    super({ highWaterMark: WRITE_BATCH, decodeStrings: false });
  }

  override _construct(cb: (err?: Error | null) => void): void {
    const pool = this.opts.offload;
    openForBody(this.path, pool !== undefined && DIRECT_IO).then(
      ({ fh, direct }) => {
        this.fh = fh;
        if (pool) this.job = pool.open(fh.fd, this.digests.offloadedHashes(), direct);
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
    if (!this.job) return void writevAll(this.fh!, bufs).then(() => cb(), (e: Error) => cb(e));
    for (const b of bufs) this.batch.push(this.opts.ownsChunks && wholeBuffer(b) ? b : new Uint8Array(b));
    this.batchBytes += n;
    if (this.batchBytes < HANDOFF_BATCH) return cb();
    this.flush().then(() => cb(), (e: Error) => cb(e));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  /** Hands the batch to the pool thread; resolves when the job's window has room again. */
  private flush(): Promise<void> {
    const bufs = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    return bufs.length ? this.job!.write(bufs) : Promise.resolve();
  }

  override _final(cb: (err?: Error | null) => void): void {
    const job = this.job;
    const done = job
      ? this.flush()
          .then(() => job.finish())
          .then((d) => this.digests.absorb(d))
      : this.fh!.sync();
    done.then(() => cb(), (e: Error) => cb(e));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    this.batch = [];
    if (!fh) return cb(err);
    // The pool thread may still be writing to the descriptor: close it only once that stopped.
    const stopped = this.job ? this.job.abort() : Promise.resolve();
    stopped.then(() => fh.close()).then(() => cb(err), () => cb(err));
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
