import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { AppError } from '../../src/core/errors.js';
import { Downloader, downloadFile } from '../../src/core/transfer/Downloader.js';
import { PresignedRangeSource } from '../../src/core/transfer/RangeSource.js';
import { uploadFile } from '../../src/core/transfer/uploadFile.js';
import { forEachS3Target } from '../support/targets.js';
import { memoryLogger, MiB, randomFile, sha256OfFile, startTransferEnv, type TransferEnv } from './support/env.js';
import { waitFor } from '../support/wait.js';

const CHUNK = 4 * MiB;

forEachS3Target((factory) => {
  describe(`downloads against ${factory.name} (fault proxy in front of S3)`, () => {
    let env: TransferEnv;
    let object: { key: string; size: number; sha256: string };
    before(async () => {
      env = await startTransferEnv(factory);
      const f = await randomFile(env.dir, 'dataset.slp', 40 * MiB);
      // Uploaded with direct credentials (not through the proxy); downloads go through it.
      const r = await uploadFile({ path: f.path, target: { kind: 's3', s3: env.s3, bucket: env.srv.bucket, key: 'rooms/lab/datasets/d1/dataset.slp' }, concurrency: 4 });
      object = { key: r.s3Path, size: f.size, sha256: f.sha256 };
    });
    after(async () => env?.stop());
    afterEach(() => {
      env.proxy.clearRules();
      env.proxy.setRate(undefined);
      env.proxy.resetStats();
    });

    const source = (): PresignedRangeSource => new PresignedRangeSource(env.backend, object.key);

    test('interrupted mid-way, a new Downloader fetches only the missing ranges and verifies the SHA-256', async () => {
      const dest = join(env.dir, 'resumed.slp');
      env.proxy.setRate(16 * MiB);
      const ctl = new AbortController();
      const first = new Downloader({ source: source(), dest, chunkSize: CHUNK, concurrency: 4 }).start({ signal: ctl.signal });
      const doneRanges = (): number[] => (existsSync(`${dest}.partial.json`) ? (JSON.parse(readFileSync(`${dest}.partial.json`, 'utf8')) as { done: number[] }).done : []);
      await waitFor(() => doneRanges().length >= 3, '3 ranges on disk', 20_000, { intervalMs: 10 });
      ctl.abort(new AppError('aborted', 'worker restarting'));
      await assert.rejects(first, /worker restarting/);
      assert.ok(!existsSync(dest), 'no final file from an interrupted download');
      const kept = doneRanges();

      env.proxy.setRate(undefined);
      env.proxy.resetStats();
      const r = await downloadFile({ source: source(), dest, chunkSize: CHUNK, concurrency: 4 });
      assert.ok(r.resumedBytes >= kept.length * CHUNK, `resumed ${r.resumedBytes} bytes`);
      assert.equal(env.proxy.responseBytes('GET'), object.size - r.resumedBytes, 'only the missing ranges crossed the network');
      assert.equal(r.bytesReceived, object.size - r.resumedBytes);
      assert.ok(r.verified);
      assert.equal(await sha256OfFile(dest), object.sha256);
      assert.ok(!existsSync(`${dest}.partial`) && !existsSync(`${dest}.partial.json`));
    });

    test('a reset mid-range, a stalled range and a 503 SlowDown on GETs: the download completes', async () => {
      const dest = join(env.dir, 'faulty.slp');
      env.proxy.add({ method: 'GET', action: { kind: 'reset', afterBytes: 1 * MiB } });
      env.proxy.add({ method: 'GET', action: { kind: 'stall', afterBytes: 2 * MiB } });
      env.proxy.add({ method: 'GET', action: { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' } });
      const { log, lines } = memoryLogger();
      const r = await downloadFile({ source: source(), dest, chunkSize: CHUNK, concurrency: 4, stallTimeoutMs: 1000, retry: { baseDelayMs: 50 }, log });
      assert.equal(r.retries.retry, 2);
      assert.equal(r.retries.slow_down, 1);
      assert.ok(lines.some((l) => l.msg === 'range retried' && /no bytes moved/.test(String(l.error))), 'stall detection fired');
      assert.equal(await sha256OfFile(dest), object.sha256);
    });

    test('one byte corrupted on the way: checksum_mismatch, and neither the file nor its partial is kept', async () => {
      const dest = join(env.dir, 'corrupt.slp');
      env.proxy.add({ method: 'GET', action: { kind: 'corrupt', atByte: 123_457 } });
      await assert.rejects(downloadFile({ source: source(), dest, chunkSize: CHUNK, concurrency: 4 }), (e: AppError) => {
        assert.equal(e.code, 'checksum_mismatch');
        assert.match(e.message, /damaged on the way/);
        assert.equal(e.details?.expected, object.sha256);
        return true;
      });
      assert.ok(!existsSync(dest) && !existsSync(`${dest}.partial`) && !existsSync(`${dest}.partial.json`));
    });

    test('a partial download of another version of the object (ETag differs) is not reused', async () => {
      const dest = join(env.dir, 'stale.slp');
      writeFileSync(`${dest}.partial`, Buffer.alloc(object.size, 7));
      writeFileSync(`${dest}.partial.json`, JSON.stringify({ version: 1, size: object.size, etag: 'an-older-version', chunkSize: CHUNK, done: [1, 2, 3] }));
      const r = await downloadFile({ source: source(), dest, chunkSize: CHUNK });
      assert.equal(r.resumedBytes, 0);
      assert.equal(await sha256OfFile(dest), object.sha256);
    });

    test('a full disk (ENOSPC) is a clear storage_error and leaves no final file', async () => {
      const dest = join(env.dir, 'full.slp');
      symlinkSync('/dev/full', `${dest}.partial`); // every write there fails with ENOSPC, a real kernel answer
      await assert.rejects(downloadFile({ source: source(), dest, chunkSize: CHUNK, concurrency: 2 }), (e: AppError) => {
        assert.equal(e.code, 'storage_error');
        assert.equal(e.details?.errno, 'ENOSPC');
        assert.match(e.message, /no space left on the device while writing .*full\.slp\.partial: free some space/);
        return true;
      });
      assert.ok(!existsSync(dest));
    });
  });
});
