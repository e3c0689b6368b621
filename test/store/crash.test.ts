import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import { clientFor, exists, keysOf, md5hex, MiB, newBucket, signedHead, tmpFiles } from './helpers.js';

/** Opens a connection and sends a request head plus the first `bytes` of its body, then holds it open. */
async function startUpload(t: EmbeddedStoreTarget, head: string, bytes: number): Promise<Socket> {
  const url = new URL(t.endpoint);
  const sock = connect(Number(url.port), url.hostname);
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(head);
  const block = randomBytes(MiB);
  for (let sent = 0; sent < bytes; sent += MiB) {
    if (!sock.write(block)) await new Promise((r) => sock.once('drain', r));
  }
  return sock;
}

/** Waits until the store's tmp/ holds a body of at least `bytes` (the upload really is in flight). */
async function waitForTmpBody(t: EmbeddedStoreTarget, bytes: number): Promise<void> {
  const bodyThere = async (): Promise<boolean> => {
    for (const f of await tmpFiles(t)) {
      const s = await stat(join(t.dataDir, 'tmp', f)).catch(() => undefined);
      if (s && s.size >= bytes) return true;
    }
    return false;
  };
  await waitFor(bodyThere, `a body of ${bytes} bytes in ${t.dataDir}/tmp`, 10_000, { intervalMs: 25 });
}

async function dataFiles(t: EmbeddedStoreTarget, bucket: string): Promise<string[]> {
  return readdir(join(t.dataDir, 'buckets', bucket, 'data'));
}

