import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { assertS3Error, clientFor, exists, MiB, newBucket, rawExchange, sha256hex, signedHead, tmpFiles, xmlCode } from './helpers.js';

/**
 * A signature covers only the headers it lists: an x-amz-* header it does not list (metadata, an
 * ACL, a checksum) could have been added by anyone on the way. AWS refuses the request:
 * 403 AccessDenied, "There were headers present in the request which were not signed", with the
 * names in <HeadersNotSigned>. Raw requests over a socket (signed by hand with the SDK's signer)
 * and presigned URLs used with fetch; the SDK's own requests keep working.
 */

/** Adds header lines to a signed request head, after the signature was computed. */
function withUnsigned(head: string, lines: string[]): string {
  return head.replace(/\r\n\r\n$/, `\r\n${lines.join('\r\n')}\r\n\r\n`);
}

function headersNotSigned(body: Buffer | string): string | undefined {
  return /<HeadersNotSigned>([^<]*)<\/HeadersNotSigned>/.exec(body.toString())?.[1];
}

function crc32b64(b: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
}

describe('store: x-amz-* headers the signature does not cover are refused (HeadersNotSigned)', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    bucket = await newBucket(s3, 'hns');
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
  });

  test('header-signed PUT: a signed x-amz-meta-* is stored; an unsigned one (any case), an unsigned checksum or ACL: 403 AccessDenied naming them, nothing stored', async () => {
    const data = Buffer.from('signed body');
    const spec = (key: string) => ({ method: 'PUT', path: `/${bucket}/${key}`, payloadHash: sha256hex(data), headers: { 'content-length': String(data.length), 'x-amz-meta-note': 'signed' } });
    const ok = await signedHead(t, spec('ok'));
    const r = await rawExchange(t, [ok.head, data], { responses: 1 });
    assert.equal(r.responses[0]?.status, 200, r.responses[0]?.body.toString());
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ok' }))).Metadata?.note, 'signed');

    const cases: Array<[string, string[], string]> = [
      ['unsigned metadata', ['x-amz-meta-evil: 1'], 'x-amz-meta-evil'],
      ['unsigned metadata, mixed case', ['X-Amz-Meta-Evil: 1'], 'x-amz-meta-evil'],
      ['an unsigned checksum', [`x-amz-checksum-crc32: ${crc32b64(data)}`], 'x-amz-checksum-crc32'],
      ['two unsigned headers', ['x-amz-storage-class: STANDARD', 'x-amz-acl: public-read'], 'x-amz-acl, x-amz-storage-class'],
    ];
    for (const [i, [what, lines, names]] of cases.entries()) {
      const key = `refused-${i}`;
      const { head } = await signedHead(t, spec(key));
      const res = await rawExchange(t, [withUnsigned(head, lines), data], { responses: 1 });
      assertS3Error(res.responses[0], 403, 'AccessDenied', what);
      const body = res.responses[0]!.body.toString();
      assert.equal(headersNotSigned(body), names, `${what}: ${body}`);
      assert.match(body, /There were headers present in the request which were not signed: .*Sign every x-amz-\* header you send \(list it in SignedHeaders\)/, what);
      assert.equal(await exists(s3, bucket, key), false, `${what}: not stored`);
    }
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('presigned PUT: plain, with hoisted metadata and with a signed checksum header it works; an unsigned x-amz-* header: 403 HeadersNotSigned, nothing stored', async () => {
    const data = randomBytes(100_000);
    const plain = await fetch(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'pre-plain' }), { expiresIn: 300 }), { method: 'PUT', body: data });
    assert.equal(plain.status, 200, await plain.text());

    // The presigner hoists x-amz-meta-* into the query: signed there, applied as headers.
    const meta = await fetch(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'pre-meta', Metadata: { note: 'hoisted' } }), { expiresIn: 300 }), { method: 'PUT', body: data });
    assert.equal(meta.status, 200, await meta.text());
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'pre-meta' }))).Metadata?.note, 'hoisted');

    // As the backend signs part URLs: the checksum header kept in X-Amz-SignedHeaders.
    const checksumUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'pre-crc', ChecksumCRC32: crc32b64(data) }), { expiresIn: 300, unhoistableHeaders: new Set(['x-amz-checksum-crc32']) });
    const crc = await fetch(checksumUrl, { method: 'PUT', body: data, headers: { 'x-amz-checksum-crc32': crc32b64(data) } });
    assert.equal(crc.status, 200, await crc.text());
    assert.equal(crc.headers.get('x-amz-checksum-crc32'), crc32b64(data));

    const cases: Array<[string, Record<string, string>, string]> = [
      ['unsigned metadata', { 'x-amz-meta-evil': '1' }, 'x-amz-meta-evil'],
      ['a checksum the URL was not signed with', { 'x-amz-checksum-crc32': crc32b64(data) }, 'x-amz-checksum-crc32'],
      ['an unsigned ACL', { 'x-amz-acl': 'public-read' }, 'x-amz-acl'],
    ];
    for (const [i, [what, headers, names]] of cases.entries()) {
      const key = `pre-refused-${i}`;
      const res = await fetch(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 }), { method: 'PUT', body: data, headers });
      const text = await res.text();
      assert.equal(res.status, 403, `${what}: ${text}`);
      assert.equal(xmlCode(text), 'AccessDenied', what);
      assert.equal(headersNotSigned(text), names, `${what}: ${text}`);
      assert.match(text, /list it in X-Amz-SignedHeaders when you presign the URL/, what);
      assert.equal(await exists(s3, bucket, key), false, `${what}: not stored`);
    }
  });

  test('x-amz-content-sha256 is the one header S3 takes unsigned: a presigned GET that sends it still works', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'pre-plain' }), { expiresIn: 300 });
    const res = await fetch(url, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    assert.equal(res.status, 200, await res.text());
  });

  test("the SDK's own requests sign every x-amz-* header they send: metadata, checksums, multipart", async () => {
    const data = randomBytes(6 * MiB);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk', Body: data, Metadata: { a: '1' }, ChecksumAlgorithm: 'CRC32', StorageClass: 'STANDARD' }));
    assert.equal(put.ChecksumCRC32, crc32b64(data));
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'sdk-mp', Metadata: { b: '2' }, ChecksumAlgorithm: 'CRC32C' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'sdk-mp', UploadId: mp.UploadId, PartNumber: 1, Body: data, ChecksumAlgorithm: 'CRC32C' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'sdk-mp', UploadId: mp.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag, ChecksumCRC32C: p1.ChecksumCRC32C }] } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'sdk-mp' }));
    assert.equal(head.Metadata?.b, '2');
    assert.equal(head.ContentLength, data.length);
  });
});
