import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { crc32 } from '@aws-crypto/crc32';
import { crc32c } from '@aws-crypto/crc32c';
import { GetObjectCommand, PutObjectCommand, type ChecksumAlgorithm } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CHECK, expectS3Error, getBytes, newBucket, recordSentHeaders, sdkDefaultClient, type CheckContext, type GetCtx } from './helpers.js';

function be32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

/** The base64 checksum S3 puts in x-amz-checksum-<alg>, computed independently of the SDK. */
export function checksumOf(alg: 'CRC32' | 'CRC32C' | 'SHA256', data: Uint8Array): string {
  if (alg === 'CRC32') return be32(crc32(data));
  if (alg === 'CRC32C') return be32(crc32c(data));
  return createHash('sha256').update(data).digest('base64');
}

const ECHO = { CRC32: 'ChecksumCRC32', CRC32C: 'ChecksumCRC32C', SHA256: 'ChecksumSHA256' } as const;

/**
 * The CRC64NVME of `body` as the v3 SDK computes it (its own implementation, independent of the
 * store's): read off the x-amz-checksum-crc64nvme header of a PutObject of `body` to `key`.
 */
export async function sdkCrc64nvme(ctx: CheckContext, bucket: string, key: string, body: Uint8Array): Promise<string> {
  const client = sdkDefaultClient(ctx.target);
  const sent = recordSentHeaders(client);
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'CRC64NVME' }));
  } finally {
    client.destroy();
  }
  const value = sent.last()['x-amz-checksum-crc64nvme'];
  assert.ok(value, 'the SDK sent no x-amz-checksum-crc64nvme header for a Buffer body');
  return value;
}

