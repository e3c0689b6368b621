import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { crc32 } from '@aws-crypto/crc32';
import { crc32c as awsCrc32c } from '@aws-crypto/crc32c';
import { checksumOf, compositeChecksum, fullObjectChecksum, isValidChecksumValue, multipartChecksumTypes, parseAlgorithm } from '../../src/store/checksums.js';
import { Crc64Nvme, crc64nvme } from '../../src/store/crc64nvme.js';
import { uploadChecksumOf, type UploadInfo } from '../../src/store/Multipart.js';
import { completeBodyHeaders, completeChecksumRequest, objectChecksum, uploadChecksum, type ChecksummedPart } from '../../src/store/multipartChecksum.js';
import { isS3Error } from '../../src/store/S3Error.js';

/**
 * CRC64NVME, CRC combination (FULL_OBJECT multipart checksums) and the rules of S3's multipart
 * checksum types, in process. The store's CRC64NVME against the vectors published with other
 * implementations; its agreement with the AWS SDK's own CRC64NVME is checked end to end by the
 * conformance suite (the SDK computes it, the store verifies it).
 */

function code(e: unknown): string {
  return isS3Error(e) ? `${e.s3Code}: ${e.message}` : `not an S3Error: ${String(e)}`;
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

describe('CRC64NVME', () => {
  test('known values: the catalogue check ("123456789"), AWS CRT and SPDK vectors, the empty input', () => {
    const vectors: Array<[Buffer, string]> = [
      [Buffer.from('123456789'), 'ae8b14860a799888'], // CRC RevEng catalogue, CRC-64/NVME check
      [Buffer.alloc(32), 'cf3473434d4ecf3b'], // aws-c-checksums: 32 zero bytes
      [Buffer.from('aaaaaaaaaa'), '0c1a80036d65c555'], // aws-c-s3: NIST test case 1
      [Buffer.from('hello world!'), 'd9160d1fa8e418e3'], // crc64fast-nvme
      [Buffer.alloc(4096), '6482d367eb22b64e'], // SPDK: 4 KiB of 0x00
      [Buffer.alloc(4096, 0xff), 'c0ddba7302eca3ac'], // SPDK: 4 KiB of 0xff
      [Buffer.alloc(0), '0000000000000000'],
    ];
    for (const [data, hex] of vectors) assert.equal(crc64nvme(data).toString('hex'), hex, `CRC64NVME of ${data.length} bytes`);
    assert.equal(checksumOf('CRC64NVME', Buffer.from('123456789')), Buffer.from('ae8b14860a799888', 'hex').toString('base64'));
  });

  test('fed in pieces of any size it equals the whole (slicing-by-8 and the byte loop agree)', () => {
    const data = randomBytes(10_000);
    const whole = crc64nvme(data).toString('hex');
    for (const piece of [1, 3, 7, 8, 9, 1000, 4097]) {
      const c = new Crc64Nvme();
      for (let i = 0; i < data.length; i += piece) c.update(data.subarray(i, i + piece));
      assert.equal(c.digest().toString('hex'), whole, `pieces of ${piece}`);
    }
  });

  test('is an algorithm of the store: header name, value length, multipart type FULL_OBJECT only', () => {
    assert.equal(parseAlgorithm('x-amz-checksum-crc64nvme'), 'CRC64NVME');
    assert.ok(isValidChecksumValue('CRC64NVME', 'AAAAAAAAAAA='));
    assert.ok(!isValidChecksumValue('CRC64NVME', 'AAAAAA=='));
    assert.deepEqual(multipartChecksumTypes('CRC64NVME'), ['FULL_OBJECT']);
    assert.deepEqual(multipartChecksumTypes('CRC32'), ['COMPOSITE', 'FULL_OBJECT']);
    assert.deepEqual(multipartChecksumTypes('SHA256'), ['COMPOSITE']);
  });
});

describe('FULL_OBJECT checksums combined from the parts', () => {
  test('CRC32, CRC32C and CRC64NVME of the concatenation, from part CRCs and sizes only (empty and 1-byte parts too)', () => {
    const whole = { CRC32: (b: Buffer) => be32(crc32(b)), CRC32C: (b: Buffer) => be32(awsCrc32c(b)), CRC64NVME: crc64nvme } as const;
    for (const sizes of [[0], [1], [5 * 1024 * 1024, 5 * 1024 * 1024, 17], [1, 0, 3, 8, 9, 1024], [123457]]) {
      const parts = sizes.map((n) => randomBytes(n));
      const all = Buffer.concat(parts);
      for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
        const got = fullObjectChecksum(alg, parts.map((p) => ({ value: checksumOf(alg, p), size: p.length })));
        assert.equal(got, whole[alg](all).toString('base64'), `${alg} of parts ${sizes.join('+')}`);
      }
    }
  });

  test('SHA1 and SHA256 have no FULL_OBJECT checksum', () => {
    assert.throws(() => fullObjectChecksum('SHA256', [{ value: checksumOf('SHA256', Buffer.from('x')), size: 1 }]));
  });
});

