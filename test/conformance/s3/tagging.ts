import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type Tag,
  type TaggingDirective,
} from '@aws-sdk/client-s3';
import { CHECK, expectS3Error, newBucket, type CheckContext, type GetCtx } from './helpers.js';
import { copySource } from './copy.js';
import { uploadPart } from './multipart.js';

/**
 * Object tagging: GetObjectTagging / PutObjectTagging / DeleteObjectTagging, x-amz-tagging on
 * PutObject, CreateMultipartUpload and CopyObject (with x-amz-tagging-directive), the tag count
 * on GET and HEAD, and S3's limits (10 tags, keys of 1 to 128 characters, values up to 256).
 * `aws s3 cp` reads an object's tags before every S3-to-S3 multipart copy.
 */

/** A tag set as sorted [key, value] pairs: S3 does not promise an order (RGW sorts by key). */
function pairs(tags: Tag[] | undefined): Array<[string, string]> {
  return (tags ?? []).map((t): [string, string] => [t.Key ?? '', t.Value ?? '']).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function tagsOf(ctx: CheckContext, Bucket: string, Key: string): Promise<Array<[string, string]>> {
  return pairs((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet);
}

function putTags(ctx: CheckContext, Bucket: string, Key: string, tags: Array<[string, string]>) {
  return ctx.s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: tags.map(([Key, Value]) => ({ Key, Value })) } }));
}

