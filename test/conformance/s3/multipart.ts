import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { CHECK, MiB, expectS3Error, getBytes, md5hex, multipartEtag, newBucket, quoted, type CheckContext, type GetCtx } from './helpers.js';

export interface Upload {
  bucket: string;
  key: string;
  uploadId: string;
}

export async function createUpload(ctx: CheckContext, prefix = 'mp', key = 'multi/object.bin'): Promise<Upload> {
  const bucket = await newBucket(ctx, prefix);
  const r = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  assert.ok(r.UploadId, 'CreateMultipartUpload gave no UploadId');
  return { bucket, key, uploadId: r.UploadId };
}

export async function uploadPart(ctx: CheckContext, u: Upload, PartNumber: number, body: Uint8Array): Promise<CompletedPart> {
  const r = await ctx.s3.send(new UploadPartCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId, PartNumber, Body: body }));
  assert.equal(r.ETag, quoted(md5hex(body)), `UploadPart ${PartNumber} ETag is not the md5 of the part`);
  return { PartNumber, ETag: r.ETag };
}

/** The ETag of a completed object, from HeadObject where Complete answers an empty one (RGW). */
async function completedEtag(ctx: CheckContext, u: Upload, fromComplete: string | undefined): Promise<string | undefined> {
  if (!ctx.target.quirks.completeEtagEmpty) return fromComplete;
  return (await ctx.s3.send(new HeadObjectCommand({ Bucket: u.bucket, Key: u.key }))).ETag;
}

function complete(ctx: CheckContext, u: Upload, Parts: CompletedPart[]) {
  return ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId, MultipartUpload: { Parts } }));
}

