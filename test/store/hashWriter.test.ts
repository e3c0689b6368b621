import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HashWriterPool, hashWriterPool } from '../../src/store/HashWriterPool.js';
import { startStore } from '../../src/store/main.js';
import { makeS3Client } from '../../src/core/s3client.js';
import { silentLogger } from '../../src/core/log.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { assertS3Error, clientFor, exists, md5hex, MiB, newBucket, rawExchange, sha256hex, signedHead, tmpFiles } from './helpers.js';
import { waitFor } from '../support/wait.js';

// MD5 (and SHA-1/SHA-256) of bodies from 1 MiB on moved to worker threads that also write the
// temp file: these pin what must not change with it.

describe('HashWriterPool: hashing and writing off the main thread', () => {
  let dir: string;
  const pool = new HashWriterPool(2);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-hashwriter-'));
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('parallel jobs write exactly their bytes and give the same digests as node:crypto; buffers are transferred, not copied', async () => {
    // Two bodies pass the thread's early write-back step (an fdatasync every 8 MiB): finish then
    // waits for a flush that may still be running.
    const bodies = Array.from({ length: 5 }, (_, i) => randomBytes((i < 2 ? 17 : 3) * MiB + i * 1001));
    const results = await Promise.all(
      bodies.map(async (body, i) => {
        const path = join(dir, `job-${i}`);
        const fd = openSync(path, 'wx');
        try {
          const job = pool.open(fd, ['md5', 'sha256']);
          for (let at = 0; at < body.length; at += 300_000) {
            const piece = new Uint8Array(body.subarray(at, at + 300_000)); // owns its ArrayBuffer
            await job.write([piece]);
            assert.equal(piece.byteLength, 0, 'a written buffer is detached (transferred to the thread)');
          }
          return { path, digests: await job.finish() };
        } finally {
          closeSync(fd);
        }
      }),
    );
    for (const [i, r] of results.entries()) {
      assert.ok(readFileSync(r.path).equals(bodies[i]), `file ${i} differs from its body`);
      assert.equal(r.digests.get('md5')?.toString('hex'), md5hex(bodies[i]));
      assert.equal(r.digests.get('sha256')?.toString('hex'), sha256hex(bodies[i]));
    }
  });

  test('O_DIRECT descriptors: bodies of any size (empty, under a block, odd pieces across the 1 MiB stage) are written exactly, past the page cache', async () => {
    const sizes = [0, 1000, 4096, 3 * MiB + 123, 2 * MiB];
    const results = await Promise.all(
      sizes.map(async (size, i) => {
        const body = randomBytes(size);
        const path = join(dir, `direct-${i}`);
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o600);
        try {
          const job = pool.open(fd, ['md5'], true);
          for (let at = 0; at < body.length; at += 300_001) await job.write([new Uint8Array(body.subarray(at, at + 300_001))]);
          return { path, body, md5: (await job.finish()).get('md5')?.toString('hex') };
        } finally {
          closeSync(fd);
        }
      }),
    );
    for (const r of results) {
      const got = readFileSync(r.path);
      assert.equal(got.length, r.body.length, 'the padded last block was cut off');
      assert.ok(got.equals(r.body), `${r.path} differs from its body`);
      assert.equal(r.md5, md5hex(r.body));
    }
  });

  test('a write that fails (read-only descriptor) rejects with the errno code; abort after it resolves at once', async () => {
    const path = join(dir, 'readonly');
    closeSync(openSync(path, 'wx'));
    const fd = openSync(path, 'r');
    try {
      const job = pool.open(fd, ['md5']);
      await job.write([new Uint8Array(10)]).catch(() => undefined); // the error may come with this ack or later
      await assert.rejects(job.finish(), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
      await job.abort();
    } finally {
      closeSync(fd);
    }
  });

  test('abort resolves only after every write handed over before it ran, so closing the descriptor then is safe', async () => {
    const path = join(dir, 'aborted');
    const fd = openSync(path, 'wx');
    const job = pool.open(fd, ['md5']);
    const body = randomBytes(2 * MiB);
    void job.write([new Uint8Array(body)]).catch(() => undefined);
    await job.abort();
    closeSync(fd);
    assert.ok(readFileSync(path).equals(body), 'the write posted before abort completed before abort resolved');
    await assert.rejects(job.write([new Uint8Array(1)]), /aborted/);
  });

  test('abort during early write-back (a 24 MiB body, flushes every 8 MiB): the file holds every byte written and the thread serves the next job', async () => {
    const path = join(dir, 'aborted-flushing');
    const fd = openSync(path, 'wx');
    const job = pool.open(fd, ['md5']);
    const body = randomBytes(24 * MiB);
    for (let at = 0; at < body.length; at += MiB) await job.write([new Uint8Array(body.subarray(at, at + MiB))]);
    await job.abort();
    closeSync(fd);
    assert.ok(readFileSync(path).equals(body));
    // The thread is still healthy: the next job on it works.
    const fd2 = openSync(join(dir, 'after-abort'), 'wx');
    try {
      const next = pool.open(fd2, ['md5']);
      await next.write([new Uint8Array(body.subarray(0, 9 * MiB))]);
      assert.equal((await next.finish()).get('md5')?.toString('hex'), md5hex(body.subarray(0, 9 * MiB)));
    } finally {
      closeSync(fd2);
    }
  });
});

