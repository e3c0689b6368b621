import { close, open, read } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';

/** Where an upload's bytes come from: one range at a time, streamed, never the whole file in memory. */
export interface PartSource {
  readonly size: number;
  /** For messages and logs (a file path). */
  readonly name: string;
  /** A fresh stream of bytes [start, end). */
  open(start: number, end: number): Readable;
  /** Throws AppError 'source_changed' when the source is no longer what it was at the start. */
  checkUnchanged(): Promise<void>;
}

/** Read buffer per open part: small, so memory stays flat whatever the part size. */
const CHUNK = 256 * 1024;
/** Spare read buffers a source keeps (4 MiB): enough for 8 parts in flight with a read ahead each. */
const MAX_SPARE_BUFFERS = 16;

/**
 * A stream whose chunks may be handed back once the consumer is done with them (putStream does,
 * when the socket has taken a chunk), so the same few buffers carry the whole range.
 */
export interface RecyclingReadable extends Readable {
  recycle(chunk: Buffer): void;
}

export function isRecycling(r: Readable): r is RecyclingReadable {
  return typeof (r as Partial<RecyclingReadable>).recycle === 'function';
}

/**
 * Bytes [start, end) of a file in CHUNK-sized reads. Unlike fs.createReadStream, which allocates
 * a new buffer per chunk (8 parts in flight over 1 GiB left ~30 MiB of spent buffers waiting for
 * the GC), it reuses the buffers given back by recycle(); a consumer that keeps its chunks (and
 * never recycles them) just gets fresh ones.
 */
class FileRangeStream extends Readable implements RecyclingReadable {
  private fd?: number;
  private pos: number;
  private reading = false;
  private closeWhenRead?: () => void;
  /** chunk handed out -> the buffer it views. */
  private readonly lent = new WeakMap<Buffer, Buffer>();

  constructor(
    private readonly path: string,
    start: number,
    private readonly end: number,
    /** Spare buffers, shared by the streams of one source (parts come and go; buffers stay). */
    private readonly free: Buffer[],
  ) {
    super({ highWaterMark: CHUNK });
    this.pos = start;
  }

  override _construct(cb: (e?: Error | null) => void): void {
    open(this.path, 'r', (e, fd) => {
      if (e) return cb(e);
      this.fd = fd;
      cb();
    });
  }

  override _read(): void {
    const want = Math.min(CHUNK, this.end - this.pos);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buf = this.free.pop() ?? Buffer.allocUnsafe(CHUNK);
    this.reading = true;
    read(this.fd!, buf, 0, want, this.pos, (e, n) => {
      this.reading = false;
      if (this.closeWhenRead) return this.closeWhenRead();
      if (e) return void this.destroy(e);
      // A file that shrank ends early: putStream reports the byte count that differs.
      if (n === 0) return void this.push(null);
      this.pos += n;
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      this.lent.set(chunk, buf);
      this.push(chunk);
    });
  }

  recycle(chunk: Buffer): void {
    const buf = this.lent.get(chunk);
    if (!buf) return;
    this.lent.delete(chunk);
    if (this.free.length < MAX_SPARE_BUFFERS) this.free.push(buf);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return cb(err);
    const closeFd = (): void => close(fd, () => cb(err));
    // Never close under a pending read: the number could be reused by another open meanwhile.
    if (this.reading) this.closeWhenRead = closeFd;
    else closeFd();
  }
}

export class FilePartSource implements PartSource {
  private readonly spare: Buffer[] = [];

  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly mtimeMs: number,
  ) {}

  static async open(path: string): Promise<FilePartSource> {
    try {
      const s = await stat(path);
      if (!s.isFile()) throw new AppError('bad_request', `${path} is not a regular file`);
      return new FilePartSource(path, s.size, s.mtimeMs);
    } catch (e) {
      if (e instanceof AppError) throw e;
      const code = (e as { code?: string }).code;
      throw new AppError(code === 'ENOENT' ? 'not_found' : 'storage_error', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  open(start: number, end: number): Readable {
    if (end <= start) return Readable.from([]);
    return new FileRangeStream(this.name, start, end, this.spare);
  }

  async checkUnchanged(): Promise<void> {
    const s = await stat(this.name).catch((e: unknown) => {
      throw new AppError('source_changed', `${this.name} is gone (${(e as Error).message}); start a new upload`, { cause: e });
    });
    if (s.size !== this.size || s.mtimeMs !== this.mtimeMs) {
      throw new AppError('source_changed', `${this.name} changed while it was uploading (size ${this.size} -> ${s.size}); start a new upload`, {
        details: { size_before: this.size, size_now: s.size },
      });
    }
  }
}
