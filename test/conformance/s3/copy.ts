import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { bareEtag } from '../../../src/core/etag.js';
import { CHECK, MiB, expectS3Error, getBytes, ifMatchValue, md5hex, multipartEtag, newBucket, quoted, type CheckContext, type GetCtx } from './helpers.js';
import { createUpload, uploadPart } from './multipart.js';
import { SPECIAL_KEYS } from './objects.js';

/**
 * Server-side copies (CopyObject, UploadPartCopy): what `aws s3 mv`, S3-to-S3 `aws s3 cp`,
 * `rclone sync` after a changed mtime, mount renames and boto3's `copy` send.
 */

/** The ETag of a CopyObjectResult / CopyPartResult, quoted; asserts the target's own quoting exactly. */
function resultEtag(ctx: CheckContext, etag: string | undefined): string {
  assert.ok(etag, 'the copy result has no ETag');
  const isQuoted = /^".*"$/.test(etag);
  assert.equal(isQuoted, !ctx.local.copyResultEtagUnquoted, `${ctx.target.name} ${isQuoted ? 'now quotes' : 'does not quote'} the ETag of a copy result (${etag}): update localQuirks.copyResultEtagUnquoted`);
  return quoted(bareEtag(etag));
}

/** x-amz-copy-source as S3 wants it: "bucket/key", every key segment URL-encoded. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function put(ctx: CheckContext, bucket: string, key: string, body: Uint8Array | string, extra: { ContentType?: string; Metadata?: Record<string, string>; CacheControl?: string } = {}) {
  return ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
}

function head(ctx: CheckContext, Bucket: string, Key: string) {
  return ctx.s3.send(new HeadObjectCommand({ Bucket, Key }));
}

/** A 12 MiB + 5 object made of three parts (5 MiB, 5 MiB, 2 MiB + 5). */
async function multipartSource(ctx: CheckContext, prefix: string): Promise<{ bucket: string; key: string; parts: Buffer[]; body: Buffer }> {
  const u = await createUpload(ctx, prefix, 'source/multi.bin');
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(2 * MiB + 5)];
  const done = await Promise.all(parts.map((p, i) => uploadPart(ctx, u, i + 1, p)));
  await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: u.uploadId, MultipartUpload: { Parts: done } }));
  return { bucket: u.bucket, key: u.key, parts, body: Buffer.concat(parts) };
}

