import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  ListPartsCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checksumOf, compositeChecksum } from '../../src/store/checksums.js';
import { parseCopyRange, parseCopySource } from '../../src/store/copySource.js';
import { isS3Error } from '../../src/store/S3Error.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { assertS3Error, clientFor, md5hex, MiB, newBucket, rawExchange, signedHead, tmpFiles } from './helpers.js';

/**
 * The embedded store's own side of CopyObject / UploadPartCopy (the behaviour shared with Ceph
 * RGW is in the conformance suite, test/conformance/s3/copy.ts): copies are hard links that
 * outlive their source and a crash, a requested checksum is computed, bad requests are told
 * apart.
 */

function code(e: unknown): string {
  return isS3Error(e) ? e.s3Code : `not an S3Error: ${String(e)}`;
}

describe('copy source parsing (in process)', () => {
  test('x-amz-copy-source: per-segment or whole encoding, a leading "/", raw UTF-8, versionId=null; the rest refused', () => {
    assert.deepEqual(parseCopySource(`b-1/dir%20x/${encodeURIComponent('ключ')}%2B.bin`), { bucket: 'b-1', key: 'dir x/ключ+.bin' });
    assert.deepEqual(parseCopySource('/b-1/a+b'), { bucket: 'b-1', key: 'a+b' }, '"+" is a plus, not a space');
    assert.deepEqual(parseCopySource(encodeURIComponent('b-1/x/y z')), { bucket: 'b-1', key: 'x/y z' });
    assert.deepEqual(parseCopySource(encodeURIComponent('/b-1/x')), { bucket: 'b-1', key: 'x' });
    assert.deepEqual(parseCopySource(Buffer.from('b-1/ключ').toString('latin1')), { bucket: 'b-1', key: 'ключ' }, 'raw UTF-8 as node:http reads it (latin1)');
    assert.deepEqual(parseCopySource('b-1/k%3Fq?versionId=null'), { bucket: 'b-1', key: 'k?q' });
    for (const bad of ['', '/', 'b-1', 'b-1/', '/b-1/', 'b-1/%zz', 'b-1/k?versionId=abc', 'b-1/k?partNumber=1', 'arn:aws:s3:us-east-1:1:accesspoint/ap/object/k']) {
      assert.throws(() => parseCopySource(bad), (e) => code(e) === 'InvalidArgument', `"${bad}" was accepted`);
    }
    assert.throws(() => parseCopySource('B_AD/k'), (e) => code(e) === 'InvalidBucketName');
    assert.throws(() => parseCopySource('b-1/a/../b'), (e) => code(e) === 'InvalidArgument');
  });

  test('x-amz-copy-source-range: bytes=first-last inside the object only', () => {
    assert.equal(parseCopyRange(undefined, 10), undefined);
    assert.deepEqual(parseCopyRange('bytes=0-9', 10), { start: 0, end: 9 });
    assert.deepEqual(parseCopyRange(' bytes=3-3 ', 10), { start: 3, end: 3 });
    for (const bad of ['bytes=0-10', 'bytes=5-4', 'bytes=-3', 'bytes=3-', '0-3', 'bytes=0-1,2-3', 'items=0-1']) {
      assert.throws(() => parseCopyRange(bad, 10), (e) => code(e) === 'InvalidArgument', `"${bad}" was accepted`);
    }
    assert.throws(() => parseCopyRange('bytes=0-0', 0), (e) => code(e) === 'InvalidArgument', 'a range of an empty object');
  });
});

