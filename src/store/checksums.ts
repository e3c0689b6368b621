import { createHash, type Hash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32c } from '../core/crc32c.js';
import { Crc64Nvme } from './crc64nvme.js';
import { combineCrcs, CRC32_SPEC, CRC32C_SPEC, CRC64NVME_SPEC, type CrcSpec } from './crcCombine.js';
import { S3Error } from './S3Error.js';
export { crc32c };

/**
 * The S3 flexible checksums this store computes while a body streams in. Values travel as
 * base64 of the big-endian digest (`x-amz-checksum-crc32: AAAAAA==`).
 *
 * CRC32 uses zlib's native crc32, CRC32C and CRC64NVME slicing-by-8 tables here: @aws-crypto/crc32 and
 * /crc32c compute the same values (the tests compare them) but at ~80 MiB/s, which would make
 * every checksummed upload CPU-bound; crc64nvme.ts says why CRC64NVME is not the SDK's.
 */
export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** The algorithms named the way error messages list them: "CRC32, CRC32C, CRC64NVME, SHA1 or SHA256". */
export const ALGORITHM_LIST = `${CHECKSUM_ALGORITHMS.slice(0, -1).join(', ')} or ${CHECKSUM_ALGORITHMS.at(-1)}`;

export function checksumHeader(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

/** 'crc32' | 'x-amz-checksum-crc32' | 'CRC32' -> 'CRC32'; undefined when unknown. */
export function parseAlgorithm(name: string): ChecksumAlgorithm | undefined {
  const bare = name.trim().toUpperCase().replace(/^X-AMZ-CHECKSUM-/, '');
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(bare) ? (bare as ChecksumAlgorithm) : undefined;
}

/**
 * The algorithm a request names in `header` (x-amz-checksum-algorithm, x-amz-sdk-checksum-algorithm);
 * undefined when the header is absent, InvalidRequest when it names no algorithm of this store.
 */
export function algorithmHeader(h: Map<string, string>, header: string): ChecksumAlgorithm | undefined {
  const raw = h.get(header);
  if (raw === undefined) return undefined;
  const alg = parseAlgorithm(raw);
  if (!alg) throw new S3Error('InvalidRequest', `${header} "${raw.slice(0, 40)}" is not supported by this store; use ${ALGORITHM_LIST}`);
  return alg;
}

/** Bytes of each algorithm's digest: how long a valid base64 value decodes. */
export const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };


export interface Digest {
  update(chunk: Uint8Array): void;
  /** The digest as bytes; call once. */
  digest(): Buffer;
}


class CrcDigest implements Digest {
  private value = 0;
  constructor(private readonly fn: (b: Uint8Array, v: number) => number) {}
  update(chunk: Uint8Array): void {
    this.value = this.fn(chunk, this.value);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out;
  }
}

class HashDigest implements Digest {
  private readonly h: Hash;
  constructor(alg: string) {
    this.h = createHash(alg);
  }
  update(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  digest(): Buffer {
    return this.h.digest();
  }
}

export function createDigest(alg: ChecksumAlgorithm | 'MD5'): Digest {
  switch (alg) {
    case 'CRC32':
      return new CrcDigest((b, v) => zlibCrc32(b, v));
    case 'CRC32C':
      return new CrcDigest(crc32c);
    case 'CRC64NVME':
      return new Crc64Nvme();
    case 'SHA1':
      return new HashDigest('sha1');
    case 'SHA256':
      return new HashDigest('sha256');
    case 'MD5':
      return new HashDigest('md5');
  }
}

/** base64 checksum of a whole buffer. */
export function checksumOf(alg: ChecksumAlgorithm, data: Uint8Array): string {
  const d = createDigest(alg);
  d.update(data);
  return d.digest().toString('base64');
}

/** True when `value` is base64 of exactly the digest length of `alg`. */
export function isValidChecksumValue(alg: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  const raw = Buffer.from(value, 'base64');
  return raw.length === DIGEST_BYTES[alg] && raw.toString('base64') === value;
}

/**
 * S3's COMPOSITE checksum of a multipart object: the algorithm over the concatenated binary
 * part checksums, then "-<part count>".
 */
export function compositeChecksum(alg: ChecksumAlgorithm, partValues: string[]): string {
  const d = createDigest(alg);
  for (const v of partValues) d.update(Buffer.from(v, 'base64'));
  return `${d.digest().toString('base64')}-${partValues.length}`;
}

/** How a multipart object's checksum is made: of the part checksums, or of the whole object. */
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

const CRC_SPECS: Partial<Record<ChecksumAlgorithm, CrcSpec>> = { CRC32: CRC32_SPEC, CRC32C: CRC32C_SPEC, CRC64NVME: CRC64NVME_SPEC };

/**
 * The checksum types S3 allows per algorithm on a multipart upload, the default first: a CRC
 * can be combined into the whole object's (FULL_OBJECT), a SHA cannot; CRC64NVME is only ever
 * FULL_OBJECT.
 */
export function multipartChecksumTypes(alg: ChecksumAlgorithm): readonly ChecksumType[] {
  if (alg === 'CRC64NVME') return ['FULL_OBJECT'];
  return CRC_SPECS[alg] ? ['COMPOSITE', 'FULL_OBJECT'] : ['COMPOSITE'];
}

/**
 * S3's FULL_OBJECT checksum of a multipart object: the CRC of all its bytes, combined from the
 * parts' CRCs and sizes (crcCombine.ts) without reading the parts again.
 */
export function fullObjectChecksum(alg: ChecksumAlgorithm, parts: Array<{ value: string; size: number }>): string {
  const spec = CRC_SPECS[alg];
  if (!spec) throw new Error(`${alg} has no FULL_OBJECT multipart checksum`);
  return combineCrcs(spec, parts.map((p) => ({ crc: Buffer.from(p.value, 'base64'), size: p.size }))).toString('base64');
}