describe('multipart checksum types (CreateMultipartUpload and CompleteMultipartUpload headers)', () => {
  const h = (o: Record<string, string>) => new Map(Object.entries(o));

  test('CreateMultipartUpload: defaults (CRC32 COMPOSITE, CRC64NVME FULL_OBJECT), and what AWS refuses with its words', () => {
    assert.equal(uploadChecksum(h({})), undefined);
    assert.deepEqual(uploadChecksum(h({ 'x-amz-checksum-algorithm': 'crc32' })), { algorithm: 'CRC32', type: 'COMPOSITE' });
    assert.deepEqual(uploadChecksum(h({ 'x-amz-checksum-algorithm': 'CRC64NVME' })), { algorithm: 'CRC64NVME', type: 'FULL_OBJECT' });
    assert.deepEqual(uploadChecksum(h({ 'x-amz-checksum-algorithm': 'CRC32C', 'x-amz-checksum-type': 'FULL_OBJECT' })), { algorithm: 'CRC32C', type: 'FULL_OBJECT' });
    const refused: Array<[Record<string, string>, RegExp]> = [
      [{ 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' }, /^InvalidRequest: The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm/],
      [{ 'x-amz-checksum-algorithm': 'SHA1', 'x-amz-checksum-type': 'FULL_OBJECT' }, /^InvalidRequest: The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm/],
      [{ 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' }, /^InvalidRequest: The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm/],
      [{ 'x-amz-checksum-type': 'FULL_OBJECT' }, /^InvalidRequest: The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header/],
      [{ 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'WHOLE' }, /^InvalidRequest: Value for x-amz-checksum-type header is invalid/],
      [{ 'x-amz-checksum-algorithm': 'MD4' }, /^InvalidRequest: x-amz-checksum-algorithm "MD4" is not supported by this store; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256/],
    ];
    for (const [headers, want] of refused) assert.throws(() => uploadChecksum(h(headers)), (e) => want.test(code(e)), JSON.stringify(headers));
  });

  test('an upload.json from before checksum types (an algorithm, no type) is COMPOSITE, as it was made', () => {
    const info = { uploadId: 'u', bucket: 'b', key: 'k', initiated: '', contentType: '', headers: {}, metadata: {} } satisfies UploadInfo;
    assert.equal(uploadChecksumOf(info), undefined);
    assert.deepEqual(uploadChecksumOf({ ...info, checksumAlgorithm: 'SHA256' }), { algorithm: 'SHA256', type: 'COMPOSITE' });
    assert.deepEqual(uploadChecksumOf({ ...info, checksumAlgorithm: 'CRC32', checksumType: 'FULL_OBJECT' }), { algorithm: 'CRC32', type: 'FULL_OBJECT' });
  });

  test('CompleteMultipartUpload: x-amz-checksum-* is the object\'s checksum (left out of the XML body\'s plan), one at most; x-amz-mp-object-size', () => {
    const v = checksumOf('CRC32', Buffer.from('x'));
    const headers = h({ 'x-amz-checksum-crc32': v, 'x-amz-checksum-type': 'FULL_OBJECT', 'x-amz-mp-object-size': '12', 'content-md5': 'm' });
    assert.deepEqual(completeChecksumRequest(headers), { type: 'FULL_OBJECT', claimed: { algorithm: 'CRC32', value: v }, objectSize: 12 });
    assert.deepEqual([...completeBodyHeaders(headers).keys()], ['x-amz-mp-object-size', 'content-md5']);
    assert.deepEqual(completeChecksumRequest(h({ 'x-amz-checksum-sha256': `${checksumOf('SHA256', Buffer.from('x'))}-3` })).claimed?.algorithm, 'SHA256', 'a composite value with its -<n>');
    assert.throws(() => completeChecksumRequest(h({ 'x-amz-checksum-crc32': v, 'x-amz-checksum-crc32c': v })), (e) => /Multiple checksum Types are not allowed/.test(code(e)));
    assert.throws(() => completeChecksumRequest(h({ 'x-amz-checksum-crc64nvme': v })), (e) => /^InvalidRequest: Value for x-amz-checksum-crc64nvme header is invalid/.test(code(e)));
    assert.throws(() => completeChecksumRequest(h({ 'x-amz-mp-object-size': '-1' })), (e) => /x-amz-mp-object-size header is invalid/.test(code(e)));
  });

  const parts = (alg: 'CRC32' | 'SHA256' | 'CRC64NVME', bodies: Buffer[]): ChecksummedPart[] => bodies.map((b, i) => ({ partNumber: i + 1, size: b.length, checksums: { [alg]: checksumOf(alg, b) } }));
  const bodies = [randomBytes(1000), randomBytes(33)];

  test('objectChecksum: COMPOSITE and FULL_OBJECT values, the claim checked (BadDigest), the mode and algorithm matched, the size checked', () => {
    const crcParts = parts('CRC32', bodies);
    const composite = compositeChecksum('CRC32', crcParts.map((p) => p.checksums.CRC32!));
    const full = checksumOf('CRC32', Buffer.concat(bodies));
    assert.deepEqual(objectChecksum({ algorithm: 'CRC32', type: 'COMPOSITE' }, crcParts, {}), { checksums: { CRC32: composite }, checksumType: 'COMPOSITE' });
    assert.deepEqual(objectChecksum({ algorithm: 'CRC32', type: 'FULL_OBJECT' }, crcParts, { claimed: { algorithm: 'CRC32', value: full } }), { checksums: { CRC32: full }, checksumType: 'FULL_OBJECT' });
    // A composite claim may leave out its "-<n>".
    objectChecksum({ algorithm: 'CRC32', type: 'COMPOSITE' }, crcParts, { claimed: { algorithm: 'CRC32', value: composite.replace(/-2$/, '') } });
    const cases: Array<[Parameters<typeof objectChecksum>[0], Parameters<typeof objectChecksum>[2], RegExp]> = [
      [{ algorithm: 'CRC32', type: 'FULL_OBJECT' }, { claimed: { algorithm: 'CRC32', value: checksumOf('CRC32', bodies[0]) } }, /^BadDigest: The CRC32 you specified did not match the calculated checksum/],
      [{ algorithm: 'CRC32', type: 'COMPOSITE' }, { claimed: { algorithm: 'CRC32', value: full } }, /^BadDigest/],
      [{ algorithm: 'CRC32', type: 'COMPOSITE' }, { type: 'FULL_OBJECT' }, /^InvalidRequest: The upload was created using the COMPOSITE checksum mode\. The complete request must use the same checksum mode\./],
      [{ algorithm: 'CRC32', type: 'FULL_OBJECT' }, { claimed: { algorithm: 'CRC32C', value: full } }, /^InvalidRequest: Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: crc32c/],
      [{ algorithm: 'CRC32', type: 'FULL_OBJECT' }, { objectSize: 1032 }, /^InvalidRequest: The provided 'x-amz-mp-object-size' header value 1032 does not match what was computed: 1033/],
      [undefined, { type: 'FULL_OBJECT' }, /^InvalidRequest: The x-amz-checksum-type header of a complete request needs/],
    ];
    for (const [created, req, want] of cases) assert.throws(() => objectChecksum(created, crcParts, req), (e) => want.test(code(e)), JSON.stringify([created, req]));
  });

  test('objectChecksum: an upload created without an algorithm gets one only when every part carries the claimed one', () => {
    assert.deepEqual(objectChecksum(undefined, parts('CRC32', bodies), {}), { checksums: {} });
    const full = crc64nvme(Buffer.concat(bodies)).toString('base64');
    assert.deepEqual(objectChecksum(undefined, parts('CRC64NVME', bodies), { claimed: { algorithm: 'CRC64NVME', value: full } }), { checksums: { CRC64NVME: full }, checksumType: 'FULL_OBJECT' });
    assert.throws(
      () => objectChecksum(undefined, parts('CRC32', bodies), { claimed: { algorithm: 'SHA256', value: checksumOf('SHA256', bodies[0]) } }),
      (e) => /^InvalidRequest: The upload was created without x-amz-checksum-algorithm and part 1 was sent without x-amz-checksum-sha256/.test(code(e)),
    );
  });
});
