import { MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE } from './schemas/backend.js';

/**
 * Part size for a multipart upload of `fileSize` bytes: the requested size clamped to
 * S3's 5 MiB..5 GiB, then raised (to a whole MiB) until the file needs at most 10,000 parts.
 */
export function choosePartSize(fileSize: number, requested: number, minimum = MIN_PART_SIZE): number {
  const MiB = 1024 * 1024;
  let size = Math.min(Math.max(requested, minimum, MIN_PART_SIZE), MAX_PART_SIZE);
  const needed = Math.ceil(fileSize / MAX_PARTS);
  if (needed > size) size = Math.ceil(needed / MiB) * MiB;
  if (size > MAX_PART_SIZE) throw new RangeError(`a file of ${fileSize} bytes does not fit in ${MAX_PARTS} parts of at most 5 GiB`);
  return size;
}

/** Number of parts; an empty file still has one (empty) part. */
export function partCount(fileSize: number, partSize: number): number {
  return Math.max(1, Math.ceil(fileSize / partSize));
}

/** Byte range [start, end) of part `n` (1-based). */
export function partRange(n: number, fileSize: number, partSize: number): { start: number; end: number } {
  const start = (n - 1) * partSize;
  return { start, end: Math.min(start + partSize, fileSize) };
}
