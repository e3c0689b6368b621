/**
 * CRC combination: the CRC of A followed by B from crc(A), crc(B) and the length of B, without
 * reading a byte. What a FULL_OBJECT multipart checksum needs: S3 gives the CRC of the whole
 * object, and the store only ever saw the parts' CRCs go by.
 *
 * zlib's crc32_combine() (its multmodp / x2nmodp) generalised to any reflected CRC whose init
 * and final xor are all ones (CRC32, CRC32C, CRC64NVME). Written here because node exposes no
 * combine function and no package in package.json has one. BigInt keeps one implementation for
 * 32 and 64 bits; it runs once per part at completion, and the operator for a part length is
 * cached (every part but the last usually has the same size).
 *
 * Why it works: for such a CRC, crc(A || B) = crc(A) * x^(8 * |B|) mod P  xor  crc(B), the
 * init/xorout terms cancelling because they are equal.
 */
export interface CrcSpec {
  width: 32 | 64;
  /** The reflected polynomial. */
  poly: bigint;
}

export const CRC32_SPEC: CrcSpec = { width: 32, poly: 0xedb88320n };
export const CRC32C_SPEC: CrcSpec = { width: 32, poly: 0x82f63b78n };
export const CRC64NVME_SPEC: CrcSpec = { width: 64, poly: 0x9a6c9329ac4bc9b5n };

/** a * b modulo the polynomial, in the reflected representation (x^0 is the top bit). */
function multModP(spec: CrcSpec, a: bigint, b: bigint): bigint {
  let m = 1n << BigInt(spec.width - 1);
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ spec.poly : b >> 1n;
    if (m === 0n) break;
  }
  return p;
}

/** x^(2^k) mod P for k = 0..63, per spec. */
const powerTables = new Map<CrcSpec, bigint[]>();

function powers(spec: CrcSpec): bigint[] {
  let t = powerTables.get(spec);
  if (!t) {
    t = [1n << BigInt(spec.width - 2)]; // x^1
    for (let k = 1; k < 64; k++) t.push(multModP(spec, t[k - 1], t[k - 1]));
    powerTables.set(spec, t);
  }
  return t;
}

/** x^(8 * bytes) mod P: the operator that shifts a CRC over `bytes` bytes. */
function shiftOperator(spec: CrcSpec, bytes: number): bigint {
  const t = powers(spec);
  let p = 1n << BigInt(spec.width - 1); // x^0
  let n = BigInt(bytes);
  let k = 3; // 8 = 2^3
  while (n > 0n) {
    if (n & 1n) p = multModP(spec, t[k], p);
    n >>= 1n;
    k++;
  }
  return p;
}

/**
 * The CRC of the concatenation of parts, each given as its CRC (the final value, big-endian
 * bytes) and its length. An empty list is the CRC of no bytes: 0.
 */
export function combineCrcs(spec: CrcSpec, parts: Array<{ crc: Uint8Array; size: number }>): Buffer {
  const ops = new Map<number, bigint>();
  let acc = 0n;
  for (const part of parts) {
    let op = ops.get(part.size);
    if (op === undefined) {
      op = shiftOperator(spec, part.size);
      ops.set(part.size, op);
    }
    acc = multModP(spec, op, acc) ^ BigInt('0x' + (Buffer.from(part.crc).toString('hex') || '0'));
  }
  const out = Buffer.alloc(spec.width / 8);
  if (spec.width === 64) out.writeBigUInt64BE(acc);
  else out.writeUInt32BE(Number(acc));
  return out;
}
