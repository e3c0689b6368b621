import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobEventLog, type JobEvent } from '../../src/core/jobs/index.js';
import { SpillingEventStore } from '../../src/worker/SpillingEventStore.js';

// The worker's job events with bounded memory: the tail in memory, every event in a file, and
// replays of any range read back from it.

describe('SpillingEventStore', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-spill-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** 10,000 events, ~1.6 MB of lines (more than one 1 MiB read chunk), some with multi-byte text. */
  function fill(log: JobEventLog, store: SpillingEventStore, n: number): number {
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
    const store = new SpillingEventStore(join(dir, 'a.jsonl'), 100);
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
    const store = new SpillingEventStore(join(dir, 'b.jsonl'), 50);
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
    const store = new SpillingEventStore(join(dir, 'c.jsonl'), 20);
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
});
