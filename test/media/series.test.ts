import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobEvent } from '../../src/core/jobs/JobEventLog.js';
import { RunSeries } from '../../media/monitor/series.js';
import { overlappingPages, syntheticRun, valLossAt } from './support/synthetic.js';

const EPOCHS = 20;
const NB = 10;

for (const vocabulary of ['sleap-nn', 'builtin'] as const) {
  test(`series from ${vocabulary}'s keys: train, val per epoch and batch loss per step`, () => {
    const events = syntheticRun({ vocabulary, epochs: EPOCHS, batchesPerEpoch: NB, bestEpoch: 13 });
    const s = new RunSeries('job-synthetic', { maxEpochs: EPOCHS });
    assert.equal(s.add(events), events.length);
    assert.equal(s.train.length, EPOCHS);
    assert.equal(s.val.length, EPOCHS);
    assert.equal(s.batch.length, EPOCHS * NB);
    assert.equal(s.lr.length, EPOCHS);
    assert.equal(s.points, EPOCHS * (NB + 2));
    // Global step: the running count of batch_end; an epoch point sits at its epoch's last step.
    assert.deepEqual([...s.batch.step.subarray(0, 3)], [1, 2, 3]);
    assert.equal(s.train.step[0], NB);
    assert.equal(s.val.step[EPOCHS - 1], EPOCHS * NB);
    // Epoch axis: batch b of epoch e at e + (b + 1) / batches; the epoch's point at e + 1.
    assert.equal(s.batch.xEpoch[0], 0.1);
    assert.equal(s.batch.xEpoch[NB - 1], 1);
    assert.equal(s.batch.xEpoch[NB], 1.1);
    assert.equal(s.val.xEpoch[0], 1);
    assert.equal(s.val.value[5], valLossAt(5, 13));
    const stats = s.stats(Date.now());
    assert.deepEqual(stats.best, { epoch: 13, value: valLossAt(13, 13), by: 'val' });
    assert.equal(stats.epochsSinceBest, EPOCHS - 1 - 13);
    assert.equal(stats.epochsDone, EPOCHS);
    assert.equal(stats.status, 'completed');
    assert.equal(stats.etaMs, undefined, 'no ETA once the job ended');
    // Mean epoch time: NB batches of 50 ms + 50 ms to the epoch_end.
    assert.equal(stats.meanEpochMs, (NB + 1) * 50);
  });
}

test('series dedupe by seq across overlapping pages, in any order', () => {
  const events = syntheticRun({ epochs: EPOCHS, batchesPerEpoch: NB });
  const once = new RunSeries('j');
  once.add(events);
  const paged = new RunSeries('j');
  let added = 0;
  for (const page of overlappingPages(events, 37, 11)) added += paged.add(page);
  added += paged.add(events); // a full replay after an agent restart
  assert.equal(added, events.length, 'each event counted once');
  assert.equal(paged.points, once.points);
  assert.deepEqual([...paged.batch.value.subarray(0, paged.batch.length)], [...once.batch.value.subarray(0, once.batch.length)]);
  assert.deepEqual([...paged.batch.step.subarray(0, paged.batch.length)], [...once.batch.step.subarray(0, once.batch.length)]);
});

test('series: an older page that fills a gap is merged in seq order (steps and epoch x recomputed)', () => {
  const events = syntheticRun({ epochs: 6, batchesPerEpoch: NB });
  const once = new RunSeries('j');
  once.add(events);
  const s = new RunSeries('j');
  // Live events first (from the middle on), then the history before them, then everything again.
  const mid = Math.floor(events.length / 2);
  s.add(events.slice(mid));
  s.add(events.slice(0, mid + 5));
  s.add([...events].reverse());
  for (const kind of ['train', 'val', 'batch'] as const) {
    const a = s.buffer(kind);
    const b = once.buffer(kind);
    assert.equal(a.length, b.length, kind);
    for (const f of ['seq', 'step', 'xEpoch', 'value', 'epoch', 't'] as const) assert.deepEqual([...a[f].subarray(0, a.length)], [...b[f].subarray(0, b.length)], `${kind}.${f}`);
  }
  assert.deepEqual(s.stats(0).best, once.stats(0).best);
});