export function checksumChecks(getCtx: GetCtx): void {
  for (const alg of ['CRC32', 'CRC32C', 'SHA256'] as const) {
    test(`checksum: PutObject with ChecksumAlgorithm ${alg} (SDK default client, Buffer body) is accepted`, CHECK, async () => {
      const ctx = getCtx();
      const bucket = await newBucket(ctx, `ck-${alg.toLowerCase()}`);
      const body = randomBytes(256 * 1024 + 3);
      const client = sdkDefaultClient(ctx.target);
      try {
        const r = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: body, ChecksumAlgorithm: alg as ChecksumAlgorithm }));
        assert.equal(r.$metadata.httpStatusCode, 200);
        const echoed = r[ECHO[alg]];
        // RGW 16 ignores flexible checksums and echoes nothing; a server that echoes must echo ours.
        if (echoed !== undefined) assert.equal(echoed, checksumOf(alg, body), `server echoed another ${alg}`);
      } finally {
        client.destroy();
      }
      assert.ok((await getBytes(ctx, bucket, 'c')).body.equals(body));
    });
  }

  test('checksum: PutObject with a stream body and the project\'s client (no trailers) is accepted', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-stream');
    const body = randomBytes(1024 * 1024 + 7);
    const r = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 's', Body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), ContentLength: body.length }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.ok((await getBytes(ctx, bucket, 's')).body.equals(body));
  });

  test('checksum: PutObject with a stream body and aws-chunked CRC32 trailer (SDK default) is accepted (RGW: 411)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-trailer');
    const body = randomBytes(1024 * 1024 + 7);
    const client = sdkDefaultClient(ctx.target);
    const put = () => client.send(new PutObjectCommand({ Bucket: bucket, Key: 't', Body: Readable.from([body.subarray(0, 5000), body.subarray(5000)]), ContentLength: body.length, ChecksumAlgorithm: 'CRC32' }));
    if (!ctx.local.chunkedTrailers) {
      // Local quirk chunkedTrailers=false (RGW 16): pinned, so a fix or a new failure shows up.
      try {
        await expectS3Error(put(), { statuses: [411] }, 'aws-chunked PutObject');
      } finally {
        client.destroy();
      }
      return t.diagnostic(`${ctx.target.name} refuses aws-chunked trailers with 411, as known`);
    }
    try {
      const r = await put();
      assert.equal(r.$metadata.httpStatusCode, 200);
      if (r.ChecksumCRC32 !== undefined) assert.equal(r.ChecksumCRC32, checksumOf('CRC32', body));
    } finally {
      client.destroy();
    }
    const got = await getBytes(ctx, bucket, 't');
    assert.equal(got.body.length, body.length, 'aws-chunked framing leaked into the object (or was cut)');
    assert.ok(got.body.equals(body), 'the stored object is not the decoded body');
  });

  test('checksum: a wrong x-amz-checksum-crc32 fails with 400 BadDigest and stores nothing (RGW: ignored)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-bad');
    const body = randomBytes(4096);
    const wrong = checksumOf('CRC32', Buffer.concat([body, Buffer.from([1])]));
    if (!ctx.local.validatesFlexibleChecksums) {
      // Local quirk validatesFlexibleChecksums=false (RGW 16 ignores x-amz-checksum-*): pinned, and a
      // warning for client code that x-amz-checksum-* protects nothing there (Content-MD5 does).
      const r = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: body, ChecksumCRC32: wrong }));
      assert.equal(r.$metadata.httpStatusCode, 200);
      return t.diagnostic(`${ctx.target.name} stored a body with a wrong CRC32, as known`);
    }
    await expectS3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: body, ChecksumCRC32: wrong })), { codes: ['BadDigest', 'InvalidRequest'], statuses: [400] }, 'PutObject with a wrong CRC32');
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bad' })), { codes: ['NoSuchKey'] }, 'GetObject of the refused PUT');
    const ok = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'good', Body: body, ChecksumCRC32: checksumOf('CRC32', body) }));
    assert.equal(ok.$metadata.httpStatusCode, 200, 'the right CRC32 must be accepted');
  });

  test('checksum: a presigned PUT from an SDK-default client (signs the CRC32 of an empty body) is refused with BadDigest (RGW: stored)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-presign');
    const client = sdkDefaultClient(ctx.target);
    let url: string;
    try {
      url = await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: 'p' }), { expiresIn: 60 });
    } finally {
      client.destroy();
    }
    assert.match(url, /x-amz-checksum-crc32=AAAAAA/i, 'the SDK no longer signs an empty-body CRC32 into presigned PUTs; this check is moot');
    const res = await fetch(url, { method: 'PUT', body: 'not empty' });
    const text = await res.text();
    if (!ctx.local.validatesFlexibleChecksums) {
      assert.equal(res.status, 200, text);
      return t.diagnostic(`${ctx.target.name} stored a body whose signed CRC32 is wrong, as known`);
    }
    assert.equal(res.status, 400, `answered ${res.status}: ${text.slice(0, 300)}`);
    assert.match(text, /<Code>(BadDigest|InvalidRequest)<\/Code>/);
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'p' })), { codes: ['NoSuchKey'] }, 'GetObject of the refused PUT');
  });

  test('checksum: CRC64NVME in a header (SDK, Buffer body): verified, kept, echoed; GetObject with checksum mode gives it and the SDK validates the body (RGW: ignored)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-crc64');
    const body = randomBytes(300 * 1024 + 5);
    const client = sdkDefaultClient(ctx.target);
    const sent = recordSentHeaders(client);
    try {
      const r = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: body, ChecksumAlgorithm: 'CRC64NVME' }));
      const sdkValue = sent.last()['x-amz-checksum-crc64nvme'];
      assert.match(sdkValue ?? '', /^[A-Za-z0-9+/]{11}=$/, 'the SDK sent no CRC64NVME');
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', ChecksumMode: 'ENABLED' }));
      // The SDK (responseChecksumValidation) checks the body against the CRC64NVME it is given.
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
      if (!ctx.local.validatesFlexibleChecksums) {
        assert.equal(r.ChecksumCRC64NVME, undefined, `${ctx.target.name} now echoes CRC64NVME: revisit localQuirks.validatesFlexibleChecksums`);
        return t.diagnostic(`${ctx.target.name} ignores CRC64NVME, as known`);
      }
      assert.equal(r.ChecksumCRC64NVME, sdkValue, 'PutObject echoed another CRC64NVME than the SDK computed');
      assert.equal(got.ChecksumCRC64NVME, sdkValue, 'GetObject (checksum mode) gave another CRC64NVME');
      assert.equal(got.ChecksumType, 'FULL_OBJECT');
    } finally {
      client.destroy();
    }
  });

  test('checksum: CRC64NVME as the aws-chunked trailer of a stream body (SDK default) decodes and is kept (RGW: 411)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-crc64t');
    const body = randomBytes(1024 * 1024 + 9);
    const client = sdkDefaultClient(ctx.target);
    const put = () => client.send(new PutObjectCommand({ Bucket: bucket, Key: 't', Body: Readable.from([body.subarray(0, 7000), body.subarray(7000)]), ContentLength: body.length, ChecksumAlgorithm: 'CRC64NVME' }));
    try {
      if (!ctx.local.chunkedTrailers) {
        await expectS3Error(put(), { statuses: [411] }, 'aws-chunked PutObject with a CRC64NVME trailer');
        return t.diagnostic(`${ctx.target.name} refuses aws-chunked trailers with 411, as known`);
      }
      const r = await put();
      assert.equal(r.ChecksumCRC64NVME, await sdkCrc64nvme(ctx, bucket, 'same-as-header', body), 'the trailer\'s CRC64NVME is not the SDK\'s CRC64NVME of the body');
    } finally {
      client.destroy();
    }
    assert.ok((await getBytes(ctx, bucket, 't')).body.equals(body), 'the stored object is not the decoded body');
  });

  test('checksum: a wrong x-amz-checksum-crc64nvme fails with 400 BadDigest and stores nothing (RGW: stored)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-crc64bad');
    const body = randomBytes(4096);
    const right = await sdkCrc64nvme(ctx, bucket, 'right', body);
    const wrong = await sdkCrc64nvme(ctx, bucket, 'other', Buffer.concat([body, Buffer.from([1])]));
    const put = () => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: body, ChecksumCRC64NVME: wrong }));
    if (!ctx.local.validatesFlexibleChecksums) {
      assert.equal((await put()).$metadata.httpStatusCode, 200);
      return t.diagnostic(`${ctx.target.name} stored a body with a wrong CRC64NVME, as known`);
    }
    await expectS3Error(put(), { codes: ['BadDigest'], statuses: [400] }, 'PutObject with a wrong CRC64NVME');
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bad' })), { codes: ['NoSuchKey'] }, 'GetObject of the refused PUT');
    const ok = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'good', Body: body, ChecksumCRC64NVME: right }));
    assert.equal(ok.ChecksumCRC64NVME, right);
  });

  test('checksum: a wrong Content-MD5 fails with 400 BadDigest and stores nothing', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-md5');
    const body = randomBytes(4096);
    const wrong = createHash('md5').update('something else').digest('base64');
    await expectS3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: body, ContentMD5: wrong })), { codes: ['BadDigest'], statuses: [400] }, 'PutObject with a wrong Content-MD5');
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bad' })), { codes: ['NoSuchKey'] }, 'GetObject of the refused PUT');
    const ok = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'good', Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }));
    assert.equal(ok.$metadata.httpStatusCode, 200, 'the right Content-MD5 must be accepted');
  });
}
