import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CHECK, MiB, expectS3Error, getBytes, md5hex, newBucket, quoted, statusOf, type CheckContext, type GetCtx } from './helpers.js';

/** Keys that break naive URL encoding or SigV4 canonicalisation. */
export const SPECIAL_KEYS = [
  'with space/file name.txt',
  'unicodé/日本語/ключ-🐭.bin',
  'plus+sign+key',
  'percent%20not%2Fdecoded%',
  'eq=uals=key',
  'tilde~key~',
  'bang!key!',
  'deep/a/b/c/d/e/f/g/h/i/j/leaf',
  "mixed a+b%c=d~e!f(g)h*i'j,k;l:m@n$o&p",
];

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function roundtrip(ctx: CheckContext, size: number): Promise<void> {
  const bucket = await newBucket(ctx, 'rt');
  const data = randomBytes(size);
  const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `obj-${size}`, Body: data }));
  assert.equal(put.ETag, quoted(md5hex(data)), 'PutObject ETag is not the md5 of the body');
  const got = await getBytes(ctx, bucket, `obj-${size}`);
  assert.equal(got.body.length, size);
  assert.ok(got.body.equals(data), 'GetObject body differs from what was put');
  assert.equal(got.etag, put.ETag);
}

export function objectChecks(getCtx: GetCtx): void {
  test('object: binary roundtrip (every byte value, 64 KiB)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'bin');
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(64 * 1024 - 256)]);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bin', Body: data }));
    const got = await getBytes(ctx, bucket, 'bin');
    assert.ok(got.body.equals(data), 'binary body changed on the way');
  });

  test('object: 0-byte roundtrip, ETag is the md5 of nothing', CHECK, async () => {
    await roundtrip(getCtx(), 0);
  });

  test('object: 1-byte roundtrip', CHECK, async () => {
    await roundtrip(getCtx(), 1);
  });

  test('object: 7 MiB single-PUT roundtrip', CHECK, async () => {
    await roundtrip(getCtx(), 7 * MiB);
  });

  test('object: keys with spaces, unicode, + % = ~ ! ( ) * \' and deep slashes roundtrip and list verbatim', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'keys');
    for (const key of SPECIAL_KEYS) await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));
    for (const key of SPECIAL_KEYS) {
      const got = await getBytes(ctx, bucket, key);
      assert.equal(got.body.toString(), `body of ${key}`, `wrong body for key ${JSON.stringify(key)}`);
    }
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual((list.Contents ?? []).map((o) => o.Key), [...SPECIAL_KEYS].sort(byUtf8));
  });

  test('object: presigned GET works for keys with special characters', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'pkeys');
    for (const key of SPECIAL_KEYS) {
      await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `p ${key}` }));
      const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
      const res = await fetch(url);
      const text = await res.text();
      assert.equal(res.status, 200, `presigned GET of ${JSON.stringify(key)} answered ${res.status}: ${text.slice(0, 300)}`);
      assert.equal(text, `p ${key}`);
    }
  });

  test('object: user metadata and Content-Type roundtrip on GetObject and HeadObject', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'meta');
    const Metadata = { project: 'mice', 'run-id': '42', note: 'two words' };
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: '{}', ContentType: 'application/x-sleap+json', Metadata }));
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'm' }));
    assert.equal(head.ContentType, 'application/x-sleap+json');
    assert.deepEqual(head.Metadata, Metadata);
    const got = await getBytes(ctx, bucket, 'm');
    assert.equal(got.contentType, 'application/x-sleap+json');
    assert.deepEqual(got.metadata, Metadata);
  });

  test('object: HeadObject gives size, md5 ETag and Last-Modified', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'head');
    const data = randomBytes(12345);
    const before = Date.now();
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'h', Body: data }));
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'h' }));
    assert.equal(head.ContentLength, 12345);
    assert.equal(head.ETag, quoted(md5hex(data)));
    assert.ok(head.LastModified instanceof Date, 'no Last-Modified');
    // Whole seconds on the wire, and a loopback server shares our clock.
    assert.ok(Math.abs(head.LastModified.getTime() - before) < 60_000, `Last-Modified ${head.LastModified.toISOString()} is far from now`);
  });

  const RANGE_BODY = randomBytes(100);
  const ranges: Array<[string, number, number]> = [
    ['bytes=0-9', 0, 9],
    ['bytes=10-', 10, 99],
    ['bytes=-5', 95, 99],
  ];
  for (const [range, first, last] of ranges) {
    test(`object: Range ${range} answers 206 with Content-Range bytes ${first}-${last}/100`, CHECK, async () => {
      const ctx = getCtx();
      const bucket = await newBucket(ctx, 'range');
      await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: RANGE_BODY }));
      const got = await getBytes(ctx, bucket, 'r', range);
      assert.equal(got.status, 206);
      assert.equal(got.contentRange, `bytes ${first}-${last}/100`);
      assert.ok(got.body.equals(RANGE_BODY.subarray(first, last + 1)), `wrong bytes for ${range}`);
    });
  }

  test('object: an unsatisfiable Range answers 416 InvalidRange', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'range416');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: RANGE_BODY }));
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=100-200' })), { codes: ['InvalidRange'], statuses: [416] }, 'GetObject Range bytes=100-200');
  });

  test('object: GetObject of a missing key fails with NoSuchKey (404)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'nokey');
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'never/put' })), { codes: ['NoSuchKey'], statuses: [404] }, 'GetObject');
  });

  test('object: DeleteObject answers 204, then HeadObject 404 and GetObject NoSuchKey', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'del');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'd', Body: 'gone soon' }));
    const del = await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'd' }));
    assert.equal(statusOf(del), 204);
    await expectS3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'd' })), { statuses: [404] }, 'HeadObject after delete');
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'd' })), { codes: ['NoSuchKey'] }, 'GetObject after delete');
  });

  test('object: DeleteObject of a missing key answers 204', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'delmiss');
    const del = await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'was/never/here' }));
    assert.equal(statusOf(del), 204);
  });
}
