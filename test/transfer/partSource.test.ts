import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AppError } from '../../src/core/errors.js';
import { Md5Worker } from '../../src/core/transfer/Md5Worker.js';
import { FilePartSource, isRecycling } from '../../src/core/transfer/PartSource.js';

const dir = mkdtempSync(join(tmpdir(), 'psrc-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KiB = 1024;

function file(bytes: number): { path: string; data: Buffer } {
  const data = randomBytes(bytes);
  const path = join(dir, `f-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(path, data);
  return { path, data };
}

describe('FilePartSource (reads a range into reused buffers)', () => {
  test('a consumer that recycles each chunk gets the exact range, and the buffers are reused', async () => {
    const { path, data } = file(3 * 1024 * KiB + 123);
    const src = await FilePartSource.open(path);
    const start = 100 * KiB + 7;
    const end = data.length - 5;
    const s = src.open(start, end);
    assert.ok(isRecycling(s));
    const h = createHash('sha256');
    const buffers = new Set<ArrayBuffer>();
    for await (const c of s as AsyncIterable<Buffer>) {
      h.update(c);
      buffers.add(c.buffer as ArrayBuffer);
      s.recycle(c);
    }
    assert.equal(h.digest('hex'), createHash('sha256').update(data.subarray(start, end)).digest('hex'));
    assert.ok(buffers.size <= 3, `${buffers.size} buffers for 12 chunks`);
  });

  test('a consumer that keeps its chunks (never recycles) gets fresh buffers: nothing it holds is overwritten', async () => {
    const { path, data } = file(2 * 1024 * KiB);
    const src = await FilePartSource.open(path);
    const kept: Buffer[] = [];
    for await (const c of src.open(0, data.length) as AsyncIterable<Buffer>) kept.push(c);
    assert.ok(Buffer.concat(kept).equals(data));
  });

  test('destroyed mid-read, the stream closes its file without error; an empty range is an empty stream', async () => {
    const { path, data } = file(1024 * KiB);
    const src = await FilePartSource.open(path);
    const s = src.open(0, data.length);
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    const chunks: Buffer[] = [];
    for await (const c of src.open(5, 5) as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal(chunks.length, 0);
  });
});

describe('Md5Worker (part MD5s off the event loop)', () => {
  test('hex MD5 of ranges, concurrently, equal to node:crypto\'s; abort and close reject what waits', async () => {
    const { path, data } = file(5 * 1024 * KiB + 17);
    const w = new Md5Worker();
    try {
      const ranges: [number, number][] = [[0, 1024 * KiB], [1024 * KiB, 5 * 1024 * KiB + 17], [3, 4], [7, 7]];
      const got = await Promise.all(ranges.map(([a, b]) => w.md5(path, a, b)));
      assert.deepEqual(got, ranges.map(([a, b]) => createHash('md5').update(data.subarray(a, b)).digest('hex')));
      const ctl = new AbortController();
      const pending = w.md5(path, 0, data.length, ctl.signal);
      ctl.abort(new AppError('aborted', 'stop'));
      await assert.rejects(pending, (e: AppError) => e.code === 'aborted');
      await assert.rejects(w.md5(join(dir, 'missing.bin'), 0, 10), (e: AppError) => e.code === 'storage_error');
      const last = w.md5(path, 0, data.length);
      w.close();
      await assert.rejects(last, (e: AppError) => e.code === 'aborted');
      // Usable again after close (a new thread).
      assert.equal(await w.md5(path, 0, 10), createHash('md5').update(data.subarray(0, 10)).digest('hex'));
    } finally {
      w.close();
    }
  });
});
