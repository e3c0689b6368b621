import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { AWS, awsEnv, PYTHON, RCLONE, rcloneEnv, run, S3CMD, writeS3cmdConfig } from './clientTools.js';
import { clientFor, keysOf, MiB, newBucket } from './helpers.js';

/**
 * Independent S3 clients from Debian (installed by scripts/ci-install.sh) against the store:
 * four other SigV4 implementations, multipart uploaders and XML parsers than the JS SDK's.
 */
const TOOLS = [AWS, PYTHON, RCLONE, S3CMD];

describe('store: independent clients (aws cli, boto3, rclone, s3cmd)', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let dir: string;
  let file: string;
  let data: Buffer;
  before(async () => {
    const missing = TOOLS.filter((p) => !existsSync(p));
    assert.deepEqual(missing, [], 'run `bash scripts/ci-install.sh` (as root) to install awscli, python3-boto3, rclone and s3cmd');
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-clients-'));
    data = randomBytes(12 * MiB + 123);
    file = join(dir, 'upload.bin');
    await writeFile(file, data);
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function bodyOf(bucket: string, key: string): Promise<Buffer> {
    return Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  }

  test('aws cli 2: multipart `s3 cp` up and down with a key holding space, unicode, + = ~', { timeout: 60_000 }, async () => {
    const bucket = await newBucket(s3, 'awscli');
    const key = 'dir with space/ü+f=~.bin';
    const aws = (...args: string[]) => run(AWS, ['--endpoint-url', t.endpoint, ...args], { env: awsEnv(t) });
    await aws('s3', 'cp', file, `s3://${bucket}/${key}`, '--only-show-errors');
    assert.match((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? '', /-2"$/, 'aws cli uploads 8 MiB parts');
    assert.ok((await bodyOf(bucket, key)).equals(data));
    const back = join(dir, 'aws-down.bin');
    await aws('s3', 'cp', `s3://${bucket}/${key}`, back, '--only-show-errors');
    assert.ok((await readFile(back)).equals(data));
    const ls = await aws('s3', 'ls', '--recursive', `s3://${bucket}/`);
    assert.match(ls.stdout, /dir with space\/ü\+f=~\.bin/);
  });

  test('boto3: special keys put/get/list, presigned GET, delete_objects', { timeout: 60_000 }, async () => {
    const bucket = await newBucket(s3, 'boto');
    const script = `
import sys, json, boto3, urllib.request
from botocore.config import Config
ep, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client('s3', endpoint_url=ep, config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4'))
keys = json.loads(sys.argv[3])
for k in keys:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode(), Metadata={'who': 'boto'})
    assert s3.get_object(Bucket=bucket, Key=k)['Body'].read() == k.encode(), k
    url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': k}, ExpiresIn=60)
    assert urllib.request.urlopen(url).read() == k.encode(), k
listed = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket)['Contents']]
r = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in keys[:2]]})
print(json.dumps({'listed': listed, 'deleted': sorted(d['Key'] for d in r['Deleted'])}))
`;
    const keys = ['with space/file name.txt', 'unicodé/日本語/🐭.bin', 'plus+sign', 'pct%20x%2F%', "mixed a+b%c=d~e!f(g)h*i'j,k;l:m@n$o&p"];
    const out = await run(PYTHON, ['-c', script, t.endpoint, bucket, JSON.stringify(keys)], { env: awsEnv(t) });
    const r = JSON.parse(out.stdout) as { listed: string[]; deleted: string[] };
    assert.deepEqual(r.listed, [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.deepEqual(r.deleted, keys.slice(0, 2).sort());
    assert.deepEqual(await keysOf(s3, bucket), keys.slice(2).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  test('rclone: multipart copy (Complete XML with &#34;-escaped ETags, Go encoding/xml), download, purge', { timeout: 60_000 }, async () => {
    const bucket = await newBucket(s3, 'rclone');
    const rcEnv = rcloneEnv(t);
    const rclone = (...args: string[]) => run(RCLONE, ['--config', '/dev/null', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', ...args], { env: rcEnv });
    await rclone('copyto', file, `st:${bucket}/rc/x y+ü.bin`);
    assert.match((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'rc/x y+ü.bin' }))).ETag ?? '', /-3"$/);
    const back = join(dir, 'rclone-down.bin');
    await rclone('copyto', `st:${bucket}/rc/x y+ü.bin`, back);
    assert.ok((await readFile(back)).equals(data));
    await rclone('purge', `st:${bucket}/rc`);
    assert.deepEqual(await keysOf(s3, bucket), []);
  });

  test('s3cmd: multipart put and get', { timeout: 60_000 }, async () => {
    const bucket = await newBucket(s3, 's3cmd');
    const cfg = await writeS3cmdConfig(t, join(dir, 's3cfg'));
    await run(S3CMD, ['-c', cfg, 'put', file, `s3://${bucket}/s3cmd/a b+c.bin`, '--multipart-chunk-size-mb=5'], { env: awsEnv(t) });
    assert.ok((await bodyOf(bucket, 's3cmd/a b+c.bin')).equals(data));
    const back = join(dir, 's3cmd-down.bin');
    await run(S3CMD, ['-c', cfg, 'get', '--force', `s3://${bucket}/s3cmd/a b+c.bin`, back], { env: awsEnv(t) });
    assert.ok((await readFile(back)).equals(data));
  });
});
