import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { makeS3Client } from '../../src/core/s3client.js';
import { downloadFile } from '../../src/core/transfer/Downloader.js';
import { PresignedRangeSource } from '../../src/core/transfer/RangeSource.js';
import { S3RangeSource } from '../../src/core/transfer/S3RangeSource.js';
import { uploadFile } from '../../src/core/transfer/uploadFile.js';
import { cliEntry, repoRoot } from '../support/proc.js';
import { forEachS3Target } from '../support/targets.js';
import { MiB, randomFile, sdkSha256, sha256OfFile, startTransferEnv, type TransferEnv } from './support/env.js';

/** Peak RSS above the baseline while `fn` runs, sampled every 20 ms. */
async function withRssPeak<T>(fn: () => Promise<T>): Promise<{ value: T; baseline: number; peak: number }> {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await fn();
    return { value, baseline, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

forEachS3Target((factory) => {
  describe(`uploads and downloads against ${factory.name}`, () => {
    let env: TransferEnv;
    before(async () => {
      env = await startTransferEnv(factory);
    });
    after(async () => env?.stop());
    afterEach(() => {
      env.proxy.clearRules();
      env.proxy.resetStats();
    });

    test('96 MiB through the backend\'s presigned URLs (concurrency 4): the Downloader and the SDK read back the same SHA-256', async (t) => {
      const f = await randomFile(env.dir, 'mice.pkg.slp', 96 * MiB);
      // Warm-up (modules, sockets, JIT), so that the RSS figure below is the transfer's own.
      const small = await randomFile(env.dir, 'warm-up.bin', 1 * MiB);
      assert.equal((await uploadFile({ path: small.path, target: { kind: 'presigned', backend: env.backend } })).sha256, small.sha256);
      const started = Date.now();
      const { value: r, baseline, peak } = await withRssPeak(() => uploadFile({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4 }));
      const seconds = (Date.now() - started) / 1000;
      assert.equal(r.size, f.size);
      assert.equal(r.sha256, f.sha256, 'the uploader returns the file\'s SHA-256');
      assert.equal(r.session.partSize, 8 * MiB);
      assert.equal(r.partsSent, 12);
      assert.match(r.key, /^rooms\/lab\/datasets\/[^/]+\/mice\.pkg\.slp$/);

      const sdk = await sdkSha256(env.s3, env.srv.bucket, r.key);
      assert.equal(sdk.sha256, f.sha256, 'independent reader (SDK GetObject)');
      assert.equal(sdk.metadata.sha256, f.sha256, 'the SHA-256 is in the object\'s metadata');

      const dest = join(env.dir, 'down.slp');
      const d = await downloadFile({ source: new PresignedRangeSource(env.backend, r.s3Path), dest, concurrency: 4 });
      assert.equal(d.sha256, f.sha256);
      assert.ok(d.verified, 'checked against the metadata SHA-256');
      assert.equal(await sha256OfFile(dest), f.sha256);
      assert.ok(!existsSync(`${dest}.partial`) && !existsSync(`${dest}.partial.json`));

      const rssMiB = (peak - baseline) / MiB;
      t.diagnostic(`${factory.name}: upload (hash pass + parts) ${(f.size / MiB / seconds).toFixed(0)} MiB/s over ${seconds.toFixed(2)} s, RSS +${rssMiB.toFixed(0)} MiB above ${(baseline / MiB).toFixed(0)} MiB`);
      // Streaming: nowhere near concurrency x part size (32 MiB) held in memory.
      assert.ok(rssMiB < 4 * 8 + 64, `RSS grew by ${rssMiB.toFixed(0)} MiB`);
    });

    test('a byte flipped on the way is caught and the part sent again (default CRC32: BadDigest where the server checks it, the ETag against the part\'s MD5 on RGW)', async (t) => {
      const f = await randomFile(env.dir, 'flip.bin', 20 * MiB);
      env.proxy.add({ method: 'PUT', partNumber: 2, action: { kind: 'corrupt', atByte: 3 * MiB + 17 } });
      const r = await uploadFile({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4, retry: { baseDelayMs: 20 } });
      const part2 = env.proxy.requests.filter((q) => q.method === 'PUT' && q.partNumber === 2);
      // RGW 16 ignores x-amz-checksum-crc32 and stores the damage; its ETag (MD5 of what it got) gives it away.
      assert.deepEqual(part2.map((q) => q.status), env.target.name === 'rgw' ? [200, 200] : [400, 200], 'first try refused or caught, second accepted');
      assert.equal(r.retries.retry, 1);
      assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
      t.diagnostic(`${env.target.name}: part 2 statuses ${part2.map((q) => q.status).join(', ')}`);
    });

    test('Content-MD5 (partChecksum "md5") still works on presigned URLs: a flipped byte is refused (BadDigest) and the part sent again', async () => {
      const f = await randomFile(env.dir, 'flip-md5.bin', 20 * MiB);
      env.proxy.add({ method: 'PUT', partNumber: 2, action: { kind: 'corrupt', atByte: 3 * MiB + 17 } });
      const r = await uploadFile({ path: f.path, target: { kind: 'presigned', backend: env.backend }, concurrency: 4, partChecksum: 'md5', retry: { baseDelayMs: 20 } });
      const part2 = env.proxy.requests.filter((q) => q.method === 'PUT' && q.partNumber === 2);
      assert.deepEqual(part2.map((q) => q.status), [400, 200], 'first try refused, second accepted');
      assert.equal(r.retries.retry, 1);
      assert.equal((await sdkSha256(env.s3, env.srv.bucket, r.key)).sha256, f.sha256);
    });

    test('per-part CRC32 (x-amz-checksum-crc32, signed by S3Transport) on a damaged part: what this server does with it', async (t) => {
      const f = await randomFile(env.dir, 'crc.bin', 10 * MiB);
      env.proxy.add({ method: 'PUT', partNumber: 1, action: { kind: 'corrupt', atByte: 1000 } });
      const key = 'rooms/lab/models/crc/x.bin';
      const r = await uploadFile({ path: f.path, target: { kind: 's3', s3: env.s3ViaProxy, bucket: env.srv.bucket, key }, partSize: 5 * MiB, partChecksum: 'crc32', retry: { baseDelayMs: 20 } });
      const stored = (await sdkSha256(env.s3, env.srv.bucket, key)).sha256;
      const statuses = env.proxy.requests.filter((q) => q.method === 'PUT' && q.partNumber === 1).map((q) => q.status);
      if (env.target.name === 'rgw') {
        // Pinned quirk: Ceph RGW 16 ignores x-amz-checksum-* (signed or not) and stores the damaged
        // part; the uploader catches it by the ETag (the MD5 of what RGW stored) and sends it again.
        assert.deepEqual(statuses, [200, 200]);
        assert.equal(r.retries.retry, 1);
        assert.equal(stored, f.sha256);
        t.diagnostic('rgw: x-amz-checksum-crc32 ignored, damaged part caught by its ETag and sent again');
      } else {
        assert.deepEqual(statuses, [400, 200], 'BadDigest, then the part sent again');
        assert.equal(r.retries.retry, 1);
        assert.equal(stored, f.sha256);
      }
    });

    test('regression: a Complete that went through but whose answer was lost is not reported as a failure (S3Transport)', async () => {
      const f = await randomFile(env.dir, 'lost-answer.bin', 10 * MiB);
      const key = 'rooms/lab/models/m2/best.ckpt';
      // The proxy forwards the Complete (POST ?uploadId=...) and cuts its answer; the retry finds the upload gone.
      env.proxy.add({ method: 'POST', pathIncludes: 'uploadId=', on: 'response', action: { kind: 'reset', afterBytes: 0 } });
      const r = await uploadFile({ path: f.path, target: { kind: 's3', s3: env.s3ViaProxy, bucket: env.srv.bucket, key }, partSize: 5 * MiB, retry: { baseDelayMs: 20 } });
      assert.equal(r.size, f.size);
      assert.equal((await sdkSha256(env.s3, env.srv.bucket, key)).sha256, f.sha256);
      assert.ok(env.proxy.requests.some((q) => q.method === 'POST' && q.fault === 'reset'), 'the Complete answer was cut');
    });

    test('`sleap-rtc upload` from the .vsix\'s bundled CLI: where the server ignores part CRCs (RGW), its MD5 thread (a chunk of the bundle) checks each ETag', async () => {
      // A .zip is a dataset by its PK signature; the rest is random: three 5 MiB parts.
      const zip = join(env.dir, 'bundled.zip');
      const body = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), randomBytes(12 * MiB)]);
      await writeFile(zip, body);
      // Asynchronously: the fault proxy every part crosses runs in this process.
      const child = spawn(process.execPath, [...cliEntry('bundled'), 'upload', zip, '--server', env.srv.url, '--data', join(env.dir, 'bundled-cli'), '--part-size', String(5 * MiB), '--json'], {
        cwd: repoRoot,
        env: { ...process.env, SLEAP_RTC_ROOM_TOKEN: env.srv.rooms.lab },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r = { stdout: '', stderr: '', status: null as number | null };
      child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
      r.status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { key: string; bucket: string; sha256: string };
      const sha256 = createHash('sha256').update(body).digest('hex');
      assert.equal(out.sha256, sha256);
      assert.equal((await sdkSha256(env.s3, out.bucket, out.key)).sha256, sha256, 'independent reader (SDK GetObject)');
    });

    test('the worker\'s way: direct S3 credentials (S3Transport) up, S3RangeSource down', async () => {
      const f = await randomFile(env.dir, 'model.ckpt', 40 * MiB);
      const s3 = makeS3Client({ endpoint: env.target.endpoint, region: env.target.region, accessKeyId: env.target.accessKeyId, secretAccessKey: env.target.secretAccessKey });
      try {
        const key = 'rooms/lab/models/m1/best.ckpt';
        const r = await uploadFile({ path: f.path, target: { kind: 's3', s3, bucket: env.srv.bucket, key }, concurrency: 4, partSize: 5 * MiB });
        assert.equal(r.partsSent, 8);
        assert.equal(r.sha256, f.sha256);
        assert.notEqual(r.etag, '', 'the ETag comes from HeadObject (RGW answers Complete without one)');
        const dest = join(env.dir, 'model.down');
        const d = await downloadFile({ source: new S3RangeSource(s3, env.srv.bucket, key), dest, concurrency: 4, chunkSize: 5 * MiB });
        assert.ok(d.verified);
        assert.equal(await sha256OfFile(dest), f.sha256);
      } finally {
        s3.destroy();
      }
    });
  });
});