export function multipartChecks(getCtx: GetCtx): void {
  test('multipart: 5 MiB + 5 MiB + 1 MiB parts complete to "<md5 of part md5s>-3" and read back identical', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx);
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1 * MiB)];
    const done = await Promise.all(parts.map((p, i) => uploadPart(ctx, u, i + 1, p)));
    const r = await complete(ctx, u, done);
    assert.equal(r.Key, u.key);
    const expected = multipartEtag(parts);
    assert.equal(await completedEtag(ctx, u, r.ETag), expected);
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: u.bucket, Key: u.key }));
    assert.equal(head.ContentLength, 11 * MiB);
    assert.equal(head.ETag, expected, 'HeadObject ETag differs from the multipart ETag');
    const got = await getBytes(ctx, u.bucket, u.key);
    assert.ok(got.body.equals(Buffer.concat(parts)), 'completed object differs from the concatenated parts');
    const tail = await getBytes(ctx, u.bucket, u.key, `bytes=${5 * MiB - 3}-${5 * MiB + 2}`);
    assert.ok(tail.body.equals(Buffer.concat(parts).subarray(5 * MiB - 3, 5 * MiB + 3)), 'a Range across a part boundary is wrong');
  });

  test('multipart: ListParts pages with MaxParts=2 and PartNumberMarker', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'lp');
    const bodies = Array.from({ length: 5 }, () => randomBytes(1024));
    // Parts out of number order: the listing must still be sorted.
    for (const n of [3, 1, 5, 2, 4]) await uploadPart(ctx, u, n, bodies[n - 1]);
    const pages: number[][] = [];
    let marker: string | undefined;
    for (;;) {
      const r = await ctx.s3.send(new ListPartsCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId, MaxParts: 2, PartNumberMarker: marker }));
      pages.push((r.Parts ?? []).map((p) => p.PartNumber!));
      for (const p of r.Parts ?? []) {
        assert.equal(p.ETag, quoted(md5hex(bodies[p.PartNumber! - 1])));
        assert.equal(p.Size, 1024);
      }
      if (!r.IsTruncated) break;
      assert.equal(String(r.NextPartNumberMarker), String(pages.at(-1)!.at(-1)), 'NextPartNumberMarker is not the last part listed');
      marker = String(r.NextPartNumberMarker);
      assert.ok(pages.length <= 5, 'ListParts does not end');
    }
    assert.deepEqual(pages, [[1, 2], [3, 4], [5]]);
    const fromMarker = await ctx.s3.send(new ListPartsCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId, PartNumberMarker: '3' }));
    assert.deepEqual(fromMarker.Parts?.map((p) => p.PartNumber), [4, 5]);
    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId }));
  });

  test('multipart: ListMultipartUploads shows an open upload and drops it after Complete', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'lmu', 'pending/x.bin');
    const open = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: u.bucket }));
    assert.deepEqual(open.Uploads?.map((x) => [x.Key, x.UploadId]), [[u.key, u.uploadId]]);
    const byPrefix = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: u.bucket, Prefix: 'other/' }));
    assert.equal(byPrefix.Uploads?.length ?? 0, 0, 'Prefix does not filter uploads');
    const part = await uploadPart(ctx, u, 1, randomBytes(100)); // a lone last part may be small
    await complete(ctx, u, [part]);
    const after = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: u.bucket }));
    assert.equal(after.Uploads?.length ?? 0, 0, 'the completed upload is still listed');
  });

  test('multipart: uploading a part number again replaces it', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'over');
    const first = randomBytes(5 * MiB);
    const second = randomBytes(5 * MiB);
    const last = randomBytes(1000);
    await uploadPart(ctx, u, 1, first);
    const p1 = await uploadPart(ctx, u, 1, second);
    const p2 = await uploadPart(ctx, u, 2, last);
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, p1.ETag, 5 * MiB], [2, p2.ETag, 1000]]);
    const r = await complete(ctx, u, [p1, p2]);
    assert.equal(await completedEtag(ctx, u, r.ETag), multipartEtag([second, last]));
    const got = await getBytes(ctx, u.bucket, u.key);
    assert.ok(got.body.equals(Buffer.concat([second, last])), 'the object holds the replaced part');
  });

  test('multipart: AbortMultipartUpload, then ListParts, UploadPart and Complete find no upload', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'abort');
    const part = await uploadPart(ctx, u, 1, randomBytes(1000));
    const r = await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId }));
    assert.equal(r.$metadata.httpStatusCode, 204);
    const gone = ctx.local.listPartsGoneCode;
    await expectS3Error(ctx.s3.send(new ListPartsCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId })), { codes: [gone], statuses: [404] }, 'ListParts after Abort');
    await expectS3Error(ctx.s3.send(new UploadPartCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId, PartNumber: 2, Body: 'late' })), { codes: ['NoSuchUpload'], statuses: [404] }, 'UploadPart after Abort');
    const completeGone = ctx.local.completeGoneCode;
    await expectS3Error(complete(ctx, u, [part]), { codes: [completeGone], statuses: [completeGone === 'NoSuchUpload' ? 404 : 500] }, 'Complete after Abort');
    const list = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: u.bucket }));
    assert.equal(list.Uploads?.length ?? 0, 0, 'the aborted upload is still listed');
    await expectS3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: u.bucket, Key: u.key })), { statuses: [404] }, 'HeadObject of the aborted upload');
  });

  test('multipart: Complete with parts out of order fails with InvalidPartOrder', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'order');
    const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB)];
    const p1 = await uploadPart(ctx, u, 1, bodies[0]);
    const p2 = await uploadPart(ctx, u, 2, bodies[1]);
    if (ctx.local.checksPartOrder) {
      await expectS3Error(complete(ctx, u, [p2, p1]), { codes: ['InvalidPartOrder'], statuses: [400] }, 'Complete [2, 1]');
      return;
    }
    // Local quirk checksPartOrder=false (RGW 16): the list is sorted, never assembled as given.
    await complete(ctx, u, [p2, p1]);
    assert.ok((await getBytes(ctx, u.bucket, u.key)).body.equals(Buffer.concat(bodies)), 'parts were assembled in list order');
  });

  test('multipart: Complete naming a part never uploaded fails with InvalidPart', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'missing');
    const p1 = await uploadPart(ctx, u, 1, randomBytes(5 * MiB));
    await expectS3Error(complete(ctx, u, [p1, { PartNumber: 2, ETag: quoted(md5hex(Buffer.from('never sent'))) }]), { codes: ['InvalidPart'], statuses: [400] }, 'Complete with a missing part 2');
  });

  test('multipart: Complete with a wrong part ETag fails with InvalidPart', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'badetag');
    const p1 = await uploadPart(ctx, u, 1, randomBytes(5 * MiB));
    const p2 = await uploadPart(ctx, u, 2, randomBytes(1000));
    await expectS3Error(complete(ctx, u, [p1, { PartNumber: 2, ETag: quoted('0'.repeat(32)) }]), { codes: ['InvalidPart'], statuses: [400] }, 'Complete with a wrong ETag');
    // The upload survives a refused Complete.
    const r = await complete(ctx, u, [p1, p2]);
    assert.equal(r.Key, u.key);
  });

  test('multipart: a non-last part under 5 MiB fails Complete with EntityTooSmall', CHECK, async () => {
    const ctx = getCtx();
    const u = await createUpload(ctx, 'small');
    const p1 = await uploadPart(ctx, u, 1, randomBytes(5 * MiB - 1));
    const p2 = await uploadPart(ctx, u, 2, randomBytes(1000));
    await expectS3Error(complete(ctx, u, [p1, p2]), { codes: ['EntityTooSmall'], statuses: [400] }, 'Complete with a 5 MiB - 1 first part');
  });

  test('multipart: UploadPart to an unknown upload id fails with NoSuchUpload', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'noup');
    const send = ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: '2~' + randomBytes(16).toString('hex'), PartNumber: 1, Body: randomBytes(100) }));
    await expectS3Error(send, { codes: ['NoSuchUpload'], statuses: [404] }, 'UploadPart');
  });
}