describe('store: crash safety and restarts (real processes)', () => {
  test('kill -9 during a PutObject: after restart no partial object, an empty listing, no temp or orphan data files', { timeout: 60_000 }, async () => {
    const t = await startEmbeddedStore();
    let s3 = clientFor(t);
    try {
      const bucket = await newBucket(s3, 'crash-put');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big.bin', Body: 'the old version' }));
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/big.bin`, headers: { 'content-length': String(64 * MiB) } });
      const { head: head2 } = await signedHead(t, { method: 'PUT', path: `/${bucket}/new.bin`, headers: { 'content-length': String(64 * MiB) } });
      const socks = [await startUpload(t, head, 24 * MiB), await startUpload(t, head2, 8 * MiB)];
      await waitForTmpBody(t, 16 * MiB);
      await t.kill9();
      for (const s of socks) s.destroy();
      assert.ok((await tmpFiles(t)).length > 0, 'the crash left its temp bodies (as a crash does)');
      await t.restart();
      s3.destroy();
      s3 = clientFor(t);
      assert.deepEqual(await keysOf(s3, bucket), ['big.bin']);
      const old = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
      assert.equal(await old.Body!.transformToString(), 'the old version', 'the interrupted overwrite must not be visible');
      assert.equal(await exists(s3, bucket, 'new.bin'), false);
      assert.deepEqual(await tmpFiles(t), [], 'temp files are removed at start');
      assert.equal((await dataFiles(t, bucket)).length, 1, 'only the old version\'s data file is left');
    } finally {
      s3.destroy();
      await t.stop();
    }
  });

  test('kill -9 during an UploadPart: the upload survives with the parts that finished, and completes', { timeout: 60_000 }, async () => {
    const t = await startEmbeddedStore();
    let s3 = clientFor(t);
    try {
      const bucket = await newBucket(s3, 'crash-part');
      const Key = 'dataset/train.pkg.slp';
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: 'application/x-hdf5', Metadata: { sha: 'abc' } }));
      const parts = [randomBytes(5 * MiB), randomBytes(3 * MiB)];
      const etags: string[] = [];
      for (const [i, p] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1, Body: p }))).ETag!);
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/${Key}`, query: { partNumber: '3', uploadId: UploadId! }, headers: { 'content-length': String(32 * MiB) } });
      const sock = await startUpload(t, head, 12 * MiB);
      await waitForTmpBody(t, 8 * MiB);
      await t.kill9();
      sock.destroy();
      await t.restart();
      s3.destroy();
      s3 = clientFor(t);
      assert.deepEqual(await tmpFiles(t), []);
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.deepEqual(uploads.Uploads?.map((u) => [u.Key, u.UploadId]), [[Key, UploadId]]);
      const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key, UploadId }));
      assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, etags[0], 5 * MiB], [2, etags[1], 3 * MiB]]);
      const partFiles = (await readdir(join(t.dataDir, 'uploads', UploadId!))).filter((f) => f.endsWith('.bin'));
      assert.equal(partFiles.length, 2, `part files after restart: ${partFiles.join(', ')}`);
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts)));
      assert.equal(got.ContentType, 'application/x-hdf5');
      assert.deepEqual(got.Metadata, { sha: 'abc' });
      const md5s = createHash('md5');
      for (const p of parts) md5s.update(createHash('md5').update(p).digest());
      assert.equal(got.ETag, `"${md5s.digest('hex')}-2"`);
      assert.deepEqual(await readdir(join(t.dataDir, 'uploads')), [], 'the completed upload is gone');
    } finally {
      s3.destroy();
      await t.stop();
    }
  });

  test('SIGTERM with uploads in flight: exits 0 at once, their temp files are removed, committed data stays', { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sleap-rtc-store-term-'));
    const t = await startEmbeddedStore({ dataDir });
    const s3 = clientFor(t);
    try {
      const bucket = await newBucket(s3, 'term');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: 'committed' }));
      const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/inflight`, headers: { 'content-length': String(64 * MiB) } });
      const sock = await startUpload(t, head, 8 * MiB);
      await waitForTmpBody(t, 4 * MiB);
      // The client still holds its request open and sends nothing more: a close that waited for it
      // would never return, so terminate() returning at all shows the store aborted the upload.
      assert.equal(await t.terminate('SIGTERM'), 0, t.stderrTail());
      sock.destroy();
      assert.deepEqual(await tmpFiles(t), [], 'an aborted upload left its temp file');
      await t.restart();
      assert.deepEqual(await keysOf(s3, bucket), ['kept']);
    } finally {
      s3.destroy();
      await t.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a clean restart keeps buckets, objects (metadata, multipart segments) and open uploads; junk files are collected', { timeout: 60_000 }, async () => {
    const t = await startEmbeddedStore();
    let s3 = clientFor(t);
    try {
      const bucket = await newBucket(s3, 'keep');
      const small = randomBytes(1000);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/small', Body: small, ContentType: 'text/x-test', Metadata: { run: '7' } }));
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
      const p1 = randomBytes(5 * MiB);
      const p2 = randomBytes(10);
      const e1 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: p1 }))).ETag!;
      const e2 = (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, Body: p2 }))).ETag!;
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }] } }));
      const open = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'open' }));
      await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'open', UploadId: open.UploadId, PartNumber: 1, Body: 'part one' }));
      const before = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp' }));
      await t.terminate('SIGTERM');
      await writeFile(join(t.dataDir, 'buckets', bucket, 'data', 'junk'), 'orphan');
      await writeFile(join(t.dataDir, 'tmp', 'junk'), 'half written');
      await writeFile(join(t.dataDir, 'uploads', open.UploadId!, '9-junk.bin'), 'orphan part');
      await t.restart();
      s3.destroy();
      s3 = clientFor(t);
      assert.deepEqual(await keysOf(s3, bucket), ['a/small', 'mp']);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/small' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(small));
      assert.equal(got.ContentType, 'text/x-test');
      assert.deepEqual(got.Metadata, { run: '7' });
      assert.equal(got.ETag, `"${md5hex(small)}"`);
      const tail = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', Range: `bytes=${5 * MiB - 2}-` }));
      assert.ok(Buffer.from(await tail.Body!.transformToByteArray()).equals(Buffer.concat([p1.subarray(-2), p2])));
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp' }))).ETag, before.ETag);
      const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'open', UploadId: open.UploadId }));
      assert.deepEqual(parts.Parts?.map((p) => p.PartNumber), [1]);
      assert.deepEqual(await tmpFiles(t), []);
      assert.ok(!(await dataFiles(t, bucket)).includes('junk'), 'an unreferenced data file survived the restart');
      assert.ok(!(await readdir(join(t.dataDir, 'uploads', open.UploadId!))).includes('9-junk.bin'));
    } finally {
      s3.destroy();
      await t.stop();
    }
  });
});
