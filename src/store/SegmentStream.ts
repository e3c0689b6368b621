import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { gcPacer } from './GcPacer.js';

/** A byte range [from, to] (inclusive) of one segment file. */
export interface SegmentSlice {
  path: string;
  from: number;
  to: number;
}

const CHUNK = 256 * 1024;

/**
 * Reads slices of segment files one after the other as one body: one file open at a time, one
 * read of at most 256 KiB per _read, so a download holds well under a MiB whatever its size.
 */
export class SegmentStream extends Readable {
  private index = 0;
  private pos: number;
  private fh: FileHandle | undefined;

  constructor(private readonly slices: SegmentSlice[]) {
    super({ highWaterMark: CHUNK });
    this.pos = slices[0]?.from ?? 0;
  }

  override _read(): void {
    this.next().catch((e: Error) => this.destroy(e));
  }

  private async next(): Promise<void> {
    while (this.index < this.slices.length) {
      const s = this.slices[this.index];
      if (this.pos > s.to) {
        await this.fh?.close();
        this.fh = undefined;
        this.index++;
        this.pos = this.slices[this.index]?.from ?? 0;
        continue;
      }
      this.fh ??= await open(s.path, 'r');
      const n = Math.min(CHUNK, s.to - this.pos + 1);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await this.fh.read(buf, 0, n, this.pos);
      if (bytesRead === 0) throw new Error(`segment ${s.path} ends before byte ${this.pos}`);
      this.pos += bytesRead;
      gcPacer.add(bytesRead);
      this.push(bytesRead === n ? buf : buf.subarray(0, bytesRead));
      return;
    }
    this.push(null);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) return cb(err);
    fh.close().then(() => cb(err), () => cb(err));
  }
}