test('series: ETA from max_epochs and the mean epoch time, pauses left out', () => {
  const job_id = 'j';
  const t0 = 1_000_000;
  const ev: JobEvent[] = [{ type: 'status', job_id, seq: 1, status: 'training', t: t0 }];
  let seq = 1;
  let t = t0;
  for (let e = 0; e < 4; e++) {
    ev.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'epoch_begin', epoch: e }, t });
    if (e === 2) {
      // Paused for 60 s inside epoch 2: not training time.
      ev.push({ type: 'status', job_id, seq: ++seq, status: 'paused', t: t + 500 });
      ev.push({ type: 'status', job_id, seq: ++seq, status: 'training', t: t + 60_500 });
      t += 60_000;
    }
    t += 1000;
    ev.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'epoch_end', epoch: e, logs: { 'train/loss': 1 / (e + 1), 'val/loss': 2 / (e + 1) } }, t });
  }
  const s = new RunSeries(job_id, { maxEpochs: 10 });
  s.add(ev);
  const stats = s.stats(t);
  assert.equal(stats.meanEpochMs, 1000);
  assert.equal(stats.etaMs, 6 * 1000);
  assert.equal(stats.epochsDone, 4);
  assert.equal(stats.lastVal, 0.5);
  assert.equal(stats.best?.epoch, 3);
  assert.equal(stats.epochsSinceBest, 0);
  assert.equal(stats.status, 'training');
});

test('series without validation: the best epoch is by train loss', () => {
  const ev: JobEvent[] = [0.5, 0.2, 0.3].map((loss, e) => ({ type: 'progress', job_id: 'j', seq: e + 1, data: { event: 'epoch_end', epoch: e, logs: { 'train/loss': loss } }, t: e }));
  const s = new RunSeries('j');
  s.add(ev);
  assert.deepEqual(s.stats().best, { epoch: 1, value: 0.2, by: 'train' });
  assert.equal(s.val.length, 0);
});

test('series ignore logs without a known loss key and events of other kinds', () => {
  const s = new RunSeries('j');
  s.add([
    { type: 'progress', job_id: 'j', seq: 1, data: { event: 'batch_end', epoch: 0, batch: 0, logs: { accuracy: 0.5 } }, t: 1 },
    { type: 'progress', job_id: 'j', seq: 2, data: { event: 'train_end' }, t: 2 },
    { type: 'job_failed', job_id: 'j', seq: 3, error: { code: 'x', message: 'boom' } },
  ]);
  assert.equal(s.points, 0);
  assert.equal(s.stats().status, 'failed');
});

test('series hold 1,000,000 batch points in typed arrays grown by doubling', () => {
  const s = new RunSeries('j');
  const n = 1_000_000;
  const page: JobEvent[] = [];
  let seq = 0;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    page.push({ type: 'progress', job_id: 'j', seq: ++seq, data: { event: 'batch_end', epoch: Math.floor(i / 1000), batch: i % 1000, logs: { loss: 1 / (1 + i) } }, t: i });
    if (page.length === 10_000) s.add(page.splice(0));
  }
  const ms = performance.now() - t;
  assert.equal(s.batch.length, n);
  assert.ok(s.batch.value instanceof Float64Array);
  assert.equal(s.batch.capacity, 2 ** Math.ceil(Math.log2(n)));
  assert.equal(s.batch.step[n - 1], n);
  assert.equal(s.batch.xEpoch[n - 1], 1000);
  console.log(`1,000,000 batch_end events into the store: ${ms.toFixed(0)} ms (including making them)`);
});