export function taggingChecks(getCtx: GetCtx): void {
  test('tagging: an untagged object has an empty TagSet and no tag count; a missing key is NoSuchKey', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg0');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'untagged', Body: 'x' }));
    assert.deepEqual(await tagsOf(ctx, bucket, 'untagged'), []);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'untagged' }))).TagCount, undefined);
    await expectS3Error(ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'missing' })), { codes: ['NoSuchKey'], statuses: [404] }, 'GetObjectTagging of a missing key');
    await expectS3Error(putTags(ctx, bucket, 'missing', [['a', 'b']]), { codes: ['NoSuchKey'], statuses: [404] }, 'PutObjectTagging of a missing key');
  });

  test('tagging: x-amz-tagging on PutObject is stored (URL-encoded keys and values, an empty value); GET and HEAD give the count', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg1');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'tagged', Tagging: 'project=sleap&with%20space=a%2Bb%3Dc%26d&empty=' }));
    assert.deepEqual(await tagsOf(ctx, bucket, 'k'), [['empty', ''], ['project', 'sleap'], ['with space', 'a+b=c&d']]);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).TagCount, 3, 'HeadObject x-amz-tagging-count');
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(got.TagCount, 3, 'GetObject x-amz-tagging-count');
    assert.equal(await got.Body!.transformToString(), 'tagged');
  });

  test('tagging: PutObjectTagging replaces the whole set and DeleteObjectTagging empties it; body, ETag and Last-Modified stay', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg2');
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'stays', Tagging: 'old=1&gone=2' }));
    const before = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    const r = await putTags(ctx, bucket, 'k', [['new', 'ü unicode ✓'], ['blank', ''], ['k:with/chars.-_=+@', 'v']]);
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.deepEqual(await tagsOf(ctx, bucket, 'k'), [['blank', ''], ['k:with/chars.-_=+@', 'v'], ['new', 'ü unicode ✓']]);
    const after = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(after.ETag, put.ETag, 'tagging changed the ETag');
    assert.equal(after.LastModified?.getTime(), before.LastModified?.getTime(), 'tagging changed Last-Modified');
    assert.equal(after.TagCount, 3);
    const d = await ctx.s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    assert.deepEqual(await tagsOf(ctx, bucket, 'k'), []);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).TagCount, undefined, 'no tags: no x-amz-tagging-count');
    assert.equal(await (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }))).Body!.transformToString(), 'stays');
    // Overwriting the object drops its tags: they belong to that version of it.
    await putTags(ctx, bucket, 'k', [['a', '1']]);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'new body' }));
    assert.deepEqual(await tagsOf(ctx, bucket, 'k'), []);
  });

  test('tagging: S3\'s limits: 10 tags, key 128 and value 256 characters (InvalidTag beyond); an empty key; a key given twice (RGW: accepted)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg3');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', Tagging: 'keep=1' }));
    const ten = Array.from({ length: 10 }, (_, i): [string, string] => [`k${i}`, `v${i}`]);
    await putTags(ctx, bucket, 'k', ten);
    await putTags(ctx, bucket, 'k', [['k'.repeat(128), 'v'.repeat(256)]]);
    const refused: Array<[string, Array<[string, string]>]> = [
      ['11 tags', [...ten, ['k10', 'v10']]],
      ['a 129-character key', [['k'.repeat(129), 'v']]],
      ['a 257-character value', [['k', 'v'.repeat(257)]]],
      ['an empty key', [['', 'v']]],
    ];
    for (const [what, tags] of refused) await expectS3Error(putTags(ctx, bucket, 'k', tags), { codes: ['InvalidTag'], statuses: [400] }, `PutObjectTagging with ${what}`);
    assert.deepEqual(await tagsOf(ctx, bucket, 'k'), [['k'.repeat(128), 'v'.repeat(256)]], 'a refused PutObjectTagging changed the tags');
    const twice = putTags(ctx, bucket, 'k', [['dup', '1'], ['dup', '2']]);
    if (ctx.local.strictTagSets) await expectS3Error(twice, { codes: ['InvalidTag'], statuses: [400] }, 'PutObjectTagging with a key given twice');
    else {
      assert.equal((await twice).$metadata.httpStatusCode, 200, `${ctx.target.name} now refuses a duplicate tag key: set localQuirks.strictTagSets`);
      t.diagnostic(`${ctx.target.name} accepts a tag key given twice, as known`);
    }
  });

  test('tagging: x-amz-tagging beyond the limits is refused and nothing is stored (RGW: InvalidArgument); a key given twice or bad percent-encoding: InvalidArgument (RGW: stored)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg4');
    const put = (Key: string, Tagging: string) => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x', Tagging }));
    const over = [
      ['11 tags', Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&')],
      ['a 257-character value', `k=${'v'.repeat(257)}`],
    ];
    for (const [what, tagging] of over) {
      await expectS3Error(put('over', tagging), { codes: [ctx.local.headerTagLimitCode], statuses: [400] }, `PutObject with x-amz-tagging of ${what}`);
    }
    await expectS3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'over' })), { statuses: [404] }, 'the object of a refused PutObject');
    for (const [i, [what, tagging]] of [['a key given twice', 'a=1&a=2'], ['bad percent-encoding', 'a=%zz']].entries()) {
      if (ctx.local.strictTagSets) {
        await expectS3Error(put(`loose-${i}`, tagging), { codes: ['InvalidArgument'], statuses: [400] }, `PutObject with x-amz-tagging of ${what}`);
        await expectS3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `loose-${i}` })), { statuses: [404] }, 'the object of a refused PutObject');
      } else {
        assert.equal((await put(`loose-${i}`, tagging)).$metadata.httpStatusCode, 200, `${ctx.target.name} now refuses x-amz-tagging with ${what}: set localQuirks.strictTagSets`);
        t.diagnostic(`${ctx.target.name} stores an object whose x-amz-tagging has ${what}, as known`);
      }
    }
  });

  test('tagging: CopyObject keeps the source\'s tags (COPY, the default; x-amz-tagging ignored), takes the request\'s with REPLACE (RGW: ignores the directive)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg5');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'tagged source', Tagging: 'from=src&n=1' }));
    const copy = (Key: string, extra: { TaggingDirective?: TaggingDirective; Tagging?: string }) => ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key, CopySource: copySource(bucket, 'src'), ...extra }));
    await copy('default', {});
    await copy('copy', { TaggingDirective: 'COPY', Tagging: 'ignored=1' });
    assert.deepEqual(await tagsOf(ctx, bucket, 'default'), [['from', 'src'], ['n', '1']]);
    assert.deepEqual(await tagsOf(ctx, bucket, 'copy'), [['from', 'src'], ['n', '1']]);
    await copy('replace', { TaggingDirective: 'REPLACE', Tagging: 'to=replace' });
    await copy('replace-none', { TaggingDirective: 'REPLACE' });
    const unknown = () => copy('unknown', { TaggingDirective: 'KEEP' as TaggingDirective });
    if (ctx.local.copyTaggingDirective) {
      assert.deepEqual(await tagsOf(ctx, bucket, 'replace'), [['to', 'replace']]);
      assert.deepEqual(await tagsOf(ctx, bucket, 'replace-none'), []);
      await expectS3Error(unknown(), { codes: ['InvalidArgument'], statuses: [400] }, 'CopyObject with x-amz-tagging-directive KEEP');
      await expectS3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'unknown' })), { statuses: [404] }, 'the refused copy');
    } else {
      assert.deepEqual(await tagsOf(ctx, bucket, 'replace'), [['from', 'src'], ['n', '1']], `${ctx.target.name} now honours x-amz-tagging-directive: set localQuirks.copyTaggingDirective`);
      assert.deepEqual(await tagsOf(ctx, bucket, 'replace-none'), [['from', 'src'], ['n', '1']]);
      assert.equal((await unknown()).$metadata.httpStatusCode, 200);
      t.diagnostic(`${ctx.target.name} ignores x-amz-tagging-directive, as known`);
    }
  });

  test('tagging: x-amz-tagging on CreateMultipartUpload tags the completed object (RGW: dropped)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'tg6');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', Tagging: 'stage=upload&owner=lab' }));
    const part = await uploadPart(ctx, { bucket, key: 'mp', uploadId: UploadId! }, 1, randomBytes(1000));
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [part] } }));
    if (ctx.local.multipartTagging) {
      assert.deepEqual(await tagsOf(ctx, bucket, 'mp'), [['owner', 'lab'], ['stage', 'upload']]);
      assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp' }))).TagCount, 2);
    } else {
      assert.deepEqual(await tagsOf(ctx, bucket, 'mp'), [], `${ctx.target.name} now tags a multipart object from CreateMultipartUpload: set localQuirks.multipartTagging`);
      t.diagnostic(`${ctx.target.name} drops the tags of CreateMultipartUpload, as known`);
    }
    // Tagging after completion works everywhere.
    await putTags(ctx, bucket, 'mp', [['after', 'complete']]);
    assert.deepEqual(await tagsOf(ctx, bucket, 'mp'), [['after', 'complete']]);
  });
}
