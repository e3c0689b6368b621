import { createReadStream } from 'node:fs';
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
const HIGH_WATER_MARK = 256 * 1024;

export class FilePartSource implements PartSource {
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
    return createReadStream(this.name, { start, end: end - 1, highWaterMark: HIGH_WATER_MARK });
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
