import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32 } from '@aws-crypto/crc32';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type ChecksumType,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { checksumOf, sdkCrc64nvme } from './checksums.js';
import { CHECK, MiB, expectS3Error, newBucket, sdkDefaultClient, type CheckContext, type GetCtx } from './helpers.js';

/**
 * Multipart checksums: an upload created with x-amz-checksum-algorithm gets a checksum of that
 * algorithm per part and one for the object, COMPOSITE (of the part checksums, "<b64>-<n>") or
 * FULL_OBJECT (of every byte: what `x-amz-checksum-type: FULL_OBJECT` asks for, and the only type
 * of CRC64NVME). CRCs can be FULL_OBJECT, SHAs only COMPOSITE. The client's value of the object
 * checksum goes in the Complete request's headers. Expected values are computed independently:
 * @aws-crypto for CRC32 / CRC32C, the SDK's own CRC64NVME.
 */

type Crc = 'CRC32' | 'CRC32C' | 'CRC64NVME';
const FIELD = { CRC32: 'ChecksumCRC32', CRC32C: 'ChecksumCRC32C', CRC64NVME: 'ChecksumCRC64NVME' } as const;

async function fullChecksum(ctx: CheckContext, bucket: string, alg: Crc, body: Buffer): Promise<string> {
  return alg === 'CRC64NVME' ? sdkCrc64nvme(ctx, bucket, 'whole-object-crc64', body) : checksumOf(alg, body);
}

/** Creates an upload of `alg` / `type` and uploads `parts` with the SDK computing each part's checksum. */
async function upload(ctx: CheckContext, bucket: string, key: string, alg: ChecksumAlgorithm, type: ChecksumType | undefined, parts: Buffer[]): Promise<{ uploadId: string; done: CompletedPart[]; created: { ChecksumAlgorithm?: string; ChecksumType?: string } }> {
  const created = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: alg, ...(type ? { ChecksumType: type } : {}) }));
  const uploadId = created.UploadId!;
  const done: CompletedPart[] = [];
  for (const [i, body] of parts.entries()) {
    const r = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: alg }));
    const field = `Checksum${alg}` as keyof typeof r;
    done.push({ PartNumber: i + 1, ETag: r.ETag, ...(r[field] ? { [field]: r[field] } : {}) });
  }
  return { uploadId, done, created };
}