describe('store in this process: its hash writer threads', () => {
  test('two stores share the threads; closing the last one ends them, and a new store starts them again', async () => {
    const dirs = [await mkdtemp(join(tmpdir(), 'sleap-rtc-hw-a-')), await mkdtemp(join(tmpdir(), 'sleap-rtc-hw-b-'))];
    const start = (dataDir: string) => startStore({ dataDir, accessKeyId: 'hwkey', secretAccessKey: 'hwsecret', buckets: ['hwbucket'], log: silentLogger });
    const put = async (url: string) => {
      const s3 = makeS3Client({ endpoint: url, region: 'us-east-1', accessKeyId: 'hwkey', secretAccessKey: 'hwsecret', forcePathStyle: true }, { maxAttempts: 1 });
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'hwbucket', Key: 'two-mib', Body: randomBytes(2 * MiB) }));
      } finally {
        s3.destroy();
      }
    };
    try {
      const a = await start(dirs[0]);
      const b = await start(dirs[1]);
      await put(a.url);
      assert.ok(hashWriterPool.liveThreads > 0, 'a 2 MiB body is hashed on a pool thread');
      await a.close();
      assert.ok(hashWriterPool.liveThreads > 0, 'the other store still needs the threads');
      await put(b.url);
      await b.close();
      assert.equal(hashWriterPool.liveThreads, 0, 'the last store closed ends every thread');
      const c = await start(dirs[0]);
      await put(c.url);
      assert.ok(hashWriterPool.liveThreads > 0);
      await c.close();
      assert.equal(hashWriterPool.liveThreads, 0);
    } finally {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
  });
});

// The threads' code is a module of its own (hashWriterThread.ts), which the bundles carry as a
// chunk of its own: the store as users run it (dist/cli.js) and as the .vsix ships it
// (dist/bundled/) must start its threads from that chunk. A thread that cannot start fails the PUT.
for (const built of [true, 'bundled'] as const) {
  const name = built === true ? 'dist/cli.js' : 'dist/bundled/sleap-rtc.mjs';
  describe(`the store from ${name}: bodies hashed and written on its threads`, () => {
    let t: EmbeddedStoreTarget;
    before(async () => {
      t = await startEmbeddedStore({ built });
    });
    after(async () => {
      await t?.stop();
    });

    test('a 3 MiB PutObject (with a SHA-256 checksum computed on the thread) is stored with ETag = MD5 and reads back the same', async () => {
      const s3 = clientFor(t);
      try {
        const bucket = await newBucket(s3, 'hwb');
        const data = randomBytes(3 * MiB + 7);
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: data, ChecksumSHA256: createHash('sha256').update(data).digest('base64') }));
        assert.equal(put.ETag, `"${md5hex(data)}"`);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
        assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
      } finally {
        s3.destroy();
      }
    });
  });
}

