import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Writes `size` random bytes to `path`, 4 MiB at a time (never the whole file in memory). */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const chunk = 4 * 1024 * 1024;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let left = size; left > 0; left -= chunk) yield randomBytes(Math.min(chunk, left));
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
}
