import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { crc32 } from '@aws-crypto/crc32';
import { crc32c } from '@aws-crypto/crc32c';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { assertS3Error, clientFor, EMPTY_SHA256, encodeKey, exists, MiB, newBucket, rawExchange, sha256hex, signedHead, signer, tmpFiles } from './helpers.js';

function be32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

/** The SDK's own default (WHEN_SUPPORTED): CRC32 everywhere, aws-chunked trailers for streams. */
function sdkDefault(t: EmbeddedStoreTarget): S3Client {
  return new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    requestChecksumCalculation: 'WHEN_SUPPORTED',
    responseChecksumValidation: 'WHEN_SUPPORTED',
    maxAttempts: 1,
  });
}

/**
 * A PutObject with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body, built here: the seed signature
 * from the Authorization header, then one chained signature per chunk.
 */
async function streamingSignedPut(t: EmbeddedStoreTarget, bucket: string, key: string, data: Buffer, opts: { chunk: number; tamper?: number }) {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += opts.chunk) chunks.push(data.subarray(i, i + opts.chunk));
  chunks.push(Buffer.alloc(0));
  const encodedLength = chunks.reduce((n, c) => n + c.length.toString(16).length + ';chunk-signature='.length + 64 + 2 + c.length + 2, 0);
  const { head, signature, date } = await signedHead(t, {
    method: 'PUT',
    path: `/${bucket}/${encodeKey(key)}`,
    payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) },
  });
  const longDate = date.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const scope = `${longDate.slice(0, 8)}/${t.region}/s3/aws4_request`;
  const s = signer(t);
  const parts: Buffer[] = [];
  let prev = signature;
  for (const [i, c] of chunks.entries()) {
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', longDate, scope, prev, EMPTY_SHA256, sha256hex(c)].join('\n');
    prev = await s.sign(sts, { signingDate: date });
    const sent = opts.tamper === i ? Buffer.concat([c.subarray(0, -1), Buffer.from([c[c.length - 1] ^ 0xff])]) : c;
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${prev}\r\n`), sent, Buffer.from('\r\n'));
  }
  const body = Buffer.concat(parts);
  assert.equal(body.length, encodedLength);
  const fullHead = head.replace(/\r\n\r\n$/, `\r\ncontent-length: ${encodedLength}\r\n\r\n`);
  return rawExchange(t, [fullHead, body], { responses: 1 });
}

describe('store: aws-chunked bodies and checksums', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let sdk: S3Client;
  before(async () => {
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    sdk = sdkDefault(t);
  });
  after(async () => {
    s3?.destroy();
    sdk?.destroy();
    await t?.stop();
  });

  test('SDK default client, stream body: aws-chunked with a CRC32 trailer decodes to the exact bytes and keeps the CRC32', async () => {
    const bucket = await newBucket(s3, 'chk');
    const data = randomBytes(3 * MiB + 11);
    const pieces = [data.subarray(0, 1000), data.subarray(1000, 2 * MiB), data.subarray(2 * MiB)];
    const put = await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: 'stream.bin', Body: Readable.from(pieces), ContentLength: data.length }));
    assert.equal(put.ChecksumCRC32, be32(crc32(data)));
    const got = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, be32(crc32(data)), 'GetObject with checksum mode returns the stored CRC32');
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data), 'the decoded body differs');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stream.bin' }));
    assert.equal(head.ChecksumCRC32, undefined, 'checksums are returned only with x-amz-checksum-mode: ENABLED');
    assert.equal(head.ContentLength, data.length);
  });

  test('SDK default client, UploadPart streams with CRC32C trailers; ListParts returns the part checksums', async () => {
    const bucket = await newBucket(s3, 'chk-mp');
    const { UploadId } = await sdk.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ChecksumAlgorithm: 'CRC32C' }));
    const parts = [randomBytes(5 * MiB), randomBytes(1234)];
    const done = [];
    for (const [i, p] of parts.entries()) {
      const r = await sdk.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: i + 1, Body: Readable.from([p]), ContentLength: p.length, ChecksumAlgorithm: 'CRC32C' }));
      assert.equal(r.ChecksumCRC32C, be32(crc32c(p)));
      done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32C: r.ChecksumCRC32C });
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.ChecksumCRC32C), parts.map((p) => be32(crc32c(p))));
    await sdk.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: done } }));
    const got = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', ChecksumMode: 'ENABLED' }));
    assert.match(got.ChecksumCRC32C ?? '', /-2$/, 'a composite checksum "<b64>-2"');
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts)));
  });

  test('wrong checksums (header CRC32C / SHA256, a trailer CRC32, Content-MD5) fail with BadDigest and store nothing', async () => {
    const bucket = await newBucket(s3, 'chk-bad');
    const data = randomBytes(70_000);
    const other = Buffer.concat([data, Buffer.from('x')]);
    const cases: Array<[string, Partial<PutObjectCommand['input']>]> = [
      ['crc32c', { ChecksumCRC32C: be32(crc32c(other)) }],
      ['sha256', { ChecksumSHA256: createHash('sha256').update(other).digest('base64') }],
      ['md5', { ContentMD5: createHash('md5').update(other).digest('base64') }],
    ];
    for (const [name, extra] of cases) {
      await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: name, Body: data, ...extra })), (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.name === 'BadDigest' && e.$metadata?.httpStatusCode === 400, name);
      assert.equal(await exists(s3, bucket, name), false, `${name}: a refused body was stored`);
    }
    // A wrong trailer, on the wire: unsigned aws-chunked with x-amz-checksum-crc32 after the data.
    const framed = (crc: string): Buffer => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`)]);
    const body = framed(be32(crc32(other)));
    const { head } = await signedHead(t, {
      method: 'PUT',
      path: `/${bucket}/trailer`,
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32', 'content-length': String(body.length) },
    });
    const r = await rawExchange(t, [head, body], { responses: 1 });
    assertS3Error(r.responses[0], 400, 'BadDigest', 'wrong CRC32 trailer');
    assert.equal(await exists(s3, bucket, 'trailer'), false);
    const ok = framed(be32(crc32(data)));
    const r2 = await rawExchange(t, [head, ok], { responses: 1 });
    assert.equal(r2.responses[0]?.status, 200, r2.responses[0]?.body.toString());
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chained chunk signatures verify; a tampered chunk is refused and nothing is stored', async () => {
    const bucket = await newBucket(s3, 'chk-sig');
    const data = randomBytes(200_000);
    const ok = await streamingSignedPut(t, bucket, 'signed stream/ü+k', data, { chunk: 64 * 1024 });
    assert.equal(ok.responses[0]?.status, 200, ok.responses[0]?.body.toString());
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'signed stream/ü+k' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
    const bad = await streamingSignedPut(t, bucket, 'tampered', data, { chunk: 64 * 1024, tamper: 1 });
    assertS3Error(bad.responses[0], 403, 'SignatureDoesNotMatch', 'tampered chunk');
    assert.equal(await exists(s3, bucket, 'tampered'), false);
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('a signed hex payload hash that does not match the body: XAmzContentSHA256Mismatch, nothing stored', async () => {
    const bucket = await newBucket(s3, 'chk-sha');
    const data = Buffer.from('the body that was sent');
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/k`, payloadHash: sha256hex('another body'), headers: { 'content-length': String(data.length) } });
    const r = await rawExchange(t, [head, data], { responses: 1 });
    assertS3Error(r.responses[0], 400, 'XAmzContentSHA256Mismatch', 'sha256 mismatch');
    assert.equal(await exists(s3, bucket, 'k'), false);
  });

  test('a request with no body (no Content-Length) but the signed hash of one: XAmzContentSHA256Mismatch, not skipped; the hash of no bytes passes', async () => {
    const name = `chk-nobody-${randomBytes(4).toString('hex')}`;
    const config = '<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>';
    const { head } = await signedHead(t, { method: 'PUT', path: `/${name}`, payloadHash: sha256hex(config) });
    const r = await rawExchange(t, [head], { responses: 1 });
    assertS3Error(r.responses[0], 400, 'XAmzContentSHA256Mismatch', 'CreateBucket without a body, signed with the hash of one');
    assert.match(r.responses[0]!.body.toString(), new RegExp(`<S3ComputedContentSHA256>${EMPTY_SHA256}</S3ComputedContentSHA256>`));
    await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: name })), (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 404, 'no bucket was created');
    const empty = await signedHead(t, { method: 'PUT', path: `/${name}`, payloadHash: EMPTY_SHA256 });
    const ok = await rawExchange(t, [empty.head], { responses: 1 });
    assert.equal(ok.responses[0]?.status, 200, ok.responses[0]?.body.toString());
    await s3.send(new HeadBucketCommand({ Bucket: name }));
  });
});
