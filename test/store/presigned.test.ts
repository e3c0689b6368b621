import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client, UploadPartCommand, CreateMultipartUploadCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { clientFor, exists, md5hex, newBucket, xmlCode } from './helpers.js';

async function fetchS3(url: string, init?: RequestInit): Promise<{ status: number; code?: string; text: string; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, code: xmlCode(text), text, headers: res.headers };
}

function edit(url: string, f: (u: URL) => void): string {
  const u = new URL(url);
  f(u);
  return u.toString();
}

describe('store: presigned URLs', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let bucket: string;
  const key = 'rooms/lab/datasets/ü 1/file+name=v~1.slp';
  before(async () => {
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    bucket = await newBucket(s3, 'pre');
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
  });

  test('PUT then GET by URL (key with unicode, space, + = ~): bytes, ETag, and a signed response-content-disposition', async () => {
    const body = randomBytes(200_000);
    const put = await fetchS3(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 }), { method: 'PUT', body });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers.get('etag'), `"${md5hex(body)}"`);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentDisposition: 'attachment; filename="x.slp"' }), { expiresIn: 300 });
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="x.slp"');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
  });

  test('an expired URL (signed 10 min ago for 60 s) answers 403 AccessDenied "Request has expired"', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60, signingDate: new Date(Date.now() - 10 * 60_000) });
    const r = await fetchS3(url);
    assert.equal(r.status, 403);
    assert.equal(r.code, 'AccessDenied');
    assert.match(r.text, /Request has expired/);
  });

  test('tampered URLs: another key, an added or changed parameter -> SignatureDoesNotMatch; another access key -> InvalidAccessKeyId', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'allowed' }), { expiresIn: 300 });
    const tampered: Array<[string, string]> = [
      ['other key', edit(url, (u) => (u.pathname = u.pathname.replace('allowed', 'other')))],
      ['added parameter', edit(url, (u) => u.searchParams.set('partNumber', '1'))],
      ['later date', edit(url, (u) => u.searchParams.set('X-Amz-Date', u.searchParams.get('X-Amz-Date')!.replace(/..Z$/, '59Z')))],
      ['longer expiry', edit(url, (u) => u.searchParams.set('X-Amz-Expires', '3600'))],
    ];
    for (const [what, bad] of tampered) {
      const r = await fetchS3(bad, { method: 'PUT', body: 'sneaky' });
      assert.equal(r.status, 403, `${what}: ${r.text}`);
      assert.equal(r.code, 'SignatureDoesNotMatch', what);
    }
    const stranger = await fetchS3(edit(url, (u) => u.searchParams.set('X-Amz-Credential', u.searchParams.get('X-Amz-Credential')!.replace(/^[^/]+/, 'AKNOBODY'))), { method: 'PUT', body: 'x' });
    assert.equal(stranger.code, 'InvalidAccessKeyId');
    const week = await fetchS3(edit(url, (u) => u.searchParams.set('X-Amz-Expires', String(7 * 24 * 3600 + 1))), { method: 'PUT', body: 'x' });
    assert.equal(week.status, 400);
    assert.equal(week.code, 'AuthorizationQueryParametersError');
    assert.equal(await exists(s3, bucket, 'allowed'), false);
    assert.equal(await exists(s3, bucket, 'other'), false);
  });

  test('a URL signed with the wrong secret answers 403 SignatureDoesNotMatch', async () => {
    const wrong = clientFor(t, { secretAccessKey: 'not-the-secret' });
    try {
      const r = await fetchS3(await getSignedUrl(wrong, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 }));
      assert.equal(r.status, 403);
      assert.equal(r.code, 'SignatureDoesNotMatch');
    } finally {
      wrong.destroy();
    }
  });

  test('a default SDK client signs the CRC32 of an empty body into part URLs: refused with BadDigest, as AWS does', async () => {
    const sdk = new S3Client({ endpoint: t.endpoint, region: t.region, forcePathStyle: true, credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey } });
    try {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'crc' }));
      const url = await getSignedUrl(sdk, new UploadPartCommand({ Bucket: bucket, Key: 'crc', UploadId, PartNumber: 1 }), { expiresIn: 60 });
      assert.match(url, /x-amz-checksum-crc32=AAAAAA/i, 'this SDK version no longer signs an empty CRC32; the test needs a look');
      const r = await fetchS3(url, { method: 'PUT', body: 'part body' });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.code, 'BadDigest');
      const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'crc', UploadId }));
      assert.equal(parts.Parts?.length ?? 0, 0);
    } finally {
      sdk.destroy();
    }
  });
});
