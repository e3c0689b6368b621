import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { checksumOf } from './checksums.js';
import { CHECK, expectS3Error, getBytes, newBucket, type CheckContext, type GetCtx } from './helpers.js';

/**
 * PUTs `data` as a hand-built aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER, the framing
 * the SDK uses for stream bodies) whose trailer carries `trailerCrc32`, signed with SigV4 by
 * @smithy/signature-v4. Built by hand so the trailer can be wrong, which the SDK never does.
 */
async function chunkedPut(ctx: CheckContext, bucket: string, key: string, data: Buffer, trailerCrc32: string): Promise<{ status: number; text: string }> {
  const half = Math.floor(data.length / 2);
  const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
  const body = Buffer.concat([chunk(data.subarray(0, half)), chunk(data.subarray(half)), Buffer.from(`0\r\nx-amz-checksum-crc32:${trailerCrc32}\r\n\r\n`)]);
  const url = new URL(ctx.target.endpoint);
  const request = new HttpRequest({
    method: 'PUT',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: `/${bucket}/${key}`,
    headers: {
      host: url.host,
      'content-encoding': 'aws-chunked',
      'content-length': String(body.length),
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-sdk-checksum-algorithm': 'CRC32',
    },
  });
  const signer = new SignatureV4({
    service: 's3',
    region: ctx.target.region,
    credentials: { accessKeyId: ctx.target.accessKeyId, secretAccessKey: ctx.target.secretAccessKey },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(request);
  const res = await fetch(`${ctx.target.endpoint}/${bucket}/${key}`, { method: 'PUT', headers: signed.headers, body: body as Uint8Array<ArrayBuffer> });
  return { status: res.status, text: await res.text() };
}

export function awsChunkedChecks(getCtx: GetCtx): void {
  test('checksum: aws-chunked body with a right CRC32 trailer is stored decoded; a wrong trailer gives 400 BadDigest (RGW: refused)', CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'ck-chunk');
    const data = randomBytes(200 * 1024 + 5);
    const good = await chunkedPut(ctx, bucket, 'good', data, checksumOf('CRC32', data));
    if (!ctx.local.chunkedTrailers) {
      // Local quirk chunkedTrailers=false: RGW 16 does not know this framing. Pin what it does.
      t.diagnostic(`${ctx.target.name} answered ${good.status} to an aws-chunked trailer upload`);
      assert.ok(good.status >= 400, `${ctx.target.name} now accepts aws-chunked trailers (${good.status}): flip its chunkedTrailers quirk`);
      return;
    }
    assert.equal(good.status, 200, good.text.slice(0, 300));
    const got = await getBytes(ctx, bucket, 'good');
    assert.equal(got.body.length, data.length, 'chunk framing leaked into the object');
    assert.ok(got.body.equals(data));

    const wrong = checksumOf('CRC32', Buffer.concat([data, Buffer.from('!')]));
    const bad = await chunkedPut(ctx, bucket, 'bad', data, wrong);
    assert.equal(bad.status, 400, `a wrong CRC32 trailer answered ${bad.status}: ${bad.text.slice(0, 300)}`);
    assert.match(bad.text, /<Code>(BadDigest|InvalidRequest)<\/Code>/);
    await expectS3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bad' })), { codes: ['NoSuchKey'] }, 'GetObject of the refused PUT');
  });
}
