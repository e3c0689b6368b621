import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { crc32 as awsCrc32 } from '@aws-crypto/crc32';
import { crc32c as awsCrc32c } from '@aws-crypto/crc32c';
import { choosePartSize, partCount, partRange } from '../../src/core/parts.js';
import { checksumOfRange, crc32c, digestFile, partChecksumHeaders, sha256File } from '../../src/core/transfer/checksum.js';
import { DEFAULT_PART_SIZE } from '../../src/core/transfer/uploadFile.js';

const MiB = 1024 * 1024;
const be32b64 = (n: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
};

describe('checksums', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('CRC32C (slicing-by-8) equals @aws-crypto/crc32c, also when continued across chunks', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the standard check value
    for (const len of [0, 1, 7, 8, 9, 63, 4096 + 5]) {
      const b = randomBytes(len);
      assert.equal(crc32c(b), awsCrc32c(b), `length ${len}`);
      const cut = Math.floor(len / 3);
      assert.equal(crc32c(b.subarray(cut), crc32c(b.subarray(0, cut))), awsCrc32c(b), `continued, length ${len}`);
    }
  });

  test('one pass gives the file SHA-256 and each part\'s MD5 / CRC32 / CRC32C as S3 expects them (base64)', async () => {
    const data = randomBytes(5 * MiB + 12345);
    const path = join(dir, 'f.bin');
    writeFileSync(path, data);
    const partSize = 2 * MiB;
    const d = await digestFile(path, { partSize, algorithm: 'md5' });
    assert.equal(d.sha256, createHash('sha256').update(data).digest('hex'));
    assert.equal((await sha256File(path)).sha256, d.sha256);
    assert.equal(d.partChecksums.length, 3);
    for (let n = 1; n <= 3; n++) {
      const { start, end } = partRange(n, data.length, partSize);
      assert.equal(d.partChecksums[n - 1].value, createHash('md5').update(data.subarray(start, end)).digest('base64'));
    }
    const crc = await digestFile(path, { partSize, algorithm: 'crc32' });
    assert.equal(crc.partChecksums[2].value, be32b64(awsCrc32(data.subarray(4 * MiB))));
    const crcc = await checksumOfRange(path, 2 * MiB, 4 * MiB, 'crc32c');
    assert.equal(crcc.value, be32b64(awsCrc32c(data.subarray(2 * MiB, 4 * MiB))));
    assert.deepEqual(partChecksumHeaders(d.partChecksums[0]), { 'content-md5': d.partChecksums[0].value });
    assert.deepEqual(partChecksumHeaders(crc.partChecksums[0]), { 'x-amz-checksum-crc32': crc.partChecksums[0].value });
  });

  test('a file of exactly N parts has N checksums; an empty file has one (empty) part', async () => {
    const path = join(dir, 'exact.bin');
    writeFileSync(path, randomBytes(4 * MiB));
    assert.equal((await digestFile(path, { partSize: 2 * MiB, algorithm: 'crc32' })).partChecksums.length, 2);
    writeFileSync(path, Buffer.alloc(0));
    const e = await digestFile(path, { partSize: 2 * MiB, algorithm: 'md5' });
    assert.equal(e.partChecksums.length, 1);
    assert.equal(e.partChecksums[0].value, createHash('md5').digest('base64'));
  });
});

describe('part maths for uploads', () => {
  test('the default part is 8 MiB, raised (whole MiB) until the file fits in 10,000 parts', () => {
    assert.equal(DEFAULT_PART_SIZE, 8 * MiB);
    assert.equal(choosePartSize(100 * MiB, DEFAULT_PART_SIZE), 8 * MiB);
    assert.equal(partCount(100 * MiB, 8 * MiB), 13);
    const huge = 200 * 1024 * MiB; // 200 GiB: 8 MiB parts would be 25,600
    const size = choosePartSize(huge, DEFAULT_PART_SIZE);
    assert.ok(size % MiB === 0 && partCount(huge, size) <= 10_000 && partCount(huge, size - MiB) > 10_000, `part size ${size}`);
    assert.equal(choosePartSize(10 * MiB, 1 * MiB), 5 * MiB, 'never below S3\'s 5 MiB');
  });
});
