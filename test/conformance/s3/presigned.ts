import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CHECK, MiB, clientFor, expectS3Error, getBytes, md5hex, multipartEtag, newBucket, quoted, type CheckContext, type GetCtx } from './helpers.js';

/** Codes a server may give for a bad signature on a presigned URL. */
const BAD_SIGNATURE = ['SignatureDoesNotMatch', 'AccessDenied'];

async function seededObject(ctx: CheckContext): Promise<{ bucket: string; key: string; body: Buffer }> {
  const bucket = await newBucket(ctx, 'pre');
  const body = randomBytes(2048);
  await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'signed/obj.bin', Body: body }));
  return { bucket, key: 'signed/obj.bin', body };
}

/** fetch, returning status and the S3 error <Code> when the body is an error document. */
async function fetchStatus(url: string, init?: RequestInit): Promise<{ status: number; code?: string; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1], text };
}

function withParam(url: string, name: string, edit: (v: string) => string): string {
  const u = new URL(url);
  const v = u.searchParams.get(name);
  assert.ok(v !== null, `presigned URL has no ${name}`);
  u.searchParams.set(name, edit(v));
  return u.toString();
}

export function presignedChecks(getCtx: GetCtx): void {
  test('presigned: PUT by URL then GET by URL roundtrips bytes and ETag', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'preput');
    const body = randomBytes(300 * 1024);
    const putUrl = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: 'up/file.bin' }), { expiresIn: 60 });
    assert.doesNotMatch(putUrl, /x-amz-checksum|x-amz-sdk-checksum/i, 'makeS3Client signs a checksum into presigned PUTs');
    const put = await fetch(putUrl, { method: 'PUT', body: body as Uint8Array<ArrayBuffer> });
    assert.equal(put.status, 200, await put.text());
    assert.equal(put.headers.get('etag'), quoted(md5hex(body)));
    const getUrl = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: 'up/file.bin' }), { expiresIn: 60 });
    const got = await fetch(getUrl);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body), 'presigned GET body differs');
  });

  test('presigned: UploadPart URLs for two parts, then Complete (the uploader\'s path)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'prepart');
    const Key = 'parts/obj.bin';
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const parts = [randomBytes(5 * MiB), randomBytes(777)];
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const url = await getSignedUrl(ctx.s3, new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1 }), { expiresIn: 60 });
      const res = await fetch(url, { method: 'PUT', body: part as Uint8Array<ArrayBuffer> });
      assert.equal(res.status, 200, await res.text());
      etags.push(res.headers.get('etag')!);
    }
    assert.deepEqual(etags, parts.map((p) => quoted(md5hex(p))));
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const got = await getBytes(ctx, bucket, Key);
    assert.ok(got.body.equals(Buffer.concat(parts)));
    assert.equal(got.etag, multipartEtag(parts));
  });

  test('presigned: an expired URL (expiresIn 1 s, used after 2 s) answers 403', CHECK, async () => {
    const ctx = getCtx();
    const { bucket, key } = await seededObject(ctx);
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 1 });
    await sleep(2100);
    const r = await fetchStatus(url);
    assert.equal(r.status, 403, `expired URL answered ${r.status}: ${r.text.slice(0, 300)}`);
    assert.ok(r.code === undefined || ['AccessDenied', 'ExpiredToken', 'RequestExpired'].includes(r.code), `code ${r.code}`);
  });

  test('presigned: a changed X-Amz-Signature answers 403', CHECK, async () => {
    const ctx = getCtx();
    const { bucket, key } = await seededObject(ctx);
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
    assert.equal((await fetchStatus(url)).status, 200, 'the untouched URL must work');
    const bad = withParam(url, 'X-Amz-Signature', (s) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0'));
    const r = await fetchStatus(bad);
    assert.equal(r.status, 403);
    assert.ok(r.code === undefined || BAD_SIGNATURE.includes(r.code), `code ${r.code}`);
  });

  test('presigned: a lengthened X-Amz-Expires answers 403', CHECK, async () => {
    const ctx = getCtx();
    const { bucket, key } = await seededObject(ctx);
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
    const r = await fetchStatus(withParam(url, 'X-Amz-Expires', () => '3600'));
    assert.equal(r.status, 403);
    assert.ok(r.code === undefined || BAD_SIGNATURE.includes(r.code), `code ${r.code}`);
  });

  test('presigned: a PUT URL cannot be used for another key', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'prekey');
    const url = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: 'allowed.bin' }), { expiresIn: 60 });
    const other = url.replace('/allowed.bin?', '/other.bin?');
    assert.notEqual(other, url);
    const r = await fetchStatus(other, { method: 'PUT', body: 'sneaky' });
    assert.equal(r.status, 403);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(list.KeyCount, 0, 'the refused PUT stored something');
  });

  test('presigned: a URL signed with the wrong secret answers 403', CHECK, async () => {
    const ctx = getCtx();
    const { bucket, key } = await seededObject(ctx);
    const wrong = clientFor(ctx.target, ctx.target.secretAccessKey + 'x');
    try {
      const url = await getSignedUrl(wrong, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
      const r = await fetchStatus(url);
      assert.equal(r.status, 403);
      assert.ok(r.code === undefined || BAD_SIGNATURE.includes(r.code), `code ${r.code}`);
    } finally {
      wrong.destroy();
    }
  });

  test('signature: a header-signed request with the wrong secret fails with SignatureDoesNotMatch', CHECK, async () => {
    const ctx = getCtx();
    const { bucket } = await seededObject(ctx);
    const wrong = clientFor(ctx.target, 'not-' + ctx.target.secretAccessKey);
    try {
      await expectS3Error(wrong.send(new ListObjectsV2Command({ Bucket: bucket })), { codes: ['SignatureDoesNotMatch'], statuses: [403] }, 'ListObjectsV2 with a wrong secret');
      await expectS3Error(wrong.send(new PutObjectCommand({ Bucket: bucket, Key: 'evil', Body: 'x' })), { codes: ['SignatureDoesNotMatch'], statuses: [403] }, 'PutObject with a wrong secret');
    } finally {
      wrong.destroy();
    }
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'evil' })), { codes: ['NoSuchKey'] }, 'GetObject of the refused PUT');
  });
}
