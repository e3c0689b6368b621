import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { AWS, awsEnv, PYTHON, run } from './clientTools.js';
import { assertS3Error, clientFor, MiB, newBucket, rawExchange, sha256hex, signedHead } from './helpers.js';

/**
 * Object tags in the store: kept in the object's meta file (so they survive a kill -9 and a
 * restart, as does the tag set of an open multipart upload), limits counted in Unicode
 * characters, request bodies S3 refuses, a presigned PUT carrying x-amz-tagging in its query;
 * the aws cli (s3api tagging calls, and `aws s3 cp` between keys, which copies tags) and boto3
 * as independent peers. What every S3 server shares is in the conformance suite.
 */

async function tagsOf(s3: S3Client, Bucket: string, Key: string): Promise<Array<[string, string]>> {
  const r = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
  return (r.TagSet ?? []).map((t) => [t.Key!, t.Value!]);
}

describe('store: object tagging', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let bucket: string;
  let dir: string;
  before(async () => {
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    bucket = await newBucket(s3, 'tags');
    dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-tags-'));
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('tags keep the order they were given in', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'order', Body: 'x', Tagging: 'z=1&a=2&m=3' }));
    assert.deepEqual(await tagsOf(s3, bucket, 'order'), [['z', '1'], ['a', '2'], ['m', '3']]);
  });

  test('limits count Unicode characters, not bytes: a 128-character key of 2-byte letters, a 256-emoji value', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'uni', Body: 'x' }));
    const key = 'é'.repeat(128);
    const value = '🐭'.repeat(256);
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'uni', Tagging: { TagSet: [{ Key: key, Value: value }] } }));
    assert.deepEqual(await tagsOf(s3, bucket, 'uni'), [[key, value]]);
    await assert.rejects(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'uni', Tagging: { TagSet: [{ Key: `${key}é`, Value: '' }] } })), (e: Error) => e.name === 'InvalidTag' && /max 128 \(it has 129 characters\)/.test(e.message));
    await assert.rejects(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'uni', Tagging: { TagSet: [{ Key: 'k', Value: `${value}🐭` }] } })), (e: Error) => e.name === 'InvalidTag' && /max 256/.test(e.message));
  });

  test('PutObjectTagging bodies S3 refuses: not XML, no <TagSet>, a <Tag> without <Value>, a DOCTYPE: MalformedXML, the tags unchanged', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'xml', Body: 'x', Tagging: 'kept=yes' }));
    const bodies = [
      '<Tagging><TagSet><Tag>',
      '<Tagging></Tagging>',
      '<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>',
      '<!DOCTYPE x [<!ENTITY a "b">]><Tagging><TagSet/></Tagging>',
      '<Other><TagSet/></Other>',
    ];
    for (const xml of bodies) {
      const body = Buffer.from(xml);
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/xml`, query: { tagging: '' }, payloadHash: sha256hex(body), headers: { 'content-length': String(body.length) } });
      assertS3Error((await rawExchange(t, [head, body], { responses: 1 })).responses[0], 400, 'MalformedXML', xml);
    }
    assert.deepEqual(await tagsOf(s3, bucket, 'xml'), [['kept', 'yes']]);
    // ?tagging on a bucket is bucket tagging, which this store does not have.
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}`, query: { tagging: '' }, headers: { 'content-length': '0' } });
    assertS3Error((await rawExchange(t, [head], { responses: 1 })).responses[0], 501, 'NotImplemented', 'PutBucketTagging');
  });

  test('a presigned PUT whose x-amz-tagging was hoisted into the query tags the object', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned', Tagging: 'via=url&n=1' }), { expiresIn: 60 });
    assert.match(url, /[?&]x-amz-tagging=/i, 'the presigner no longer hoists x-amz-tagging; this check is moot');
    const res = await fetch(url, { method: 'PUT', body: 'presigned body' });
    assert.equal(res.status, 200, await res.text());
    assert.deepEqual(await tagsOf(s3, bucket, 'presigned'), [['via', 'url'], ['n', '1']]);
  });

  test('tags (of an object, and of an open multipart upload) survive kill -9 and a restart', { timeout: 60_000 }, async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'durable', Body: 'x', Tagging: 'first=1' }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'durable', Tagging: { TagSet: [{ Key: 'second', Value: '2' }] } }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'durable-mp', Tagging: 'mp=open' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'durable-mp', UploadId, PartNumber: 1, Body: 'part one' }));
    await t.kill9();
    await t.restart();
    assert.deepEqual(await tagsOf(s3, bucket, 'durable'), [['second', '2']]);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'durable' }))).TagCount, 1);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'durable-mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.deepEqual(await tagsOf(s3, bucket, 'durable-mp'), [['mp', 'open']]);
  });

  test('aws cli: s3api put/get/delete-object-tagging; `aws s3 cp` of a tagged 12 MiB object to another key (a multipart copy) carries its tags', { timeout: 60_000 }, async () => {
    assert.ok(existsSync(AWS), 'run `bash scripts/ci-install.sh` (as root) to install awscli');
    const aws = (...args: string[]) => run(AWS, ['--endpoint-url', t.endpoint, ...args], { env: awsEnv(t) });
    const file = join(dir, 'big.bin');
    await writeFile(file, randomBytes(12 * MiB + 1));
    await aws('s3', 'cp', file, `s3://${bucket}/cli/src.bin`, '--only-show-errors');
    await aws('s3api', 'put-object-tagging', '--bucket', bucket, '--key', 'cli/src.bin', '--tagging', JSON.stringify({ TagSet: [{ Key: 'dataset', Value: 'mice v2' }, { Key: 'lab', Value: 'talmo' }] }));
    const got = JSON.parse((await aws('s3api', 'get-object-tagging', '--bucket', bucket, '--key', 'cli/src.bin')).stdout) as { TagSet: Array<{ Key: string; Value: string }> };
    assert.deepEqual(got.TagSet, [{ Key: 'dataset', Value: 'mice v2' }, { Key: 'lab', Value: 'talmo' }]);
    await aws('s3', 'cp', `s3://${bucket}/cli/src.bin`, `s3://${bucket}/cli/copy.bin`, '--only-show-errors');
    assert.match((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cli/copy.bin' }))).ETag ?? '', /-2"$/, 'aws cli copies 12 MiB in 8 MiB parts');
    assert.deepEqual(await tagsOf(s3, bucket, 'cli/copy.bin'), [['dataset', 'mice v2'], ['lab', 'talmo']], 'aws s3 cp lost the tags of a multipart copy');
    await aws('s3api', 'delete-object-tagging', '--bucket', bucket, '--key', 'cli/src.bin');
    assert.deepEqual(await tagsOf(s3, bucket, 'cli/src.bin'), []);
  });

  test('boto3: put_object(Tagging=...), get_object_tagging, put_object_tagging, TagCount', { timeout: 60_000 }, async () => {
    assert.ok(existsSync(PYTHON), 'run `bash scripts/ci-install.sh` (as root) to install python3-boto3');
    const script = `
import sys, json, boto3
from botocore.config import Config
ep, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client('s3', endpoint_url=ep, config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4'))
s3.put_object(Bucket=bucket, Key='boto', Body=b'x', Tagging='from=boto3&spaced=a b')
first = s3.get_object_tagging(Bucket=bucket, Key='boto')['TagSet']
s3.put_object_tagging(Bucket=bucket, Key='boto', Tagging={'TagSet': [{'Key': 'replaced', 'Value': 'yes'}]})
print(json.dumps({'first': first, 'second': s3.get_object_tagging(Bucket=bucket, Key='boto')['TagSet'], 'count': s3.get_object(Bucket=bucket, Key='boto')['TagCount']}))
`;
    const out = JSON.parse((await run(PYTHON, ['-c', script, t.endpoint, bucket], { env: awsEnv(t) })).stdout) as { first: unknown; second: unknown; count: number };
    assert.deepEqual(out, { first: [{ Key: 'from', Value: 'boto3' }, { Key: 'spaced', Value: 'a b' }], second: [{ Key: 'replaced', Value: 'yes' }], count: 1 });
  });
});
