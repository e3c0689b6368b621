import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import { clientFor, MiB, newBucket } from './helpers.js';

function statusOf(e: unknown): number | undefined {
  return (e as S3ServiceException).$metadata?.httpStatusCode;
}

async function text(s3: S3Client, Bucket: string, Key: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();
}

describe('store: conditional writes, reads and listings', () => {
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

  test('20 racing If-None-Match: * writers of 1 MiB: exactly one wins, 19 get 412, the winner\'s body is stored', async () => {
    const bucket = await newBucket(s3, 'race');
    const bodies = Array.from({ length: 20 }, (_, i) => Buffer.concat([Buffer.from(`writer ${i}:`), randomBytes(MiB)]));
    const racer = clientFor(t);
    try {
      const results = await Promise.allSettled(bodies.map((Body) => racer.send(new PutObjectCommand({ Bucket: bucket, Key: 'manifest.json', Body, IfNoneMatch: '*' }))));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(winners.length, 1, `winners: ${winners.join(', ')}`);
      const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.deepEqual([...new Set(losers.map((l) => statusOf(l.reason)))], [412]);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'manifest.json' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(bodies[winners[0]]));
      assert.deepEqual(await readdir(join(t.dataDir, 'tmp')), [], 'losers left temp files');
      assert.equal((await readdir(join(t.dataDir, 'buckets', bucket, 'data'))).length, 1, 'losers left data files');
    } finally {
      racer.destroy();
    }
  });

  test('If-Match accepts the ETag quoted, unquoted or weak; a stale or missing one gets 412', async () => {
    const bucket = await newBucket(s3, 'ifmatch');
    const first = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: 'v0' }))).ETag!;
    let etag = first;
    const forms = [(e: string) => e, (e: string) => e.replace(/"/g, ''), (e: string) => `W/${e}`];
    for (const [i, form] of forms.entries()) {
      etag = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: `v${i + 1}`, IfMatch: form(etag) }))).ETag!;
    }
    assert.equal(await text(s3, bucket, 'm'), 'v3');
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: 'x', IfMatch: first })), (e) => statusOf(e) === 412);
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'absent', Body: 'x', IfMatch: etag })), (e) => statusOf(e) === 412);
    assert.equal(await text(s3, bucket, 'm'), 'v3');
  });

  test('racing conditional CompleteMultipartUpload (If-None-Match: *): one wins, the other gets 412 and keeps its upload; If-Match completes over it', async () => {
    const bucket = await newBucket(s3, 'ccomplete');
    const Key = 'models/best.ckpt';
    const uploads = await Promise.all(
      ['first', 'second'].map(async (who) => {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
        const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: who }));
        return { who, UploadId, parts: [{ PartNumber: 1, ETag: part.ETag }] };
      }),
    );
    const results = await Promise.allSettled(uploads.map((u) => s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId: u.UploadId, MultipartUpload: { Parts: u.parts }, IfNoneMatch: '*' }))));
    const won = results.findIndex((r) => r.status === 'fulfilled');
    const lost = 1 - won;
    assert.ok(won >= 0 && results[lost].status === 'rejected', 'exactly one Complete wins');
    assert.equal(statusOf((results[lost] as PromiseRejectedResult).reason), 412);
    assert.equal(await text(s3, bucket, Key), uploads[won].who);
    const winnerEtag = (results[won] as PromiseFulfilledResult<{ ETag?: string }>).value.ETag!;
    const again = await s3.send(new ListPartsCommand({ Bucket: bucket, Key, UploadId: uploads[lost].UploadId }));
    assert.equal(again.Parts?.length, 1, 'the refused upload is still there');
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploads[lost].UploadId, MultipartUpload: { Parts: uploads[lost].parts }, IfMatch: winnerEtag }));
    assert.equal(await text(s3, bucket, Key), uploads[lost].who);
  });

  test('GetObject conditions (304/412), ?partNumber of a multipart object, and a Range across parts', async () => {
    const bucket = await newBucket(s3, 'getcond');
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: 'conditional' }));
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfNoneMatch: ETag })), (e) => statusOf(e) === 304);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfMatch: '"0000"' })), (e) => statusOf(e) === 412);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfModifiedSince: new Date(Date.now() + 60_000) })), (e) => statusOf(e) === 304);
    assert.equal((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfMatch: ETag }))).$metadata.httpStatusCode, 200);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const p = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(77)];
    const parts = [];
    for (const [i, b] of p.entries()) parts.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: i + 1, Body: b }))).ETag });
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: parts } }));
    const second = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: 2 }));
    assert.equal(second.PartsCount, 3);
    assert.equal(second.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${10 * MiB + 77}`);
    assert.ok(Buffer.from(await second.Body!.transformToByteArray()).equals(p[1]));
    const across = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', Range: `bytes=${5 * MiB - 10}-${10 * MiB + 9}` }));
    assert.ok(Buffer.from(await across.Body!.transformToByteArray()).equals(Buffer.concat(p).subarray(5 * MiB - 10, 10 * MiB + 10)));
  });

  test('an overwrite or delete during a slow GetObject does not cut the reader off; the old data is freed afterwards', async () => {
    const bucket = await newBucket(s3, 'pin');
    const old = randomBytes(16 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'o', Body: old }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'o' }));
    const body = got.Body as Readable;
    const chunks: Buffer[] = [];
    const first = await new Promise<Buffer>((r) => body.once('data', r));
    chunks.push(first);
    body.pause();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'o', Body: 'new version' }));
    for await (const c of body) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(old), 'the reader saw a changed or truncated body');
    assert.equal(await text(s3, bucket, 'o'), 'new version');
    let files: string[] = [];
    await waitFor(async () => (files = await readdir(join(t.dataDir, 'buckets', bucket, 'data'))).length === 1, 'one data file: the replaced one freed once its reader is done', 5000, { intervalMs: 20, lastSeen: () => files.join(', ') || 'none' });
  });

  test('ListObjects V1 pages with markers across common prefixes; V2 encoding-type=url; 1,000 keys per page by default', async () => {
    const bucket = await newBucket(s3, 'list');
    const keys = ['a/1', 'a/2', 'b', 'c/1', 'd e+f'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
    const seen: string[] = [];
    let Marker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: 1, Marker }));
      seen.push(...(r.CommonPrefixes ?? []).map((p) => p.Prefix!), ...(r.Contents ?? []).map((o) => o.Key!));
      if (!r.IsTruncated) break;
      Marker = r.NextMarker;
    }
    assert.deepEqual(seen, ['a/', 'b', 'c/', 'd e+f']);
    const enc = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'url', Prefix: 'd' }));
    assert.deepEqual(enc.Contents?.map((o) => o.Key), ['d%20e%2Bf']);
    const many = await newBucket(s3, 'many');
    const all = Array.from({ length: 1003 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < all.length; i += 50) await Promise.all(all.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket: many, Key, Body: '' }))));
    const p1 = await s3.send(new ListObjectsV2Command({ Bucket: many }));
    assert.equal(p1.KeyCount, 1000);
    assert.equal(p1.IsTruncated, true);
    const p2 = await s3.send(new ListObjectsV2Command({ Bucket: many, ContinuationToken: p1.NextContinuationToken }));
    assert.deepEqual(p2.Contents?.map((o) => o.Key), all.slice(1000));
    assert.equal(p2.IsTruncated, false);
  });

  test('DeleteObjects removes many keys, reports each, and refuses bad keys one by one', async () => {
    const bucket = await newBucket(s3, 'multidel');
    for (const Key of ['x/1', 'x/2', 'keep']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'x/1' }, { Key: 'x/2' }, { Key: 'never' }, { Key: 'a/../b' }] } }));
    assert.deepEqual(r.Deleted?.map((d) => d.Key).sort(), ['never', 'x/1', 'x/2']);
    assert.deepEqual(r.Errors?.map((e) => [e.Key, e.Code]), [['a/../b', 'InvalidArgument']]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(left.Contents?.map((o) => o.Key), ['keep']);
  });
});