export function copyChecks(getCtx: GetCtx): void {
  test('copy: CopyObject in a bucket and to another: same bytes, md5 ETag, metadata kept (COPY), CopyObjectResult ETag and LastModified', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cp');
    const other = await newBucket(ctx, 'cpdst');
    const body = randomBytes(300 * 1024 + 7);
    await put(ctx, bucket, 'src/a.bin', body, { ContentType: 'application/x-sleap', Metadata: { mtime: '1700000000.5', who: 'labeler' }, CacheControl: 'max-age=60' });
    for (const [dstBucket, dstKey] of [[bucket, 'dst/a copy.bin'], [other, 'src/a.bin']] as const) {
      const r = await ctx.s3.send(new CopyObjectCommand({ Bucket: dstBucket, Key: dstKey, CopySource: copySource(bucket, 'src/a.bin') }));
      assert.equal(r.$metadata.httpStatusCode, 200);
      assert.equal(resultEtag(ctx, r.CopyObjectResult?.ETag), quoted(md5hex(body)), 'CopyObjectResult ETag is not the md5 of the bytes');
      assert.ok(r.CopyObjectResult?.LastModified instanceof Date && !Number.isNaN(r.CopyObjectResult.LastModified.getTime()), 'CopyObjectResult has no LastModified');
      const h = await head(ctx, dstBucket, dstKey);
      assert.equal(h.ETag, resultEtag(ctx, r.CopyObjectResult?.ETag));
      assert.equal(h.ContentType, 'application/x-sleap');
      assert.equal(h.CacheControl, 'max-age=60');
      assert.deepEqual(h.Metadata, { mtime: '1700000000.5', who: 'labeler' });
      // Both HTTP dates: second precision.
      assert.equal(h.LastModified?.getTime(), Math.floor(r.CopyObjectResult!.LastModified!.getTime() / 1000) * 1000, 'HeadObject LastModified differs from the copy result');
      assert.ok((await getBytes(ctx, dstBucket, dstKey)).body.equals(body), `the copy at ${dstBucket}/${dstKey} differs from the source`);
    }
    assert.ok((await getBytes(ctx, bucket, 'src/a.bin')).body.equals(body), 'the source changed');
  });

  test('copy: a 0-byte object copies to a 0-byte object', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cp0');
    await put(ctx, bucket, 'empty', new Uint8Array(0));
    const r = await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'empty2', CopySource: copySource(bucket, 'empty') }));
    assert.equal(resultEtag(ctx, r.CopyObjectResult?.ETag), quoted(md5hex(new Uint8Array(0))));
    assert.equal((await head(ctx, bucket, 'empty2')).ContentLength, 0);
  });

  test('copy: MetadataDirective REPLACE takes the request\'s content type and metadata; onto itself it is the mtime/chmod update', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cprep');
    const body = randomBytes(4096);
    await put(ctx, bucket, 'f.slp', body, { ContentType: 'text/plain', Metadata: { mtime: '1', mode: '33188' } });
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'g.slp', CopySource: copySource(bucket, 'f.slp'), MetadataDirective: 'REPLACE', ContentType: 'application/octet-stream', Metadata: { new: 'yes' } }));
    const g = await head(ctx, bucket, 'g.slp');
    assert.equal(g.ContentType, 'application/octet-stream');
    assert.deepEqual(g.Metadata, { new: 'yes' }, 'REPLACE kept the source\'s metadata');
    // COPY ignores the request's metadata.
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'h.slp', CopySource: copySource(bucket, 'f.slp'), Metadata: { ignored: 'yes' } }));
    assert.deepEqual((await head(ctx, bucket, 'h.slp')).Metadata, { mtime: '1', mode: '33188' });
    // Onto itself: what rclone does after a file's mtime changed, s3fs on chmod and touch.
    const self = await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'f.slp', CopySource: copySource(bucket, 'f.slp'), MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { mtime: '2', mode: '33261' } }));
    assert.equal(resultEtag(ctx, self.CopyObjectResult?.ETag), quoted(md5hex(body)));
    const f = await head(ctx, bucket, 'f.slp');
    assert.deepEqual(f.Metadata, { mtime: '2', mode: '33261' });
    assert.ok((await getBytes(ctx, bucket, 'f.slp')).body.equals(body), 'copying onto itself changed the bytes');
  });

  test('copy: onto itself without REPLACE is refused (400 InvalidRequest) and changes nothing', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cpself');
    const v = await put(ctx, bucket, 'same', 'same bytes', { Metadata: { keep: '1' } });
    await expectS3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'same', CopySource: copySource(bucket, 'same') })), { codes: ['InvalidRequest'], statuses: [400] }, 'CopyObject onto itself (COPY)');
    const h = await head(ctx, bucket, 'same');
    assert.equal(h.ETag, v.ETag);
    assert.deepEqual(h.Metadata, { keep: '1' });
  });

  test('copy: URL-encoded copy sources of keys with spaces, unicode, + % = ~ and a leading "/"', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cpkeys');
    for (const [i, key] of SPECIAL_KEYS.entries()) {
      await put(ctx, bucket, key, `body of ${key}`);
      const dst = `copies/${i}/${key}`;
      await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: dst, CopySource: i % 2 === 0 ? copySource(bucket, key) : `/${copySource(bucket, key)}` }));
      assert.equal((await getBytes(ctx, bucket, dst)).body.toString(), `body of ${key}`, `copy of "${key}"`);
    }
    // Encoded as a whole (encodeURIComponent of "bucket/key", the SDK documentation's form).
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'whole', CopySource: encodeURIComponent(`${bucket}/${SPECIAL_KEYS[1]}`) }));
    assert.equal((await getBytes(ctx, bucket, 'whole')).body.toString(), `body of ${SPECIAL_KEYS[1]}`);
  });

  test('copy: a missing source key is 404 NoSuchKey, a missing source bucket 404 NoSuchBucket; nothing is created', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cpmiss');
    await expectS3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: copySource(bucket, 'no/such/key') })), { codes: ['NoSuchKey'], statuses: [404] }, 'CopyObject of a missing key');
    await expectS3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: copySource(`no-such-bucket-${randomBytes(4).toString('hex')}`, 'k') })), { codes: ['NoSuchBucket'], statuses: [404] }, 'CopyObject from a missing bucket');
    await expectS3Error(head(ctx, bucket, 'dst'), { statuses: [404] }, 'HeadObject of the failed copy');
  });

  test('copy: x-amz-copy-source-if-match / -if-none-match / -if-modified-since / -if-unmodified-since hold or fail with 412 (RGW: ignored)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cpcond');
    const v = await put(ctx, bucket, 'src', 'conditional source');
    const lastModified = (await head(ctx, bucket, 'src')).LastModified!;
    const hourBefore = new Date(lastModified.getTime() - 3600_000);
    const src = copySource(bucket, 'src');
    const etag = ifMatchValue(v.ETag!, ctx.target.quirks);
    const stale = ifMatchValue(quoted(md5hex(Buffer.from('something else'))), ctx.target.quirks);
    const copy = (Key: string, cond: Partial<Pick<ConstructorParameters<typeof CopyObjectCommand>[0], 'CopySourceIfMatch' | 'CopySourceIfNoneMatch' | 'CopySourceIfModifiedSince' | 'CopySourceIfUnmodifiedSince'>>) =>
      ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key, CopySource: src, ...cond }));
    const holds = [
      { CopySourceIfMatch: etag },
      { CopySourceIfNoneMatch: stale },
      { CopySourceIfModifiedSince: hourBefore },
      { CopySourceIfUnmodifiedSince: lastModified },
    ];
    for (const [i, cond] of holds.entries()) {
      const r = await copy(`ok-${i}`, cond);
      assert.equal(resultEtag(ctx, r.CopyObjectResult?.ETag), v.ETag, `copy with ${JSON.stringify(cond)}`);
    }
    const fails = [
      { CopySourceIfMatch: stale },
      { CopySourceIfNoneMatch: etag },
      { CopySourceIfModifiedSince: lastModified },
      { CopySourceIfUnmodifiedSince: hourBefore },
    ];
    for (const [i, cond] of fails.entries()) {
      if (!ctx.local.copySourceConditions) {
        const r = await copy(`no-${i}`, cond);
        assert.equal(resultEtag(ctx, r.CopyObjectResult?.ETag), v.ETag, `${ctx.target.name} now refuses a copy with ${JSON.stringify(cond)}: set localQuirks.copySourceConditions`);
        continue;
      }
      await expectS3Error(copy(`no-${i}`, cond), { codes: ['PreconditionFailed'], statuses: [412] }, `copy with ${JSON.stringify(cond)}`);
      await expectS3Error(head(ctx, bucket, `no-${i}`), { statuses: [404] }, `the refused copy no-${i}`);
    }
  });

  test('copy: CopyObject of a multipart object copies its bytes (ETag: the source\'s "-3", as Ceph RGW keeps it)', CHECK, async () => {
    const ctx = getCtx();
    const src = await multipartSource(ctx, 'cpmp');
    const r = await ctx.s3.send(new CopyObjectCommand({ Bucket: src.bucket, Key: 'copied.bin', CopySource: copySource(src.bucket, src.key) }));
    const h = await head(ctx, src.bucket, 'copied.bin');
    assert.equal(h.ContentLength, src.body.length);
    assert.equal(h.ETag, multipartEtag(src.parts), 'the copy of a multipart object has another ETag');
    assert.equal(resultEtag(ctx, r.CopyObjectResult?.ETag), h.ETag);
    assert.ok((await getBytes(ctx, src.bucket, 'copied.bin')).body.equals(src.body), 'the copy of a multipart object differs');
    const range = await getBytes(ctx, src.bucket, 'copied.bin', `bytes=${5 * MiB - 2}-${5 * MiB + 1}`);
    assert.ok(range.body.equals(src.body.subarray(5 * MiB - 2, 5 * MiB + 2)), 'a Range across a part boundary of the copy is wrong');
  });

  test('copy: a copy source ?versionId= other than "null" is refused (4xx) in an unversioned bucket; ?versionId=null copies', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'cpver');
    await put(ctx, bucket, 'v', 'versioned?');
    const e = await expectS3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'v2', CopySource: `${copySource(bucket, 'v')}?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY` })), {}, 'CopyObject of an unknown version');
    const status = e.$metadata.httpStatusCode ?? 0;
    assert.ok(status >= 400 && status < 500, `an unknown versionId answered ${e.name} (HTTP ${status}), not a 4xx`);
    await expectS3Error(head(ctx, bucket, 'v2'), { statuses: [404] }, 'the refused versioned copy');
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'v3', CopySource: `${copySource(bucket, 'v')}?versionId=null` }));
    assert.equal((await getBytes(ctx, bucket, 'v3')).body.toString(), 'versioned?');
  });

  test('copy: a multipart upload made only of UploadPartCopy ranges of an existing object: part ETags are the ranges\' md5s, the object "<md5 of md5s>-3" with the same bytes', { timeout: 60_000 }, async () => {
    const ctx = getCtx();
    const src = await multipartSource(ctx, 'upc');
    // Ranges that do not follow the source's parts, one of them across a part boundary.
    const bounds = [
      [0, 6 * MiB - 1],
      [6 * MiB, 11 * MiB - 1],
      [11 * MiB, src.body.length - 1],
    ];
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: src.bucket, Key: 'assembled.bin', ContentType: 'application/x-assembled' }));
    const done: CompletedPart[] = [];
    for (const [i, [first, last]] of bounds.entries()) {
      const r = await ctx.s3.send(new UploadPartCopyCommand({ Bucket: src.bucket, Key: 'assembled.bin', UploadId, PartNumber: i + 1, CopySource: copySource(src.bucket, src.key), CopySourceRange: `bytes=${first}-${last}` }));
      const etag = resultEtag(ctx, r.CopyPartResult?.ETag);
      assert.equal(etag, quoted(md5hex(src.body.subarray(first, last + 1))), `part ${i + 1} ETag is not the md5 of its range`);
      assert.ok(r.CopyPartResult?.LastModified instanceof Date, 'CopyPartResult has no LastModified');
      done.push({ PartNumber: i + 1, ETag: etag });
    }
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: src.bucket, Key: 'assembled.bin', UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), bounds.map(([a, b], i) => [i + 1, done[i].ETag, b - a + 1]));
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: src.bucket, Key: 'assembled.bin', UploadId, MultipartUpload: { Parts: done } }));
    const h = await head(ctx, src.bucket, 'assembled.bin');
    assert.equal(h.ETag, multipartEtag(bounds.map(([a, b]) => src.body.subarray(a, b + 1))));
    assert.equal(h.ContentLength, src.body.length);
    assert.equal(h.ContentType, 'application/x-assembled', 'the upload\'s own content type');
    assert.ok((await getBytes(ctx, src.bucket, 'assembled.bin')).body.equals(src.body), 'the assembled object differs from its source');
  });

  test('copy: UploadPartCopy without a range copies the whole object; mixed with an uploaded part', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'upcw');
    const first = randomBytes(5 * MiB);
    await put(ctx, bucket, 'whole', first);
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mixed' }));
    const u = { bucket, key: 'mixed', uploadId: UploadId! };
    const p1 = await ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'mixed', UploadId, PartNumber: 1, CopySource: copySource(bucket, 'whole') }));
    const p1Etag = resultEtag(ctx, p1.CopyPartResult?.ETag);
    assert.equal(p1Etag, quoted(md5hex(first)));
    const last = randomBytes(1000);
    const p2 = await uploadPart(ctx, u, 2, last);
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mixed', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1Etag }, p2] } }));
    assert.equal((await head(ctx, bucket, 'mixed')).ETag, multipartEtag([first, last]));
    assert.ok((await getBytes(ctx, bucket, 'mixed')).body.equals(Buffer.concat([first, last])));
  });

  test('copy: presigned UploadPartCopy with the copy headers signed as headers copies its range (ETag in the XML body); hoisted into the query (RGW: an empty part)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'upcpre');
    const body = randomBytes(64 * 1024);
    await put(ctx, bucket, 'src', body);
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'dst' }));
    const headers = { 'x-amz-copy-source': copySource(bucket, 'src'), 'x-amz-copy-source-range': 'bytes=100-4195' };
    const command = (PartNumber: number) => new UploadPartCopyCommand({ Bucket: bucket, Key: 'dst', UploadId, PartNumber, CopySource: headers['x-amz-copy-source'], CopySourceRange: headers['x-amz-copy-source-range'] });
    const partEtag = async (res: Response): Promise<string | undefined> => {
      const xml = await res.text();
      assert.equal(res.status, 200, xml);
      return /<ETag>([^<]*)<\/ETag>/.exec(xml.replace(/&quot;|&#34;/g, '"'))?.[1];
    };
    // The portable way: the copy headers signed as headers (as the project signs checksum headers).
    const signedAsHeaders = await getSignedUrl(ctx.s3, command(1), { expiresIn: 300, unhoistableHeaders: new Set(Object.keys(headers)) });
    assert.doesNotMatch(signedAsHeaders, /[?&]x-amz-copy-source(-range)?=/i);
    assert.match(signedAsHeaders, /X-Amz-SignedHeaders=host%3Bx-amz-copy-source%3Bx-amz-copy-source-range/i);
    assert.equal(resultEtag(ctx, await partEtag(await fetch(signedAsHeaders, { method: 'PUT', headers }))), quoted(md5hex(body.subarray(100, 4196))));
    // The presigner's default: both hoisted into the query.
    const inQuery = await getSignedUrl(ctx.s3, command(2), { expiresIn: 300 });
    assert.match(inQuery, /[?&]x-amz-copy-source=/i);
    const res = await fetch(inQuery, { method: 'PUT' });
    if (ctx.local.copySourceFromQuery) assert.equal(resultEtag(ctx, await partEtag(res)), quoted(md5hex(body.subarray(100, 4196))));
    else assert.equal(res.status, 200, await res.text());
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'dst', UploadId }));
    const want = ctx.local.copySourceFromQuery ? 4096 : 0;
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.Size]), [[1, 4096], [2, want]], `${ctx.target.name}: the query-hoisted copy stored a part of another size than localQuirks.copySourceFromQuery says`);
    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'dst', UploadId }));
  });

  test('copy: UploadPartCopy refuses a malformed or out-of-bounds x-amz-copy-source-range (400/416), a missing source (404) and a failed condition (412; RGW: ignored)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await newBucket(ctx, 'upcbad');
    await put(ctx, bucket, 'small', randomBytes(1000));
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'target' }));
    const partCopy = (extra: { CopySourceRange?: string; CopySource?: string; CopySourceIfMatch?: string }) =>
      ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'target', UploadId, PartNumber: 1, CopySource: copySource(bucket, 'small'), ...extra }));
    for (const range of ['bytes=0-1000', 'bytes=500-1999', 'bytes=1000-1000']) {
      await expectS3Error(partCopy({ CopySourceRange: range }), { codes: ['InvalidArgument', 'InvalidRange'], statuses: [400, 416] }, `UploadPartCopy ${range} of a 1000-byte object`);
    }
    // A suffix range (bytes=-10) is left out: RGW 16 copies the last bytes, AWS documents only first-last.
    for (const range of ['0-10', 'bytes=10', 'bytes=a-b', 'bytes=0-1,3-4']) {
      await expectS3Error(partCopy({ CopySourceRange: range }), { codes: ['InvalidArgument', 'InvalidRange'], statuses: [400, 416] }, `UploadPartCopy with range "${range}"`);
    }
    await expectS3Error(partCopy({ CopySource: copySource(bucket, 'missing') }), { codes: ['NoSuchKey'], statuses: [404] }, 'UploadPartCopy of a missing key');
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'target', UploadId }));
    assert.equal(listed.Parts?.length ?? 0, 0, 'a refused UploadPartCopy left a part');
    const staleCondition = partCopy({ CopySourceIfMatch: ifMatchValue(quoted(md5hex(Buffer.from('not it'))), ctx.target.quirks) });
    if (ctx.local.copySourceConditions) await expectS3Error(staleCondition, { codes: ['PreconditionFailed'], statuses: [412] }, 'UploadPartCopy with a stale if-match');
    else resultEtag(ctx, (await staleCondition).CopyPartResult?.ETag);
    const ok = await partCopy({ CopySourceRange: 'bytes=0-999' });
    resultEtag(ctx, ok.CopyPartResult?.ETag);
    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'target', UploadId }));
  });
}
