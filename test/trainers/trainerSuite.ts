import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { progressEvent, type ProgressEvent } from '../../src/core/schemas/datachannel.js';
import { trainingConfig, type TrainingConfig } from '../../src/core/schemas/jobs.js';
import type { Trainer, TrainerRun, TrainerStatus } from '../../src/worker/trainers/index.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { holdsFor } from '../support/wait.js';

/**
 * The one suite every trainer passes (a pluggable part has one interface and one shared suite). A subject
 * says how to make a trainer and a config for a run of N epochs; the suite trains on a synthetic
 * SLEAP file and checks the contract of Trainer / TrainerRun: ordered, valid events; pause holds
 * events; stop keeps a model; cancel keeps none; a broken dataset fails with a clear error.
 */
export interface SuiteSubject {
  name: string;
  /** A trainer and a config for a run of `epochs` epochs that take at least ~10 ms each. */
  make(epochs: number): { trainer: Trainer; config: TrainingConfig };
}

export interface Recorded {
  events: ProgressEvent[];
  statuses: TrainerStatus[];
  /** Resolves with the first event (after those already seen) matching `pred`. */
  next(pred: (e: ProgressEvent) => boolean, timeoutMs?: number): Promise<ProgressEvent>;
}

export function record(run: TrainerRun): Recorded {
  const events: ProgressEvent[] = [];
  const statuses: TrainerStatus[] = [];
  const waiters: { pred: (e: ProgressEvent) => boolean; resolve: (e: ProgressEvent) => void }[] = [];
  run.onStatus((s) => statuses.push(s));
  run.onProgress((e) => {
    events.push(e);
    for (const w of waiters.splice(0)) if (w.pred(e)) w.resolve(e);
    else waiters.push(w);
  });
  return {
    events,
    statuses,
    next: (pred, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching progress event within ${timeoutMs} ms (got ${events.length} events, status ${run.status})`)), timeoutMs);
        waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      }),
  };
}

/** Checks the order of a run's events: train_begin, then per epoch begin..batches..end, then train_end. */
export function assertOrdered(events: ProgressEvent[], opts: { complete: boolean }): void {
  for (const e of events) progressEvent.parse(e);
  assert.equal(events[0]?.event, 'train_begin', 'the first event is train_begin');
  let epoch = -1;
  let open = false;
  for (const e of events.slice(1)) {
    if (e.event === 'epoch_begin') {
      assert.ok(!open && e.epoch === epoch + 1, `epoch_begin ${e.epoch} follows epoch ${epoch}`);
      epoch = e.epoch;
      open = true;
    } else if (e.event === 'batch_end') {
      assert.ok(open && e.epoch === epoch, `batch_end of epoch ${e.epoch} inside epoch ${epoch}`);
      assert.ok(Object.values(e.logs).every(Number.isFinite), 'batch losses are finite');
    } else if (e.event === 'batch_start') {
      assert.ok(open, 'batch_start inside an epoch');
    } else if (e.event === 'epoch_end') {
      assert.ok(open && e.epoch === epoch, `epoch_end ${e.epoch} closes epoch ${epoch}`);
      assert.ok(Number.isFinite(e.logs['train/loss']), 'epoch train loss is finite');
      open = false;
    } else if (e.event === 'train_end') {
      assert.ok(!open, 'train_end after the last epoch_end');
    } else {
      assert.fail(`unexpected ${e.event} after train_begin`);
    }
  }
  if (opts.complete) assert.equal(events[events.length - 1].event, 'train_end', 'the last event is train_end');
}

export function trainerSuite(subject: SuiteSubject): void {
  describe(`${subject.name} trainer (shared suite)`, () => {
    let dir: string;
    let dataset: string;
    let n = 0;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `trainer-${subject.name}-`));
      dataset = join(dir, 'labels.pkg.slp');
      await writeSyntheticSlp(dataset, { frames: 40, instancesPerFrame: 2, nodes: 3, embedded: true });
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const start = (epochs: number, datasetPath = dataset, signal = new AbortController().signal) => {
      const { trainer, config } = subject.make(epochs);
      const outDir = join(dir, `run${++n}`);
      const run = trainer.start({ jobId: `job-${n}`, datasetPath, config: trainingConfig.parse(config), outDir, signal });
      return { run, outDir, rec: record(run) };
    };

    test('trains to completion: events in order, valid, finite losses, a model and a log', async () => {
      const { run, outDir, rec } = start(3);

      const result = await run.done;

      assert.equal(result.status, 'completed', result.error?.message);
      assertOrdered(rec.events, { complete: true });
      assert.equal(rec.events.filter((e) => e.event === 'epoch_end').length, 3);
      assert.equal(result.metrics.epochs, 3);
      assert.ok(Number.isFinite(result.metrics.train_loss));
      assert.ok(result.artifacts.includes('best.ckpt') && result.artifacts.includes('training_log.csv'), result.artifacts.join());
      const log = (await readFile(join(outDir, 'training_log.csv'), 'utf8')).trim().split('\n');
      assert.equal(log[0], 'epoch,train_loss,val_loss,learning_rate,train_time,val_time');
      assert.equal(log.length, 4);
      assert.deepEqual(rec.statuses, ['completed']);
    });

    test('pause: no events for 2 s; resume: events again', async () => {
      const { run, rec } = start(100_000);
      await rec.next((e) => e.event === 'epoch_end');

      await run.pause();
      const seen = rec.events.length;
      await holdsFor(() => rec.events.length === seen, 'no progress while paused', 2000, { intervalMs: 50 });
      const statusWhilePaused = run.status;
      await run.resume();
      await rec.next(() => true);
      await run.stop();
      const result = await run.done;

      assert.equal(statusWhilePaused, 'paused');
      assert.deepEqual(rec.statuses.slice(0, 2), ['paused', 'training']);
      assert.equal(result.status, 'stopped');
    });

    test('stop: finishes the batch, keeps the model, ends stopped', async () => {
      const { run, outDir, rec } = start(100_000);
      await rec.next((e) => e.event === 'epoch_end');

      await run.stop();
      const result = await run.done;

      assert.equal(result.status, 'stopped', result.error?.message);
      assert.ok(result.artifacts.includes('best.ckpt'), result.artifacts.join());
      assert.ok((await readFile(join(outDir, 'best.ckpt'))).length > 0);
      assertOrdered(rec.events, { complete: true });
      assert.ok(result.metrics.epochs >= 1 && result.metrics.epochs < 100_000);
      assert.equal(rec.statuses[rec.statuses.length - 1], 'stopped');
    });

    test('stop while paused still stops and keeps the model', async () => {
      const { run, rec } = start(100_000);
      await rec.next((e) => e.event === 'epoch_end');
      await run.pause();

      await run.stop();
      const result = await run.done;

      assert.equal(result.status, 'stopped', result.error?.message);
      assert.ok(result.artifacts.includes('best.ckpt'));
    });

    test('cancel: ends cancelled with no model and no further progress', async () => {
      const { run, rec } = start(100_000);
      await rec.next((e) => e.event === 'epoch_end');

      await run.cancel();
      const count = rec.events.length;
      const result = await run.done;
      await holdsFor(() => rec.events.length === count, 'no progress after the cancel', 100, { intervalMs: 10 });

      assert.equal(result.status, 'cancelled');
      assert.ok(!result.artifacts.some((f) => f.endsWith('.ckpt')), `no model left: ${result.artifacts.join()}`);
      assert.equal(rec.events.length, count);
      assert.equal(run.status, 'cancelled');
      await assert.rejects(run.pause(), /already ended/);
    });

    test('aborting the job signal cancels the run', async () => {
      const ac = new AbortController();
      const { run, rec } = start(100_000, dataset, ac.signal);
      await rec.next((e) => e.event === 'epoch_begin');

      ac.abort();
      const result = await run.done;

      assert.equal(result.status, 'cancelled');
    });

    test('a malformed dataset fails with a clear error', async () => {
      const bad = join(dir, 'broken.slp');
      await writeFile(bad, 'not a labels file\n');
      const { run } = start(3, bad);

      const result = await run.done;

      assert.equal(result.status, 'failed');
      assert.match(result.error?.message ?? '', /HDF5|signature/i);
      assert.ok(!result.artifacts.includes('best.ckpt'));
    });
  });
}
