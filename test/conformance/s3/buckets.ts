import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { CHECK, expectS3Error, newBucket, statusOf, uniqueName, type GetCtx } from './helpers.js';

export function bucketChecks(getCtx: GetCtx): void {
  test('bucket: CreateBucket then HeadBucket answers 200', CHECK, async () => {
    const ctx = getCtx();
    const bucket = uniqueName('cf-mk');
    const created = await ctx.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    assert.equal(statusOf(created), 200);
    const head = await ctx.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    assert.equal(statusOf(head), 200);
  });

  test('bucket: HeadBucket of a missing bucket answers 404', CHECK, async () => {
    const ctx = getCtx();
    await expectS3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: uniqueName('cf-missing') })), { statuses: [404] }, 'HeadBucket');
  });

  test('bucket: ListBuckets includes a new bucket', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ls');
    const list = await ctx.s3.send(new ListBucketsCommand({}));
    const names = (list.Buckets ?? []).map((b) => b.Name);
    assert.ok(names.includes(bucket), `${bucket} not in ${names.join(', ')}`);
    const entry = list.Buckets!.find((b) => b.Name === bucket)!;
    assert.ok(entry.CreationDate instanceof Date && !Number.isNaN(entry.CreationDate.getTime()), 'bucket has no CreationDate');
  });

  test('bucket: creating an owned bucket again is 200 or BucketAlreadyOwnedByYou, and keeps its objects', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'twice');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep', Body: 'still here' }));
    try {
      const again = await ctx.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      assert.equal(statusOf(again), 200); // us-east-1 legacy semantics (RGW, AWS us-east-1)
    } catch (e) {
      const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
      assert.equal(err.name, 'BucketAlreadyOwnedByYou', `second CreateBucket failed with ${err.name}`);
      assert.equal(err.$metadata?.httpStatusCode, 409);
    }
    await ctx.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'keep' }));
    assert.equal(head.ContentLength, 'still here'.length, 'recreating the bucket lost its object');
  });

  test('bucket: DeleteBucket of a non-empty bucket fails with BucketNotEmpty (409)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'full');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b', Body: 'x' }));
    await expectS3Error(ctx.s3.send(new DeleteBucketCommand({ Bucket: bucket })), { codes: ['BucketNotEmpty'], statuses: [409] }, 'DeleteBucket');
    const head = await ctx.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    assert.equal(statusOf(head), 200, 'the refused delete removed the bucket anyway');
  });

  test('bucket: DeleteBucket of an emptied bucket answers 204, then HeadBucket 404', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'empty');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp', Body: 'x' }));
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'tmp' }));
    const del = await ctx.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    assert.equal(statusOf(del), 204);
    await expectS3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: bucket })), { statuses: [404] }, 'HeadBucket after delete');
  });
}
