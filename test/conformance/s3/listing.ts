import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CHECK, newBucket, type CheckContext, type GetCtx } from './helpers.js';

const KEYS = [
  'data/a.slp',
  'data/b.slp',
  'data/sub/c.slp',
  'data/sub/d.slp',
  'data/sub2/e.slp',
  'models/m1/best.ckpt',
  'readme.txt',
];

async function seeded(ctx: CheckContext): Promise<string> {
  const bucket = await newBucket(ctx, 'list');
  // Put in reverse so a server that lists in insertion order is caught.
  for (const key of [...KEYS].reverse()) await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  return bucket;
}

export function listingChecks(getCtx: GetCtx): void {
  test('list: ListObjectsV2 with Prefix returns only (and all) matching keys, sorted, with sizes', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx);
    const r = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'data/sub' }));
    assert.deepEqual(r.Contents?.map((o) => o.Key), ['data/sub/c.slp', 'data/sub/d.slp', 'data/sub2/e.slp']);
    assert.deepEqual(r.Contents?.map((o) => o.Size), [14, 14, 15]);
    assert.equal(r.Prefix, 'data/sub');
    assert.equal(r.IsTruncated, false);
  });

  test('list: Delimiter "/" folds keys into CommonPrefixes', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx);
    const top = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    assert.deepEqual(top.Contents?.map((o) => o.Key), ['readme.txt']);
    assert.deepEqual(top.CommonPrefixes?.map((p) => p.Prefix), ['data/', 'models/']);
    const inData = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', Prefix: 'data/' }));
    assert.deepEqual(inData.Contents?.map((o) => o.Key), ['data/a.slp', 'data/b.slp']);
    assert.deepEqual(inData.CommonPrefixes?.map((p) => p.Prefix), ['data/sub/', 'data/sub2/']);
    assert.equal(inData.KeyCount, 4, 'KeyCount counts keys plus common prefixes');
  });

  test('list: MaxKeys=2 pages with continuation tokens return every key exactly once, in order', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: token }));
      pages++;
      assert.ok((r.Contents?.length ?? 0) <= 2, `page ${pages} has ${r.Contents?.length} keys`);
      assert.equal(r.KeyCount, r.Contents?.length ?? 0);
      seen.push(...(r.Contents ?? []).map((o) => o.Key!));
      if (r.IsTruncated) assert.ok(r.NextContinuationToken, `truncated page ${pages} has no NextContinuationToken`);
      else assert.equal(r.NextContinuationToken, undefined);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
      assert.ok(pages <= 10, 'pagination does not end');
    } while (token);
    assert.deepEqual(seen, [...KEYS].sort());
    assert.equal(pages, 4);
  });

  test('list: StartAfter skips keys up to and including it', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx);
    const r = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'data/sub/c.slp' }));
    assert.deepEqual(r.Contents?.map((o) => o.Key), ['data/sub/d.slp', 'data/sub2/e.slp', 'models/m1/best.ckpt', 'readme.txt']);
    const between = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'data/c' }));
    assert.equal(between.Contents?.[0]?.Key, 'data/sub/c.slp', 'StartAfter need not be an existing key');
  });

  test('list: KeyCount matches the page, and an empty prefix match gives KeyCount 0', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx);
    const all = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(all.KeyCount, KEYS.length);
    assert.equal(all.Contents?.length, KEYS.length);
    const three = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 3 }));
    assert.equal(three.KeyCount, 3);
    assert.equal(three.MaxKeys, 3);
    assert.equal(three.IsTruncated, true);
    const none = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'nothing/' }));
    assert.equal(none.KeyCount, 0);
    assert.equal(none.Contents, undefined);
  });
}
