import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { AppError } from '../../src/core/errors.js';
import { BackendClient } from '../../src/core/transfer/BackendClient.js';
import { digestFile } from '../../src/core/transfer/checksum.js';
import { MultipartUploader, type UploaderState } from '../../src/core/transfer/MultipartUploader.js';
import { FilePartSource } from '../../src/core/transfer/PartSource.js';
import type { DonePart } from '../../src/core/transfer/PartTransport.js';
import { ProgressMeter, type TransferProgress } from '../../src/core/transfer/progress.js';
import { prepareUpload } from '../../src/core/transfer/uploadFile.js';
import { holdsFor, waitFor } from '../support/wait.js';
import { FakeTransport } from './support/fakeTransport.js';

const PART = 64 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'upl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(bytes: number, name = `f-${Math.random().toString(36).slice(2)}.bin`): { path: string; data: Buffer } {
  const data = randomBytes(bytes);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, data };
}

/** In-process conditions are cheap to check: often. */
const QUICK = { intervalMs: 5 };

describe('MultipartUploader state machine (in-memory transport)', () => {
  test('uploads every part once, reports each to onPartDone, completes with the parts in order', async () => {
    const { path, data } = file(10 * PART + 123);
    const t = new FakeTransport(data.length, PART);
    const recorded: DonePart[] = [];
    const states: UploaderState[] = [];
    const digest = await digestFile(path, { partSize: PART, algorithm: 'md5' });
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t, concurrency: 3, digest, sha256: digest.sha256, partChecksum: 'md5', onPartDone: (p) => void recorded.push(p), onStateChange: (s) => void states.push(s) });
    const r = await u.start();
    assert.equal(r.partsSent, 11);
    assert.equal(r.sha256, createHash('sha256').update(data).digest('hex'));
    assert.deepEqual(recorded.map((p) => p.partNumber).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(t.completedWith!.map((p) => p.partNumber), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.ok(t.object().equals(data));
    assert.deepEqual(states, ['running', 'completing', 'done']);
    // The precomputed Content-MD5 went with each part.
    assert.equal(t.calls[0].checksum?.value, createHash('md5').update(data.subarray(0, PART)).digest('base64'));
  });

  test('resume trusts ListParts: re-sends parts missing, of the wrong size, or whose ETag disagrees with the ledger', async () => {
    const { path, data } = file(6 * PART);
    const t = new FakeTransport(data.length, PART);
    const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`;
    const part = (n: number): Buffer => data.subarray((n - 1) * PART, n * PART);
    t.parts.set(1, { etag: md5(part(1)), data: part(1) }); // good
    t.parts.set(2, { etag: md5(part(2).subarray(1)), data: part(2).subarray(1) }); // wrong size
    t.parts.set(3, { etag: md5(part(3)), data: part(3) }); // ledger says another ETag
    t.parts.set(5, { etag: md5(part(5)), data: part(5) }); // unknown to the ledger but right: reused
    const ledger: DonePart[] = [
      { partNumber: 1, etag: md5(part(1)), size: PART },
      { partNumber: 3, etag: '"0000"', size: PART },
      { partNumber: 4, etag: md5(part(4)), size: PART }, // not on S3
    ];
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t, doneParts: ledger });
    const r = await u.start();
    assert.deepEqual(t.calls.map((c) => c.part).sort(), [2, 3, 4, 6]);
    assert.equal(r.partsReused, 2);
    assert.ok(t.object().equals(data));
  });

  test('a part S3 holds but whose MD5 is not this file\'s is sent again when the file\'s digest is known', async () => {
    const { path, data } = file(2 * PART);
    const t = new FakeTransport(data.length, PART);
    const other = randomBytes(PART);
    t.parts.set(1, { etag: `"${createHash('md5').update(other).digest('hex')}"`, data: other });
    const digest = await digestFile(path, { partSize: PART, algorithm: 'md5' });
    await new MultipartUploader({ source: await FilePartSource.open(path), transport: t, doneParts: [], digest, partChecksum: 'md5' }).start();
    assert.deepEqual(t.calls.map((c) => c.part).sort(), [1, 2]);
    assert.ok(t.object().equals(data));
  });

  test('resume with CRC32 parts on a server that lists no CRCs (RGW): a part unknown to the ledger is reused only if its ETag is the MD5 of the part on disk', async () => {
    const { path, data } = file(3 * PART);
    const t = new FakeTransport(data.length, PART);
    const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`;
    const part = (n: number): Buffer => data.subarray((n - 1) * PART, n * PART);
    const other = randomBytes(PART);
    t.parts.set(1, { etag: md5(part(1)), data: part(1) }); // unknown to the ledger, right bytes: reused
    t.parts.set(2, { etag: md5(other), data: other }); // unknown to the ledger, other bytes: sent again
    const digest = await digestFile(path, { partSize: PART, algorithm: 'crc32' });
    const r = await new MultipartUploader({ source: await FilePartSource.open(path), transport: t, doneParts: [], digest }).start();
    assert.deepEqual(t.calls.map((c) => c.part).sort(), [2, 3]);
    assert.equal(r.partsReused, 1);
    assert.equal(t.calls[0].checksum?.algorithm, 'crc32', 'CRC32 is the default part checksum');
    assert.ok(t.object().equals(data));
  });

  test('a server that ignores x-amz-checksum-* (RGW) and stores a damaged part: the ETag is not the part\'s MD5, so the part is sent again', async () => {
    const { path, data } = file(3 * PART);
    const t = new FakeTransport(data.length, PART);
    t.verifiesChecksums = false;
    t.damage.set(2, 1);
    const recorded: DonePart[] = [];
    const digest = await digestFile(path, { partSize: PART, algorithm: 'crc32' });
    const r = await new MultipartUploader({ source: await FilePartSource.open(path), transport: t, digest, retry: { baseDelayMs: 1 }, onPartDone: (p) => void recorded.push(p) }).start();
    assert.deepEqual(t.calls.map((c) => c.part).sort(), [1, 2, 2, 3]);
    assert.equal(r.retries.retry, 1);
    assert.equal(recorded.filter((p) => p.partNumber === 2).length, 1, 'the damaged try never reached the ledger');
    assert.ok(t.object().equals(data));
  });

  test('a server that confirms the checksum (AWS, the embedded store): no MD5 is taken, a damaged part is refused (BadDigest) and retried', async () => {
    const { path, data } = file(2 * PART);
    const t = new FakeTransport(data.length, PART);
    t.damage.set(1, 1);
    const digest = await digestFile(path, { partSize: PART, algorithm: 'crc32' });
    const r = await new MultipartUploader({ source: await FilePartSource.open(path), transport: t, digest, retry: { baseDelayMs: 1 } }).start();
    assert.equal(r.retries.retry, 1);
    assert.ok(t.object().equals(data));
  });

  test('pause stops parts in flight and keeps done ones; resume finishes; nothing moves while paused', async () => {
    const { path, data } = file(8 * PART);
    const t = new FakeTransport(data.length, PART);
    t.chunkDelayMs = 2;
    const progress: TransferProgress[] = [];
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t, concurrency: 2, progressIntervalMs: 0, onProgress: (p) => void progress.push(p) });
    const run = u.start();
    await waitFor(() => t.parts.size >= 2, 'two parts done', 5000, QUICK);
    u.pause();
    await waitFor(() => u.state === 'paused', 'paused', 5000, QUICK);
    const doneAtPause = t.parts.size;
    const callsAtPause = t.calls.length;
    const bytesAtPause = u.progress.bytesDone;
    await holdsFor(() => t.calls.length === callsAtPause && u.progress.bytesDone === bytesAtPause, 'no part started and no progress while paused', 150, QUICK);
    assert.equal(bytesAtPause, doneAtPause * PART, 'progress while paused counts only finished parts');
    u.resume();
    const r = await run;
    assert.ok(t.object().equals(data));
    assert.equal(r.partsSent, 8);
    assert.equal(progress.at(-1)!.bytesDone, data.length);
  });

  test('paused before start: nothing is sent until resume', async () => {
    const { path, data } = file(3 * PART);
    const t = new FakeTransport(data.length, PART);
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t });
    u.pause();
    const run = u.start();
    await waitFor(() => u.state === 'paused', 'paused', 5000, QUICK);
    await holdsFor(() => t.calls.length === 0, 'nothing sent while paused', 50, QUICK);
    u.resume();
    await run;
    assert.ok(t.object().equals(data));
  });

  test('cancel stops the parts in flight, then aborts the multipart upload; start rejects with aborted', async () => {
    const { path, data } = file(4 * PART);
    const t = new FakeTransport(data.length, PART);
    t.gate = new Promise(() => undefined); // parts never finish on their own
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t, concurrency: 2 });
    const run = u.start();
    await waitFor(() => t.calls.length === 2, 'two parts in flight', 5000, QUICK);
    await u.cancel();
    await assert.rejects(run, (e: AppError) => e.code === 'aborted' && /cancelled/.test(e.message));
    assert.equal(u.state, 'cancelled');
    assert.ok(t.aborted);
    assert.equal(t.completedWith, undefined);
  });

  test('aborting start()\'s signal stops without aborting the upload (resumable later)', async () => {
    const { path, data } = file(4 * PART);
    const t = new FakeTransport(data.length, PART);
    t.gate = new Promise(() => undefined);
    const ctl = new AbortController();
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t, concurrency: 4 });
    const run = u.start({ signal: ctl.signal });
    await waitFor(() => t.calls.length === 4, 'four parts in flight', 5000, QUICK);
    ctl.abort(new AppError('aborted', 'agent shutting down'));
    await assert.rejects(run, /shutting down/);
    assert.equal(u.state, 'stopped');
    assert.equal(t.aborted, false);
  });

  test('a BadDigest on a file that changed since its checksum was taken fails with source_changed, not retries', async () => {
    const { path, data } = file(2 * PART);
    const t = new FakeTransport(data.length, PART);
    const digest = await digestFile(path, { partSize: PART, algorithm: 'crc32' });
    const changed = Buffer.from(data);
    changed[5] ^= 1;
    writeFileSync(path, changed);
    t.failures.set(1, [new AppError('storage_error', 'bad digest', { details: { status: 400, s3_code: 'BadDigest' } })]);
    const u = new MultipartUploader({ source: await FilePartSource.open(path), transport: t, digest, concurrency: 1 });
    await assert.rejects(u.start(), (e: AppError) => e.code === 'source_changed');
    assert.equal(u.state, 'failed');
  });

  test('a BadDigest on an unchanged file (damage in transit) is retried', async () => {
    const { path, data } = file(2 * PART);
    const t = new FakeTransport(data.length, PART);
    t.failures.set(2, [new AppError('storage_error', 'bad digest', { details: { status: 400, s3_code: 'BadDigest' } })]);
    const r = await new MultipartUploader({ source: await FilePartSource.open(path), transport: t, retry: { baseDelayMs: 1 } }).start();
    assert.equal(r.retries.retry, 1);
    assert.ok(t.object().equals(data));
  });

  test('resume refuses a file that changed since the interrupted upload (its SHA-256 differs), before any request', async () => {
    const { path, data } = file(2 * PART);
    const t = new FakeTransport(data.length, PART);
    const backend = new BackendClient({ baseUrl: 'http://127.0.0.1:9', token: 'x'.repeat(32) }); // never reached
    const resume = { session: t.session, sha256: createHash('sha256').update('the old content').digest('hex'), doneParts: [] };
    await assert.rejects(prepareUpload({ path, target: { kind: 'presigned', backend }, resume }), (e: AppError) => e.code === 'source_changed');
  });

  test('a source whose size differs from the session is refused before anything is sent', async () => {
    const { path } = file(PART);
    assert.throws(() => new MultipartUploader({ source: { name: path, size: PART, open: () => { throw new Error('no'); }, checkUnchanged: async () => undefined }, transport: new FakeTransport(2 * PART, PART) }), (e: AppError) => e.code === 'source_changed');
  });
});

describe('progress events (mock timers)', () => {
  test('throttled to one per interval, rate from bytes moved over the window, ETA from what is left', () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    try {
      const events: TransferProgress[] = [];
      const m = new ProgressMeter({ totalBytes: 10_000, intervalMs: 250, emit: (p) => void events.push(p) });
      for (let i = 1; i <= 100; i++) m.update(i * 10, i * 10); // 100 updates in the same millisecond
      assert.equal(events.length, 1);
      mock.timers.tick(249);
      m.update(1500, 1500);
      assert.equal(events.length, 1);
      mock.timers.tick(1);
      m.update(2000, 2000);
      assert.equal(events.length, 2);
      // 2000 - 10 bytes over 250 ms
      assert.ok(Math.abs(events[1].rateBps - 1990 / 0.25) < 1, `rate ${events[1].rateBps}`);
      assert.ok(Math.abs(events[1].etaS! - 8000 / (1990 / 0.25)) < 0.01);
      m.update(2000, 2000, true);
      assert.equal(events.length, 3, 'forced events are not throttled');
    } finally {
      mock.timers.reset();
    }
  });
});
