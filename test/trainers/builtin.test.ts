import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trainingConfig } from '../../src/core/schemas/jobs.js';
import { BUILTIN_CHECKPOINT_FORMAT, BuiltinTrainer } from '../../src/worker/trainers/index.js';
import { sharedSkipReason, sharedSleapFile, writeSyntheticSlp } from '../support/slpFixtures.js';
import { assertOrdered, record, trainerSuite } from './trainerSuite.js';

const config = (trainer_config: Record<string, unknown>, data_config: Record<string, unknown> = {}) =>
  trainingConfig.parse({ trainer: 'builtin', data_config, trainer_config: { batch_size: 4, optimizer: { lr: 0.003 }, ...trainer_config } });

trainerSuite({
  name: 'builtin',
  make: (epochs) => ({ trainer: new BuiltinTrainer(), config: config({ max_epochs: epochs }) }),
});

describe('builtin trainer', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'builtin-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const train = (datasetPath: string, cfg: ReturnType<typeof config>) => {
    const outDir = join(dir, `run${++n}`);
    const run = new BuiltinTrainer().start({ jobId: `b${n}`, datasetPath, config: cfg, outDir, signal: new AbortController().signal });
    return { run, outDir, rec: record(run) };
  };
  const epochLosses = (rec: ReturnType<typeof record>, key: string) =>
    rec.events.flatMap((e) => (e.event === 'epoch_end' && e.logs[key] !== undefined ? [e.logs[key]] : []));

  test('learns the synthetic points: train and validation loss fall, a JSON checkpoint holds the weights', async () => {
    const slp = await writeSyntheticSlp(join(dir, 'syn.pkg.slp'), { frames: 60, instancesPerFrame: 2, nodes: 4, embedded: true });
    const { run, outDir, rec } = train(slp.path, config({ max_epochs: 8 }, { validation_fraction: 0.2 }));

    const result = await run.done;

    assert.equal(result.status, 'completed', result.error?.message);
    assertOrdered(rec.events, { complete: true });
    const trainLoss = epochLosses(rec, 'train/loss');
    const valLoss = epochLosses(rec, 'val/loss');
    assert.equal(trainLoss.length, 8);
    assert.ok(trainLoss[7] < trainLoss[0] / 2, `train loss falls: ${trainLoss.join(', ')}`);
    assert.ok(valLoss[7] < valLoss[0], `validation loss falls: ${valLoss.join(', ')}`);
    const ckpt = JSON.parse(await readFile(join(outDir, 'best.ckpt'), 'utf8'));
    assert.equal(ckpt.format, BUILTIN_CHECKPOINT_FORMAT);
    assert.deepEqual(ckpt.skeleton.nodes, slp.nodes);
    assert.equal(ckpt.model.w1.length, ckpt.model.hidden * ckpt.model.inputs);
    assert.equal(ckpt.model.w2.length, 8 * ckpt.model.hidden);
    assert.equal(ckpt.val_loss, result.metrics.best_val_loss);
    const saved = JSON.parse(await readFile(join(outDir, 'training_config.json'), 'utf8'));
    // 60 frames x 2 instances, 20% held out
    assert.deepEqual(saved.samples, { train: 96, val: 24, dropped_without_points: 0 });
    assert.equal(saved.settings.maxEpochs, 8);
    assert.equal(saved.steps_per_epoch, 200);
  });

  test('batch_end events are throttled to at most one per 50 ms', async () => {
    const slp = await writeSyntheticSlp(join(dir, 'syn-throttle.slp'), { frames: 20, instancesPerFrame: 1, nodes: 2 });
    const t0 = performance.now();
    const { run, rec } = train(slp.path, config({ max_epochs: 20, min_train_steps_per_epoch: 400 }));

    const result = await run.done;
    const elapsed = performance.now() - t0;

    assert.equal(result.status, 'completed');
    const batchEnds = rec.events.filter((e) => e.event === 'batch_end').length;
    assert.ok(batchEnds >= 1 && batchEnds <= Math.ceil(elapsed / 50) + 1, `${batchEnds} batch_end events in ${elapsed.toFixed(0)} ms (20 x 400 batches run)`);
    assert.equal(rec.events.filter((e) => e.event === 'epoch_end').length, 20, 'epoch events are never dropped');
  });

  test('early stopping from trainer_config.early_stopping ends the run completed', async () => {
    const slp = await writeSyntheticSlp(join(dir, 'syn-es.slp'), { frames: 10, instancesPerFrame: 1, nodes: 2 });
    const cfg = config({ max_epochs: 10_000, min_train_steps_per_epoch: 5, early_stopping: { stop_training_on_plateau: true, patience: 3, min_delta: 1 } });
    const { run } = train(slp.path, cfg);

    const result = await run.done;

    // min_delta 1 on losses below 1: nothing ever counts as better after the first epoch.
    assert.equal(result.status, 'completed');
    assert.equal(result.metrics.epochs, 4);
  });

  test('an invalid setting fails the run with config_invalid', async () => {
    const slp = await writeSyntheticSlp(join(dir, 'syn-bad.slp'), { frames: 4, instancesPerFrame: 1, nodes: 2 });
    const { run } = train(slp.path, config({ optimizer: { lr: -1 } }));

    const result = await run.done;

    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'config_invalid');
    assert.match(result.error!.message, /trainer_config.optimizer.lr must be a positive number/);
  });

  describe('on the real SLEAP files', { skip: sharedSkipReason }, () => {
    for (const name of ['minimal_instance.pkg.slp', 'small_robot_minimal.slp']) {
      test(`${name}: trains, events valid, train loss falls`, async () => {
        const { run, rec } = train(sharedSleapFile(name), config({ max_epochs: 5 }));

        const result = await run.done;

        assert.equal(result.status, 'completed', result.error?.message);
        assertOrdered(rec.events, { complete: true });
        const trainLoss = epochLosses(rec, 'train/loss');
        assert.ok(trainLoss[4] < trainLoss[0], `train loss falls: ${trainLoss.join(', ')}`);
        assert.ok(epochLosses(rec, 'val/loss').every(Number.isFinite), 'two instances: one is held out for validation');
        assert.deepEqual(result.artifacts, ['best.ckpt', 'training_config.json', 'training_log.csv']);
      });
    }
  });
});
