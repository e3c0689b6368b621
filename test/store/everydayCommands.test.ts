import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { AWS, awsEnv, FUSERMOUNT, fuseUnusable, mountS3fs, PYTHON, RCLONE, rcloneEnv, run, S3CMD, S3FS, writeS3cmdConfig } from './clientTools.js';
import { clientFor, exists, md5hex, MiB, newBucket } from './helpers.js';

/**
 * The everyday commands of the Debian S3 clients (installed by scripts/ci-install.sh), run as
 * independent peers against the store, each asserting what landed in the bucket: copies and
 * moves inside S3 (CopyObject below each tool's multipart threshold, UploadPartCopy above it),
 * `rclone sync` re-run after a file's mtime changed (rclone sets it by copying the object onto
 * itself), and renames, chmod and touch on an s3fs mount.
 */
const TOOLS = [AWS, PYTHON, RCLONE, S3CMD, S3FS, FUSERMOUNT];

describe('store: everyday commands of independent clients (aws cli, rclone, s3cmd, boto3, s3fs)', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let dir: string;
  /** Above every tool's multipart copy threshold set here (5 MiB parts; aws cli: 8 MiB). */
  const big = randomBytes(12 * MiB + 123);
  const small = randomBytes(64 * 1024 + 5);

  before(async () => {
    const missing = TOOLS.filter((p) => !existsSync(p));
    assert.deepEqual(missing, [], 'run `bash scripts/ci-install.sh` (as root) to install awscli, python3-boto3, rclone, s3cmd, s3fs and fuse3');
    t = await startEmbeddedStore();
    s3 = clientFor(t);
    dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-everyday-'));
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function bodyOf(bucket: string, key: string): Promise<Buffer> {
    return Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  }

  function head(bucket: string, key: string) {
    return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  }

  async function keys(bucket: string, prefix = ''): Promise<string[]> {
    return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
  }

  /** A bucket holding src/small.bin and src/big.bin (content type and metadata set). */
  async function seeded(prefix: string): Promise<string> {
    const bucket = await newBucket(s3, prefix);
    for (const [key, body] of [['src/small.bin', small], ['src/big ü+.bin', big]] as const) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-sleap', Metadata: { origin: 'lab' } }));
    }
    return bucket;
  }

  test('aws cli: `s3 cp` and `s3 mv` S3 to S3 (CopyObject; UploadPartCopy parts above 8 MiB), content type and metadata kept', { timeout: 120_000 }, async () => {
    const bucket = await seeded('aws-copy');
    const aws = (...args: string[]) => run(AWS, ['--endpoint-url', t.endpoint, 's3', ...args, '--only-show-errors'], { env: awsEnv(t) });
    await aws('cp', `s3://${bucket}/src/small.bin`, `s3://${bucket}/copy/small.bin`);
    await aws('cp', `s3://${bucket}/src/big ü+.bin`, `s3://${bucket}/copy/big.bin`);
    const smallCopy = await head(bucket, 'copy/small.bin');
    assert.equal(smallCopy.ETag, `"${md5hex(small)}"`);
    const bigCopy = await head(bucket, 'copy/big.bin');
    assert.match(bigCopy.ETag ?? '', /-2"$/, 'aws cli copies 12 MiB in two 8 MiB UploadPartCopy parts');
    for (const h of [smallCopy, bigCopy]) {
      assert.equal(h.ContentType, 'application/x-sleap');
      assert.deepEqual(h.Metadata, { origin: 'lab' });
    }
    assert.ok((await bodyOf(bucket, 'copy/small.bin')).equals(small));
    assert.ok((await bodyOf(bucket, 'copy/big.bin')).equals(big));
    await aws('mv', `s3://${bucket}/copy/big.bin`, `s3://${bucket}/moved/big é.bin`);
    await aws('mv', `s3://${bucket}/copy/small.bin`, `s3://${bucket}/moved/small.bin`);
    assert.deepEqual(await keys(bucket, 'copy/'), [], 'aws s3 mv left its source');
    assert.ok((await bodyOf(bucket, 'moved/big é.bin')).equals(big));
    assert.ok((await bodyOf(bucket, 'moved/small.bin')).equals(small));
    assert.ok((await bodyOf(bucket, 'src/big ü+.bin')).equals(big), 'the copies changed their source');
  });

  test('rclone: `sync` twice, the second after a touched mtime, an edit and a deletion: exit 0, the mtime set in place, the deletion done; `check` agrees', { timeout: 120_000 }, async () => {
    const bucket = await newBucket(s3, 'rclone-sync');
    const local = join(dir, 'sync-src');
    await mkdir(join(local, 'dir ü'), { recursive: true });
    const files: Record<string, Buffer> = { 'a.txt': Buffer.from('alpha\n'), 'b.bin': randomBytes(2 * MiB), 'c.txt': Buffer.from('gamma\n'), 'dir ü/d e+f.txt': Buffer.from('delta\n') };
    for (const [name, body] of Object.entries(files)) await writeFile(join(local, name), body);
    const rclone = (...args: string[]) => run(RCLONE, ['--config', '/dev/null', '-v', ...args], { env: rcloneEnv(t) });
    await rclone('sync', local, `st:${bucket}/sync`);
    assert.deepEqual((await keys(bucket)).sort(), Object.keys(files).map((k) => `sync/${k}`).sort());
    const aBefore = await head(bucket, 'sync/a.txt');

    // Same bytes, another mtime: rclone sets the new mtime by CopyObject onto itself (REPLACE).
    const touched = new Date('2021-06-01T12:00:00Z');
    await utimes(join(local, 'a.txt'), touched, touched);
    await writeFile(join(local, 'c.txt'), 'gamma, edited\n');
    await unlink(join(local, 'dir ü/d e+f.txt'));
    const second = await rclone('sync', local, `st:${bucket}/sync`);
    assert.match(second.stderr, /a\.txt: Updated modification time in destination/, `rclone did not set the mtime in place:\n${second.stderr}`);
    assert.match(second.stderr, /dir ü\/d e\+f\.txt: Deleted/, `rclone did not delete:\n${second.stderr}`);
    const aAfter = await head(bucket, 'sync/a.txt');
    assert.equal(aAfter.ETag, aBefore.ETag, 'a.txt was uploaded again instead of having its mtime set');
    assert.equal(Math.round(Number(aAfter.Metadata?.mtime)), touched.getTime() / 1000, `x-amz-meta-mtime is ${aAfter.Metadata?.mtime}`);
    assert.equal((await bodyOf(bucket, 'sync/c.txt')).toString(), 'gamma, edited\n');
    assert.equal(await exists(s3, bucket, 'sync/dir ü/d e+f.txt'), false);
    assert.ok((await bodyOf(bucket, 'sync/b.bin')).equals(files['b.bin']));
    await rclone('check', local, `st:${bucket}/sync`);
    const third = await rclone('sync', local, `st:${bucket}/sync`);
    assert.doesNotMatch(third.stderr, /Copied|Updated|Deleted/, `a sync of an unchanged tree changed something:\n${third.stderr}`);
  });

  test('rclone: server-side `copyto` and `moveto`, multipart (UploadPartCopy) above --s3-copy-cutoff', { timeout: 120_000 }, async () => {
    const bucket = await seeded('rclone-copy');
    const rclone = (...args: string[]) => run(RCLONE, ['--config', '/dev/null', '--s3-copy-cutoff', '5M', ...args], { env: rcloneEnv(t) });
    await rclone('copyto', `st:${bucket}/src/big ü+.bin`, `st:${bucket}/copy/big.bin`);
    await rclone('copyto', `st:${bucket}/src/small.bin`, `st:${bucket}/copy/small.bin`);
    assert.match((await head(bucket, 'copy/big.bin')).ETag ?? '', /-3"$/, 'rclone copies 12 MiB in three 5 MiB UploadPartCopy parts');
    assert.equal((await head(bucket, 'copy/small.bin')).ETag, `"${md5hex(small)}"`);
    assert.ok((await bodyOf(bucket, 'copy/big.bin')).equals(big));
    await rclone('moveto', `st:${bucket}/copy/big.bin`, `st:${bucket}/moved/big.bin`);
    assert.equal(await exists(s3, bucket, 'copy/big.bin'), false, 'rclone moveto left its source');
    assert.ok((await bodyOf(bucket, 'moved/big.bin')).equals(big));
  });

  test('s3cmd: `cp` across buckets and `mv`, multipart copy above multipart_copy_chunk_size_mb', { timeout: 120_000 }, async () => {
    const bucket = await seeded('s3cmd-copy');
    const other = await newBucket(s3, 's3cmd-dst');
    const cfg = await writeS3cmdConfig(t, join(dir, 's3cfg-copy'), { multipart_copy_chunk_size_mb: '5' });
    const s3cmd = (...args: string[]) => run(S3CMD, ['-c', cfg, ...args], { env: awsEnv(t) });
    await s3cmd('cp', `s3://${bucket}/src/small.bin`, `s3://${other}/small.bin`);
    await s3cmd('cp', `s3://${bucket}/src/big ü+.bin`, `s3://${other}/big copy.bin`);
    assert.equal((await head(other, 'small.bin')).ETag, `"${md5hex(small)}"`);
    assert.match((await head(other, 'big copy.bin')).ETag ?? '', /-3"$/, 's3cmd copies 12 MiB in three 5 MiB UploadPartCopy parts');
    assert.ok((await bodyOf(other, 'big copy.bin')).equals(big));
    await s3cmd('mv', `s3://${other}/small.bin`, `s3://${other}/renamed/small.bin`);
    assert.deepEqual((await keys(other)).sort(), ['big copy.bin', 'renamed/small.bin']);
    assert.ok((await bodyOf(other, 'renamed/small.bin')).equals(small));
  });

  test('boto3: managed `copy` (UploadPartCopy, 5 MiB parts) and `copy_object` onto itself with MetadataDirective REPLACE', { timeout: 120_000 }, async () => {
    const bucket = await seeded('boto-copy');
    const script = `
import sys, json, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
ep, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client('s3', endpoint_url=ep, config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4'))
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.copy({'Bucket': bucket, 'Key': 'src/big ü+.bin'}, bucket, 'boto/big copy.bin', Config=cfg)
s3.copy({'Bucket': bucket, 'Key': 'src/small.bin'}, bucket, 'boto/small copy.bin', Config=cfg)
r = s3.copy_object(Bucket=bucket, Key='src/small.bin', CopySource={'Bucket': bucket, 'Key': 'src/small.bin'}, MetadataDirective='REPLACE', Metadata={'mtime': '42'})
print(json.dumps({'etag': r['CopyObjectResult']['ETag']}))
`;
    const out = await run(PYTHON, ['-c', script, t.endpoint, bucket], { env: awsEnv(t) });
    assert.equal((JSON.parse(out.stdout) as { etag: string }).etag, `"${md5hex(small)}"`);
    assert.match((await head(bucket, 'boto/big copy.bin')).ETag ?? '', /-3"$/);
    assert.ok((await bodyOf(bucket, 'boto/big copy.bin')).equals(big));
    assert.ok((await bodyOf(bucket, 'boto/small copy.bin')).equals(small));
    assert.deepEqual((await head(bucket, 'src/small.bin')).Metadata, { mtime: '42' });
  });

  test('s3fs mount: rename of a file, a large file (UploadPartCopy) and a folder; chmod and touch (copies onto itself)', { timeout: 180_000 }, async (tc) => {
    const why = fuseUnusable();
    if (why) {
      tc.skip(`FUSE is unusable on this machine: ${why}`);
      return;
    }
    const bucket = await newBucket(s3, 's3fs');
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    // Multipart copies from 5 MiB on, so the 12 MiB rename goes through UploadPartCopy.
    const m = await mountS3fs(t, bucket, mnt, dir, ['singlepart_copy_limit=5', 'multipart_copy_size=5']);
    try {
      await writeFile(join(mnt, 'a.txt'), 'mounted file\n');
      await rename(join(mnt, 'a.txt'), join(mnt, 'b.txt'));
      assert.equal(await exists(s3, bucket, 'a.txt'), false, 'the renamed file is still at its old key');
      assert.equal((await bodyOf(bucket, 'b.txt')).toString(), 'mounted file\n');

      await chmod(join(mnt, 'b.txt'), 0o640);
      assert.equal((await head(bucket, 'b.txt')).Metadata?.mode, String(0o100640), 'chmod did not reach x-amz-meta-mode');
      const touched = new Date('2020-01-01T00:00:00Z');
      await utimes(join(mnt, 'b.txt'), touched, touched);
      assert.equal((await head(bucket, 'b.txt')).Metadata?.mtime, String(touched.getTime() / 1000), 'touch did not reach x-amz-meta-mtime');
      assert.equal((await bodyOf(bucket, 'b.txt')).toString(), 'mounted file\n', 'chmod or touch changed the bytes');

      await writeFile(join(mnt, 'big.bin'), big);
      await rename(join(mnt, 'big.bin'), join(mnt, 'big renamed.bin'));
      assert.match((await head(bucket, 'big renamed.bin')).ETag ?? '', /-3"$/, 's3fs renames 12 MiB with three 5 MiB UploadPartCopy parts');
      assert.ok((await bodyOf(bucket, 'big renamed.bin')).equals(big));
      assert.equal(await exists(s3, bucket, 'big.bin'), false);

      await mkdir(join(mnt, 'folder'));
      await writeFile(join(mnt, 'folder', 'inner.txt'), 'inner\n');
      await rename(join(mnt, 'folder'), join(mnt, 'folder renamed'));
      assert.deepEqual((await keys(bucket, 'folder')).sort(), ['folder renamed/', 'folder renamed/inner.txt']);
      assert.equal((await bodyOf(bucket, 'folder renamed/inner.txt')).toString(), 'inner\n');
    } finally {
      await m.unmount();
    }
  });
});