export function multipartChecksumChecks(getCtx: GetCtx): void {
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    test(`multipart checksum: ${alg} FULL_OBJECT: Complete checks the client's whole-object ${alg}, the object keeps it and the SDK validates a GET with it (RGW: ignored)`, { timeout: 60_000 }, async (t) => {
      const ctx = getCtx();
      const bucket = await newBucket(ctx, `fo-${alg.toLowerCase()}`);
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 3)];
      const body = Buffer.concat(parts);
      const full = await fullChecksum(ctx, bucket, alg, body);
      const { uploadId, done, created } = await upload(ctx, bucket, 'full.bin', alg, 'FULL_OBJECT', parts);
      const complete = (value: string) =>
        ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'full.bin', UploadId: uploadId, MultipartUpload: { Parts: done }, ChecksumType: 'FULL_OBJECT', [FIELD[alg]]: value, MpuObjectSize: body.length }));
      if (!ctx.local.validatesFlexibleChecksums) {
        assert.equal(created.ChecksumType, undefined, `${ctx.target.name} now answers x-amz-checksum-type: revisit localQuirks.validatesFlexibleChecksums`);
        const r = await complete(full);
        assert.equal(r[FIELD[alg]], undefined);
        assert.ok(Buffer.from(await (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'full.bin' }))).Body!.transformToByteArray()).equals(body));
        return t.diagnostic(`${ctx.target.name} ignores multipart checksums, as known`);
      }
      assert.deepEqual([created.ChecksumAlgorithm, created.ChecksumType], [alg, 'FULL_OBJECT']);
      // A wrong whole-object checksum: BadDigest, and the upload is still there to complete.
      const wrong = await fullChecksum(ctx, bucket, alg, body.subarray(1));
      await expectS3Error(complete(wrong), { codes: ['BadDigest'], statuses: [400] }, `Complete with a wrong FULL_OBJECT ${alg}`);
      await expectS3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'full.bin' })), { statuses: [404] }, 'the object of the refused Complete');
      const r = await complete(full);
      assert.equal(r[FIELD[alg]], full, `CompleteMultipartUploadResult ${FIELD[alg]}`);
      assert.equal(r.ChecksumType, 'FULL_OBJECT');
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'full.bin', ChecksumMode: 'ENABLED' }));
      assert.deepEqual([head[FIELD[alg]], head.ChecksumType], [full, 'FULL_OBJECT']);
      const client = sdkDefaultClient(ctx.target);
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'full.bin', ChecksumMode: 'ENABLED' }));
        assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body), 'the SDK read back other bytes');
      } finally {
        client.destroy();
      }
    });
  }

  test('multipart checksum: FULL_OBJECT without a value from the client: the store makes the whole-object CRC32C from the parts\' (RGW: none)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'fo-server');
    const parts = [randomBytes(5 * MiB), randomBytes(17)];
    const { uploadId, done } = await upload(ctx, bucket, 'k', 'CRC32C', 'FULL_OBJECT', parts);
    const r = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, MultipartUpload: { Parts: done } }));
    if (!ctx.local.validatesFlexibleChecksums) return assert.equal(r.ChecksumCRC32C, undefined);
    assert.deepEqual([r.ChecksumCRC32C, r.ChecksumType], [checksumOf('CRC32C', Buffer.concat(parts)), 'FULL_OBJECT']);
  });

  test('multipart checksum: CRC32 without a type is COMPOSITE ("<crc32 of the part crc32s>-<n>"); CRC64NVME without a type is FULL_OBJECT (RGW: ignored)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'mpck-default');
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(100)];
    const composite = await upload(ctx, bucket, 'composite', 'CRC32', undefined, parts);
    const r = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'composite', UploadId: composite.uploadId, MultipartUpload: { Parts: composite.done } }));
    const crc64 = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'crc64', ChecksumAlgorithm: 'CRC64NVME' }));
    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'crc64', UploadId: crc64.UploadId }));
    if (!ctx.local.validatesFlexibleChecksums) return assert.equal(r.ChecksumCRC32, undefined);
    const partCrcs = Buffer.concat(parts.map((p) => Buffer.from(checksumOf('CRC32', p), 'base64')));
    const be = Buffer.alloc(4);
    be.writeUInt32BE(crc32(partCrcs));
    assert.deepEqual([r.ChecksumCRC32, r.ChecksumType], [`${be.toString('base64')}-3`, 'COMPOSITE']);
    assert.deepEqual([composite.created.ChecksumType, crc64.ChecksumType], ['COMPOSITE', 'FULL_OBJECT']);
  });

  test('multipart checksum: combinations S3 refuses (SHA256 / SHA1 FULL_OBJECT, CRC64NVME COMPOSITE, a type without an algorithm) and a Complete of another type: 400 InvalidRequest (RGW: accepted)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'mpck-bad');
    const combos: Array<[ChecksumAlgorithm | undefined, ChecksumType]> = [['SHA256', 'FULL_OBJECT'], ['SHA1', 'FULL_OBJECT'], ['CRC64NVME', 'COMPOSITE'], [undefined, 'FULL_OBJECT']];
    for (const [alg, type] of combos) {
      const create = ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k', ...(alg ? { ChecksumAlgorithm: alg } : {}), ChecksumType: type }));
      if (!ctx.local.validatesFlexibleChecksums) {
        const r = await create;
        await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId: r.UploadId }));
        continue;
      }
      const e = await expectS3Error(create, { codes: ['InvalidRequest'], statuses: [400] }, `CreateMultipartUpload ${alg ?? '(no algorithm)'} ${type}`);
      if (alg) assert.match(e.message, new RegExp(`The ${type} checksum type cannot be used with the ${alg.toLowerCase()} checksum algorithm`));
    }
    const parts = [randomBytes(1000)];
    const u = await upload(ctx, bucket, 'mode', 'CRC32', 'COMPOSITE', parts);
    const complete = ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mode', UploadId: u.uploadId, MultipartUpload: { Parts: u.done }, ChecksumType: 'FULL_OBJECT', ChecksumCRC32: checksumOf('CRC32', parts[0]) }));
    if (!ctx.local.validatesFlexibleChecksums) {
      await complete;
      return t.diagnostic(`${ctx.target.name} accepts every checksum combination, as known`);
    }
    await expectS3Error(complete, { codes: ['InvalidRequest'], statuses: [400] }, 'a FULL_OBJECT Complete of a COMPOSITE upload');
    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mode', UploadId: u.uploadId }));
  });
}
