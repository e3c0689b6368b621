import assert from 'node:assert/strict';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventFile, JobEventLog, type JobEvent } from '../../src/core/jobs/index.js';

// Job events with bounded memory (the worker's, and the agent's histories): the tail in memory,
// every event in a file, and any range read back from it.

describe('EventFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-eventfile-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** 10,000 events, ~1.6 MB of lines (more than one 1 MiB read chunk), some with multi-byte text. */
  function fill(log: JobEventLog, store: EventFile, n: number): number {
    let most = 0;
    log.appendStatus('accepted');
    for (let i = 2; i <= n; i++) {
      if (i % 97 === 0) log.appendStatus('training', `époque ${i} ✓ — 训练`);
      else log.appendProgress({ event: 'batch_end', epoch: Math.floor(i / 100), batch: i % 100, logs: { 'train/loss': 1 / i } });
      most = Math.max(most, store.inMemory);
    }
    return most;
  }

  test('10,000 events with 100 kept: memory stays bounded, and every replay from any seq gives exactly the events after it, as appended', async () => {
    const store = new EventFile(join(dir, 'a.jsonl'), { keep: 100, temporary: true });
    const appended: JobEvent[] = [];
    const log = new JobEventLog('job-a', () => 7, store);
    log.onAppend((e) => appended.push(e));
    const most = fill(log, store, 10_000);
    assert.ok(most <= 200, `at most 2 x 100 events in memory, saw ${most}`);
    assert.equal(log.lastSeq, 10_000);
    assert.ok((await stat(store.file)).size > 1024 * 1024, 'the file is larger than one read chunk');
    for (const from of [0, 1, 999, 1000, 1001, 5432, 9899, 9900, 9901, 9999, 10_000]) {
      const got = log.after(from);
      assert.equal(got.length, 10_000 - from, `after(${from})`);
      assert.deepEqual(got, appended.slice(from), `after(${from}) differs from what was appended`);
    }
    const multibyte = log.after(0).find((e) => e.type === 'status' && e.message?.includes('✓'));
    assert.equal(multibyte?.type === 'status' && multibyte.message, 'époque 97 ✓ — 训练');
  });

  test('follow from an old seq replays from the file, then streams new events with no gap; close removes the file', () => {
    const store = new EventFile(join(dir, 'b.jsonl'), { keep: 50, temporary: true });
    const log = new JobEventLog('job-b', Date.now, store);
    fill(log, store, 3000);
    const seen: number[] = [];
    const off = log.follow(1234, (e) => seen.push(e.seq));
    for (let i = 0; i < 10; i++) log.appendProgress({ event: 'batch_end', epoch: 99, batch: i, logs: {} });
    off();
    assert.deepEqual(seen, Array.from({ length: 3010 - 1234 }, (_, i) => 1235 + i));
    log.close();
    assert.equal(existsSync(store.file), false);
  });

  test('a replay handed over as an iterable covers what was appended when it was asked for, read as it is consumed', () => {
    const store = new EventFile(join(dir, 'c.jsonl'), { keep: 20, temporary: true });
    const log = new JobEventLog('job-c', Date.now, store);
    fill(log, store, 500);
    let missed: Iterable<JobEvent> = [];
    const live: number[] = [];
    const off = log.follow(100, (e) => live.push(e.seq), (m) => (missed = m));
    for (let i = 0; i < 5; i++) log.appendProgress({ event: 'batch_end', epoch: 9, batch: i, logs: {} });
    off();
    assert.deepEqual([...missed].map((e) => e.seq), Array.from({ length: 400 }, (_, i) => 101 + i), 'seqs 101..500, not the 5 appended after');
    assert.deepEqual(live, [501, 502, 503, 504, 505]);
    log.close();
  });

  test('a kept file (the agent\'s) is read back on open in chunks with the tail in memory; pages and reads hold only what they return; a bad line ends the history and is cut off', () => {
    const file = join(dir, 'kept.jsonl');
    const first = new EventFile(file, { keep: 100 });
    const log = new JobEventLog('job-k', () => 1, first);
    fill(log, first, 5000);
    first.close();
    assert.ok(existsSync(file), 'a kept file stays after close');
    const again = new EventFile(file, { keep: 100 });
    assert.equal(again.lastSeq, 5000);
    assert.ok(again.inMemory <= 200, `in memory after reopening: ${again.inMemory}`);
    assert.deepEqual(again.page(100, 50).map((e) => e.seq), Array.from({ length: 50 }, (_, i) => 101 + i));
    assert.deepEqual(again.page(4990).map((e) => e.seq), [4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
    assert.deepEqual(EventFile.read(file, 2500, 3).map((e) => e.seq), [2501, 2502, 2503]);
    assert.equal(EventFile.read(join(dir, 'missing.jsonl')).length, 0);
    again.close();
    // A line that is not an event of this job's sequence (here seq 7 again) ends the history there.
    const before = readFileSync(file).length;
    appendFileSync(file, JSON.stringify({ type: 'progress', job_id: 'job-k', seq: 7, t: 1, data: { event: 'batch_end', epoch: 0, batch: 0, logs: {} } }) + '\n{"type":"status"');
    const cut = new EventFile(file, { keep: 100 });
    assert.equal(cut.lastSeq, 5000);
    assert.equal(readFileSync(file).length, before, 'the bad and torn lines were cut off');
    cut.append({ type: 'status', job_id: 'job-k', seq: 5001, status: 'completed', t: 2 });
    assert.throws(() => cut.append({ type: 'status', job_id: 'job-k', seq: 5003, status: 'completed', t: 2 }), /seq 5003 after 5001/);
    cut.close();
    assert.equal(EventFile.read(file, 4999).map((e) => e.seq).join(','), '5000,5001');
  });

  test('a replay still being read when its file is closed ends with an error, never with events of the file that got the descriptor next', () => {
    const a = new EventFile(join(dir, 'closed-a.jsonl'), { keep: 10, temporary: true });
    const logA = new JobEventLog('job-a2', () => 1, a);
    fill(logA, a, 30_000); // ~4.5 MB: more than one read chunk
    const replay = a.after(0)[Symbol.iterator]();
    assert.equal(replay.next().value?.job_id, 'job-a2');
    a.close();
    const b = new EventFile(join(dir, 'closed-b.jsonl'), { keep: 10, temporary: true });
    const logB = new JobEventLog('job-b2', () => 1, b);
    fill(logB, b, 30_000);
    const seen = new Set<string>();
    assert.throws(() => {
      for (let r = replay.next(); !r.done; r = replay.next()) seen.add(r.value.job_id);
    }, /closed while it was being read/);
    assert.deepEqual([...seen].filter((j) => j !== 'job-a2'), [], 'no event of the other job');
    b.close();
  });

  test('when the file stops taking writes (here: a read-only descriptor), events stay in memory and the history stays whole', () => {
    const file = join(dir, 'ro.jsonl');
    const store = new EventFile(file, { keep: 10, temporary: true });
    const log = new JobEventLog('job-ro', () => 1, store);
    fill(log, store, 100);
    // Fault injection: the store's descriptor is swapped for a read-only one on the same file,
    // so the next writes fail with EBADF while the lines already written can still be read.
    const rw = (store as unknown as { fd: number }).fd;
    (store as unknown as { fd: number }).fd = openSync(file, 'r');
    closeSync(rw);
    for (let i = 0; i < 50; i++) log.appendProgress({ event: 'batch_end', epoch: 1, batch: i, logs: {} });
    assert.equal((store.failure as NodeJS.ErrnoException | undefined)?.code, 'EBADF');
    assert.equal(log.lastSeq, 150);
    assert.deepEqual(log.after(0).map((e) => e.seq), Array.from({ length: 150 }, (_, i) => i + 1));
    assert.ok(store.inMemory >= 50, 'the events the file did not take are all in memory');
    log.close();
  });
});