describe('store: CopyObject and UploadPartCopy (embedded store process)', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  before(async () => {
    t = await startEmbeddedStore();
    s3 = clientFor(t);
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
  });

  async function bodyOf(bucket: string, key: string): Promise<Buffer> {
    return Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  }

  async function dataFiles(bucket: string): Promise<string[]> {
    return readdir(join(t.dataDir, 'buckets', bucket, 'data'));
  }

  test('CopyObject hard-links the source (no byte copied); the copy outlives its source overwritten, deleted and a kill -9', { timeout: 60_000 }, async () => {
    const bucket = await newBucket(s3, 'cplink');
    const body = randomBytes(3 * MiB + 11);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: body }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src` }));
    const files = await dataFiles(bucket);
    assert.equal(files.length, 2, 'one data file name per object');
    const [a, b] = await Promise.all(files.map((f) => stat(join(t.dataDir, 'buckets', bucket, 'data', f))));
    assert.equal(a.ino, b.ino, 'the copy is not a hard link of the source');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'overwritten' }));
    assert.ok((await bodyOf(bucket, 'dst')).equals(body), 'overwriting the source changed the copy');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'src' }));
    assert.ok((await bodyOf(bucket, 'dst')).equals(body), 'deleting the source changed the copy');
    // The 200 came after the commit point: a crash now keeps the copy.
    await t.kill9();
    await t.restart();
    s3.destroy();
    s3 = clientFor(t);
    assert.ok((await bodyOf(bucket, 'dst')).equals(body), 'the copy is gone after kill -9 and restart');
    assert.equal((await dataFiles(bucket)).length, 1, 'data files of deleted objects are left over');
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('CopyObject onto itself with REPLACE relinks: same bytes and ETag, new metadata, the old file name gone', async () => {
    const bucket = await newBucket(s3, 'cpself');
    const body = randomBytes(100_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'f', Body: body, Metadata: { mtime: '1' } }));
    const before = await dataFiles(bucket);
    for (const mtime of ['2', '3']) {
      const r = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'f', CopySource: `${bucket}/f`, MetadataDirective: 'REPLACE', Metadata: { mtime } }));
      assert.equal(r.CopyObjectResult?.ETag, put.ETag);
    }
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'f' }));
    assert.deepEqual(h.Metadata, { mtime: '3' });
    assert.ok((await bodyOf(bucket, 'f')).equals(body));
    const now = await dataFiles(bucket);
    assert.equal(now.length, 1, `left ${now.length} data files for one object`);
    assert.notDeepEqual(now, before);
  });

  test('CopyObject with x-amz-checksum-algorithm: a source without it is rewritten with it; one with it keeps it', async () => {
    const bucket = await newBucket(s3, 'cpsum');
    const body = randomBytes(2 * MiB + 3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: body }));
    const r = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'summed', CopySource: `${bucket}/plain`, ChecksumAlgorithm: 'CRC32C' }));
    assert.equal(r.CopyObjectResult?.ETag, `"${md5hex(body)}"`);
    assert.equal(r.CopyObjectResult?.ChecksumCRC32C, checksumOf('CRC32C', body));
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'summed', ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumCRC32C, checksumOf('CRC32C', body));
    assert.ok((await bodyOf(bucket, 'summed')).equals(body));
    // Asking again for what the source has: linked, the checksum carried over.
    const again = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'summed2', CopySource: `${bucket}/summed`, ChecksumAlgorithm: 'CRC32C' }));
    assert.equal(again.CopyObjectResult?.ChecksumCRC32C, checksumOf('CRC32C', body));
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('UploadPartCopy into an upload with a checksum algorithm: each part gets the CRC32 of its range, Complete the composite', async () => {
    const bucket = await newBucket(s3, 'upcsum');
    const src = randomBytes(7 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: src }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'dst', ChecksumAlgorithm: 'CRC32' }));
    const ranges = [src.subarray(0, 5 * MiB), src.subarray(5 * MiB)];
    const parts = [];
    for (const [i, range] of [[0, 5 * MiB - 1], [5 * MiB, 7 * MiB - 1]].entries()) {
      const r = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'dst', UploadId, PartNumber: i + 1, CopySource: `${bucket}/src`, CopySourceRange: `bytes=${range[0]}-${range[1]}` }));
      assert.equal(r.CopyPartResult?.ChecksumCRC32, checksumOf('CRC32', ranges[i]), `part ${i + 1} CRC32`);
      parts.push({ PartNumber: i + 1, ETag: r.CopyPartResult!.ETag, ChecksumCRC32: r.CopyPartResult!.ChecksumCRC32 });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'dst', UploadId, MultipartUpload: { Parts: parts } }));
    assert.equal(done.ChecksumCRC32, compositeChecksum('CRC32', ranges.map((r) => checksumOf('CRC32', r))));
    assert.ok((await bodyOf(bucket, 'dst')).equals(src));
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('refused copies say what was wrong: versionId, encoding, directive, a range on CopyObject, If-None-Match * on the destination', async () => {
    const bucket = await newBucket(s3, 'cpbad');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'source' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'taken', Body: 'already here' }));
    const cases: Array<[string, Record<string, string>, number, string, RegExp]> = [
      ['unknown version', { 'x-amz-copy-source': `${bucket}/src?versionId=abc` }, 400, 'InvalidArgument', /keeps no object versions/],
      ['bad encoding', { 'x-amz-copy-source': `${bucket}/%zz` }, 400, 'InvalidArgument', /percent-encoding/],
      ['no key', { 'x-amz-copy-source': bucket }, 400, 'InvalidArgument', /bucket\/key/],
      ['unknown directive', { 'x-amz-copy-source': `${bucket}/src`, 'x-amz-metadata-directive': 'MERGE' }, 400, 'InvalidArgument', /COPY .* or REPLACE/],
      ['range on CopyObject', { 'x-amz-copy-source': `${bucket}/src`, 'x-amz-copy-source-range': 'bytes=0-1' }, 400, 'InvalidArgument', /UploadPartCopy only/],
      ['unknown checksum', { 'x-amz-copy-source': `${bucket}/src`, 'x-amz-checksum-algorithm': 'MD4' }, 400, 'InvalidRequest', /not supported/],
      ['If-None-Match * on an existing destination', { 'x-amz-copy-source': `${bucket}/src`, 'if-none-match': '*' }, 412, 'PreconditionFailed', /pre-conditions/],
    ];
    for (const [what, headers, status, s3Code, message] of cases) {
      const dst = what.startsWith('If-None-Match') ? 'taken' : 'dst';
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/${dst}`, headers: { 'content-length': '0', ...headers } });
      const r = (await rawExchange(t, [head], { responses: 1 })).responses[0];
      assertS3Error(r, status, s3Code, what);
      assert.match(r!.body.toString(), message, what);
    }
    assert.equal((await bodyOf(bucket, 'taken')).toString(), 'already here');
    const gone = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dst' })).then(
      () => 'exists',
      (e: { $metadata?: { httpStatusCode?: number } }) => String(e.$metadata?.httpStatusCode),
    );
    assert.equal(gone, '404', 'a refused copy created its destination');
  });

  test('a presigned CopyObject (x-amz-copy-source in the signed query) copies; the URL with another source is refused', async () => {
    const bucket = await newBucket(s3, 'cppre');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'presigned source' }));
    const url = await getSignedUrl(s3, new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src` }), { expiresIn: 60 });
    assert.match(url, /[?&]x-amz-copy-source=/i, 'the presigner left x-amz-copy-source in a header');
    const res = await fetch(url, { method: 'PUT' });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(text, /<CopyObjectResult[^>]*><ETag>&quot;[0-9a-f]{32}&quot;<\/ETag><LastModified>/);
    assert.equal((await bodyOf(bucket, 'dst')).toString(), 'presigned source');
    const tampered = new URL(url);
    tampered.searchParams.set('x-amz-copy-source', `${bucket}/other`);
    assert.equal((await fetch(tampered, { method: 'PUT' })).status, 403);
  });

  test('UploadPartCopy racing an overwrite of its source: the part is one whole version, never a mix', async () => {
    const bucket = await newBucket(s3, 'upcrace');
    const v1 = randomBytes(6 * MiB);
    const v2 = randomBytes(3 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: v1 }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'dst' }));
    const [r] = await Promise.all([
      s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'dst', UploadId, PartNumber: 1, CopySource: `${bucket}/src` })),
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: v2 })),
    ]);
    const etag = r.CopyPartResult?.ETag;
    assert.ok([`"${md5hex(v1)}"`, `"${md5hex(v2)}"`].includes(etag ?? ''), `the part is neither version: ${etag}`);
    const { Parts } = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'dst', UploadId }));
    assert.equal(Parts?.[0]?.Size, etag === `"${md5hex(v1)}"` ? v1.length : v2.length);
    assert.deepEqual(await tmpFiles(t), []);
  });
});