describe('store: digests of bodies hashed off the main thread are still verified', () => {
  let t: EmbeddedStoreTarget;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    // Debug logs: the cut-body test waits for the store's line about the refused request.
    t = await startEmbeddedStore({ extraArgs: ['--log-level', 'debug'] });
    s3 = clientFor(t);
    bucket = await newBucket(s3, 'hw');
  });
  after(async () => {
    s3?.destroy();
    await t?.stop();
  });

  test('a 3 MiB body with a signed SHA-256 payload hash: stored with ETag = MD5 when it matches, XAmzContentSHA256Mismatch when not', async () => {
    const data = randomBytes(3 * MiB + 5);
    const good = await signedHead(t, { method: 'PUT', path: `/${bucket}/signed`, payloadHash: sha256hex(data), headers: { 'content-length': String(data.length) } });
    const r = await rawExchange(t, [good.head, data], { responses: 1 });
    assert.equal(r.responses[0]?.status, 200, r.responses[0]?.body.toString());
    assert.equal(r.responses[0]?.headers.etag, `"${md5hex(data)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'signed' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));

    const bad = await signedHead(t, { method: 'PUT', path: `/${bucket}/signed-bad`, payloadHash: sha256hex(Buffer.concat([data, Buffer.from('x')])), headers: { 'content-length': String(data.length) } });
    const r2 = await rawExchange(t, [bad.head, data], { responses: 1 });
    assertS3Error(r2.responses[0], 400, 'XAmzContentSHA256Mismatch', '3 MiB body, wrong signed hash');
    assert.equal(await exists(s3, bucket, 'signed-bad'), false);
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('2 MiB bodies with x-amz-checksum-sha1 / -sha256 and Content-MD5: kept when right, BadDigest when wrong', async () => {
    const data = randomBytes(2 * MiB);
    const other = randomBytes(16);
    const b64 = (alg: string, b: Buffer): string => createHash(alg).update(b).digest('base64');
    const ok = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha1', Body: data, ChecksumSHA1: b64('sha1', data), ContentMD5: b64('md5', data) }));
    assert.equal(ok.ChecksumSHA1, b64('sha1', data));
    assert.equal(ok.ETag, `"${md5hex(data)}"`);
    const ok2 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha256', Body: data, ChecksumSHA256: b64('sha256', data) }));
    assert.equal(ok2.ChecksumSHA256, b64('sha256', data));
    for (const [key, extra] of [
      ['bad-sha1', { ChecksumSHA1: b64('sha1', other) }],
      ['bad-sha256', { ChecksumSHA256: b64('sha256', other) }],
      ['bad-md5', { ContentMD5: b64('md5', other) }],
    ] as const) {
      await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...extra })), (e: Error) => e.name === 'BadDigest', key);
      assert.equal(await exists(s3, bucket, key), false, `${key} was stored`);
    }
    assert.deepEqual(await tmpFiles(t), []);
  });

  test('a 4 MiB body cut off after 1.5 MiB: no object, no temp file, and the store serves the next upload', async () => {
    // The store may not even have made the temp file when the client is done: an empty folder
    // proves nothing until the store has handled the cut. It removes the file, then logs the
    // refused request (debug); from that line on, nothing may be left.
    const refusedPuts = (): string[] => [...t.stderrTail().matchAll(/"msg":"request refused","method":"PUT","requestId":"(\w+)"/g)].map((m) => m[1]);
    const earlier = new Set(refusedPuts());
    const { head } = await signedHead(t, { method: 'PUT', path: `/${bucket}/cut`, headers: { 'content-length': String(4 * MiB) } });
    await rawExchange(t, [head, randomBytes(1.5 * MiB)], { after: 'destroy' });
    await waitFor(() => refusedPuts().some((id) => !earlier.has(id)), 'the store to log its refusal of the cut body', 10_000, { intervalMs: 20, lastSeen: () => t.stderrTail() });
    assert.deepEqual(await tmpFiles(t), [], 'temp file left behind');
    assert.equal(await exists(s3, bucket, 'cut'), false);
    const data = randomBytes(MiB + 1);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after-cut', Body: data }));
    assert.equal(put.ETag, `"${md5hex(data)}"`);
  });
});
