import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { AppError } from '../errors.js';
import { partCount } from '../parts.js';
import { throwIfAborted } from './retry.js';
import { crc32c } from '../crc32c.js';
export { crc32c };

/**
 * Checksums of the transfer engine: the SHA-256 of a whole file (stored in the object's
 * metadata, verified after downloads) and one checksum per part, sent with the part so that the
 * S3 server refuses a body damaged on the way.
 *
 * Which per-part checksum (see PartChecksumAlgorithm): `crc32` (the default) travels as
 * x-amz-checksum-crc32, computed with zlib's native crc32 (~0.3 CPU s/GiB) in the same pass as the
 * SHA-256. AWS refuses an unsigned x-amz-checksum-* on a presigned URL (403 HeadersNotSigned), so
 * the backend signs the value into each part URL (upload-urls `part_checksums`) and S3Transport
 * signs it itself. Servers that verify it (AWS, the embedded store) echo it in the answer; Ceph
 * RGW 16 ignores it, and there the uploader compares the part's ETag (the MD5 of the bytes RGW
 * received) with the MD5 of the part on disk, on a worker thread (Md5Worker), and sends the part
 * again when they differ. `md5` travels as Content-MD5, verified by every server, but hashing it
 * in the first pass costs ~2.5 CPU s/GiB on the one JS thread before the first byte is sent.
 * CRC32C is a slicing-by-8 table in JavaScript (~1 CPU s/GiB).
 */
export type PartChecksumAlgorithm = 'md5' | 'crc32' | 'crc32c' | 'none';

export interface PartChecksum {
  algorithm: Exclude<PartChecksumAlgorithm, 'none'>;
  /** base64 of the big-endian digest, as S3 expects it in headers. */
  value: string;
}

export function partChecksumHeaders(c: PartChecksum | undefined): Record<string, string> {
  if (!c) return {};
  if (c.algorithm === 'md5') return { 'content-md5': c.value };
  return { [`x-amz-checksum-${c.algorithm}`]: c.value };
}

/**
 * Did the server check the part? Content-MD5 is verified by every S3 server (a 200 means it
 * matched); an x-amz-checksum-* counts only when the answer echoes it with our value (AWS and the
 * embedded store do; Ceph RGW 16 ignores the header and echoes nothing).
 */
export function serverVerified(c: PartChecksum | undefined, answerHeaders: Record<string, string | string[] | undefined>): boolean {
  if (!c) return false;
  if (c.algorithm === 'md5') return true;
  return answerHeaders[`x-amz-checksum-${c.algorithm}`] === c.value;
}


export interface PartHasher {
  update(b: Uint8Array): void;
  digest(): PartChecksum;
}

export function createPartHasher(algorithm: Exclude<PartChecksumAlgorithm, 'none'>): PartHasher {
  if (algorithm === 'md5') {
    const h = createHash('md5');
    return { update: (b) => void h.update(b), digest: () => ({ algorithm, value: h.digest('base64') }) };
  }
  const fn = algorithm === 'crc32' ? (b: Uint8Array, v: number) => zlibCrc32(b, v) : crc32c;
  let v = 0;
  return {
    update: (b) => void (v = fn(b, v)),
    digest: () => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(v >>> 0);
      return { algorithm, value: out.toString('base64') };
    },
  };
}

const READ_CHUNK = 1024 * 1024;

/**
 * Reads bytes [range.start, range.end) (the whole file without a range) into ONE reused 1 MiB
 * buffer and hands each chunk to `fn`, which must use it at once (hash updates are synchronous).
 * A read stream would allocate a fresh buffer per chunk: over a 1 GiB pass the garbage ones,
 * waiting for the GC, held ~40 MiB of RSS.
 */
async function forEachChunk(path: string, range: { start: number; end: number } | undefined, signal: AbortSignal | undefined, fn: (b: Buffer) => void): Promise<number> {
  if (range && range.end <= range.start) return 0;
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let fh: FileHandle | undefined;
  let n = 0;
  try {
    fh = await open(path, 'r');
    let pos = range?.start ?? 0;
    for (;;) {
      const want = range ? Math.min(READ_CHUNK, range.end - pos) : READ_CHUNK;
      if (want <= 0) break;
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      throwIfAborted(signal);
      if (bytesRead === 0) break;
      fn(buf.subarray(0, bytesRead));
      pos += bytesRead;
      n += bytesRead;
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('storage_error', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh?.close();
  }
  return n;
}

/** Streaming SHA-256 (hex) of a whole file: memory stays at one 1 MiB read buffer. */
export async function sha256File(path: string, opts: { signal?: AbortSignal } = {}): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  const size = await forEachChunk(path, undefined, opts.signal, (b) => h.update(b));
  return { sha256: h.digest('hex'), size };
}

export interface FileDigest {
  size: number;
  sha256: string;
  partSize: number;
  /** partChecksums[n - 1] is part n's checksum; empty when the algorithm is 'none'. */
  partChecksums: PartChecksum[];
}

/**
 * One pass over a file: its SHA-256 and, for the given part size, each part's checksum, so an
 * upload does not read any part twice. `onBytes` reports progress of the pass.
 */
export async function digestFile(path: string, o: { partSize: number; algorithm: PartChecksumAlgorithm; signal?: AbortSignal; onBytes?: (n: number) => void }): Promise<FileDigest> {
  const whole = createHash('sha256');
  const parts: PartChecksum[] = [];
  let hasher = o.algorithm === 'none' ? undefined : createPartHasher(o.algorithm);
  let inPart = 0;
  const size = await forEachChunk(path, undefined, o.signal, (b) => {
    whole.update(b);
    o.onBytes?.(b.length);
    if (!hasher) return;
    let off = 0;
    while (off < b.length) {
      const take = Math.min(b.length - off, o.partSize - inPart);
      hasher.update(b.subarray(off, off + take));
      off += take;
      inPart += take;
      if (inPart === o.partSize) {
        parts.push(hasher.digest());
        hasher = createPartHasher(o.algorithm as Exclude<PartChecksumAlgorithm, 'none'>);
        inPart = 0;
      }
    }
  });
  // The last (short or empty) part; a file of exactly N parts has no extra one.
  if (hasher && parts.length < partCount(size, o.partSize)) parts.push(hasher.digest());
  return { size, sha256: whole.digest('hex'), partSize: o.partSize, partChecksums: parts };
}

/** The checksum of bytes [start, end) of a file. */
export async function checksumOfRange(path: string, start: number, end: number, algorithm: Exclude<PartChecksumAlgorithm, 'none'>, signal?: AbortSignal): Promise<PartChecksum> {
  const h = createPartHasher(algorithm);
  await forEachChunk(path, { start, end }, signal, (b) => h.update(b));
  return h.digest();
}

/** The hex form of a base64 MD5: what S3 returns as a (non-KMS) part ETag. */
export function md5Hex(c: PartChecksum): string | undefined {
  return c.algorithm === 'md5' ? Buffer.from(c.value, 'base64').toString('hex') : undefined;
}
