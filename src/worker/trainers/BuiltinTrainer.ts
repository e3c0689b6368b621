import { appendFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError } from '../../core/errors.js';
import { readInstances } from '../../core/slp/index.js';
import { buildDataset, FEATURES, type BuiltinDataset } from './builtin/dataset.js';
import { Mlp } from './builtin/Mlp.js';
import { Adam, Sgd } from './builtin/Optimizer.js';
import { seededRandom, shuffle } from './builtin/random.js';
import { builtinSettings, type BuiltinSettings } from './builtin/settings.js';
import { TRAINING_LOG_HEADER, trainingLogRow, writeFileAtomic } from './runFiles.js';
import type { Trainer, TrainerJob, TrainerOutcome, TrainerRun } from './Trainer.js';
import { TrainerRunBase, type RunBaseOptions } from './TrainerRunBase.js';

/**
 * A small but real CPU trainer in TypeScript, for workers without sleap-nn and for tests. It
 * trains a one-hidden-layer perceptron (see builtin/Mlp.ts) by mini-batch Adam (or SGD) to map
 * each labelled instance's time features to its node coordinates, with a seeded train/validation
 * split, true per-batch and per-epoch MSE losses, best-by-validation checkpointing and optional
 * early stopping. It yields to the event loop after every batch, which is where pause, stop and
 * cancel take effect. Outputs in outDir: best.ckpt (JSON weights), training_config.json,
 * training_log.csv.
 */
export class BuiltinTrainer implements Trainer {
  readonly kind = 'builtin' as const;

  constructor(private readonly opts: RunBaseOptions = {}) {}

  start(job: TrainerJob): TrainerRun {
    return new BuiltinRun(job, this.opts);
  }
}

export const BUILTIN_CHECKPOINT_FORMAT = 'sleap-rtc.builtin-mlp';

class BuiltinRun extends TrainerRunBase {
  private pauseRequested = false;
  private wake?: () => void;
  private pauseAcks: (() => void)[] = [];
  private loopDone = false;
  private readonly loopEnded: Promise<void>;
  private endLoop!: () => void;

  constructor(job: TrainerJob, opts: RunBaseOptions) {
    super(job, opts);
    this.loopEnded = new Promise((resolve) => (this.endLoop = resolve));
    setImmediate(() => void this.run());
  }

  protected doPause(): Promise<void> {
    this.pauseRequested = true;
    return this.loopDone ? Promise.resolve() : new Promise((resolve) => this.pauseAcks.push(resolve));
  }

  protected async doResume(): Promise<void> {
    this.pauseRequested = false;
    this.wake?.();
  }

  protected doStop(): Promise<void> {
    this.pauseRequested = false;
    this.wake?.();
    return this.loopEnded;
  }

  protected async doCancel(): Promise<void> {
    this.pauseRequested = false;
    this.wake?.();
    await this.done;
  }

  private async run(): Promise<void> {
    let outcome: TrainerOutcome;
    try {
      outcome = await this.train();
    } catch (e) {
      this.leaveLoop();
      await this.finish('failed', e);
      return;
    }
    await this.finish(outcome);
  }

  private leaveLoop(): void {
    this.loopDone = true;
    this.endLoop();
    for (const ack of this.pauseAcks.splice(0)) ack();
  }

  /** Yields once, parks while paused; says whether to go on. */
  private async gate(): Promise<'go' | 'stop' | 'cancel'> {
    await nextTurn();
    while (this.pauseRequested && !this.requested) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        for (const ack of this.pauseAcks.splice(0)) ack();
      });
      this.wake = undefined;
    }
    return this.requested ?? 'go';
  }

  private async train(): Promise<TrainerOutcome> {
    const { config, outDir, datasetPath } = this.job;
    const s = builtinSettings(config);
    await mkdir(outDir, { recursive: true });
    const instances = await readInstances(datasetPath, { signal: this.job.signal });
    if (this.wants('cancel')) return 'cancelled';
    const data = buildDataset(instances, { validationFraction: s.validationFraction, seed: s.seed, path: datasetPath });
    const random = seededRandom(s.seed);
    const model = new Mlp(data.inputs, s.hiddenUnits, data.outputs, random, 0.5);
    const opt = s.optimizer === 'SGD' ? new Sgd(s.learningRate) : new Adam(model.params.length, s.learningRate);
    const grad = new Float64Array(model.params.length);
    const batchSize = Math.min(s.batchSize, data.train.length);
    const steps = s.stepsPerEpoch ?? Math.max(Math.ceil(data.train.length / batchSize), s.minStepsPerEpoch);
    const logPath = join(outDir, 'training_log.csv');
    await writeFileAtomic(join(outDir, 'training_config.json'), JSON.stringify(this.describe(s, data, steps), null, 2) + '\n');
    await writeFileAtomic(logPath, TRAINING_LOG_HEADER + '\n');
    this.log.info('builtin training', { samples: data.count, train: data.train.length, val: data.val.length, steps_per_epoch: steps, max_epochs: s.maxEpochs });

    const best = { loss: Number.POSITIVE_INFINITY, params: model.params.slice(), epoch: -1, trainLoss: Number.NaN, valLoss: Number.NaN };
    const order = data.train.slice();
    let cursor = order.length;
    const batch = new Int32Array(batchSize);
    let sinceBest = 0;
    this.emitProgress({ event: 'train_begin', wandb_url: null });
    for (let epoch = 0; epoch < s.maxEpochs; epoch++) {
      if ((await this.gate()) !== 'go') break;
      this.emitProgress({ event: 'epoch_begin', epoch });
      const t0 = performance.now();
      let sum = 0;
      let batches = 0;
      for (let b = 0; b < steps; b++) {
        if (b > 0 && (await this.gate()) !== 'go') break;
        for (let i = 0; i < batchSize; i++) {
          if (cursor >= order.length) {
            shuffle(order, random);
            cursor = 0;
          }
          batch[i] = order[cursor++];
        }
        const loss = model.loss(data, batch, grad);
        if (!Number.isFinite(loss)) {
          throw new AppError('internal', `training diverged at epoch ${epoch}, batch ${b} (loss ${loss}); lower trainer_config.optimizer.lr`);
        }
        opt.step(model.params, grad);
        sum += loss;
        batches++;
        this.emitProgress({ event: 'batch_end', epoch, batch: b, logs: { 'train/loss': loss } });
      }
      if (this.wants('cancel') || batches === 0) break;
      const trainTime = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const valLoss = data.val.length > 0 ? model.loss(data, data.val) : undefined;
      const valTime = (performance.now() - t1) / 1000;
      const trainLoss = sum / batches;
      this.emitProgress({
        event: 'epoch_end',
        epoch,
        logs: { 'train/loss': trainLoss, ...(valLoss === undefined ? {} : { 'val/loss': valLoss }), learning_rate: opt.lr },
      });
      await appendFile(logPath, trainingLogRow({ epoch, trainLoss, valLoss, learningRate: opt.lr, trainTime, valTime }) + '\n');
      const monitored = valLoss ?? trainLoss;
      if (monitored < best.loss - (s.earlyStopping?.minDelta ?? 0)) {
        Object.assign(best, { loss: monitored, epoch, trainLoss, valLoss: valLoss ?? Number.NaN });
        best.params.set(model.params);
        sinceBest = 0;
      } else {
        sinceBest++;
      }
      if (this.requested) break;
      if (s.earlyStopping && sinceBest >= s.earlyStopping.patience) {
        this.log.info('early stopping: the monitored loss stopped improving', { epoch, patience: s.earlyStopping.patience });
        break;
      }
    }
    this.leaveLoop();
    if (this.wants('cancel')) return 'cancelled';
    this.emitProgress({ event: 'train_end' });
    if (best.epoch < 0) best.params.set(model.params);
    await writeFileAtomic(join(outDir, 'best.ckpt'), JSON.stringify(this.checkpoint(model, best, instances.skeleton, data)) + '\n');
    return this.wants('stop') ? 'stopped' : 'completed';
  }

  private describe(s: BuiltinSettings, data: BuiltinDataset, steps: number): unknown {
    return {
      trainer: 'builtin',
      dataset: basename(this.job.datasetPath),
      settings: s,
      steps_per_epoch: steps,
      samples: { train: data.train.length, val: data.val.length, dropped_without_points: data.dropped },
      features: FEATURES,
      config: this.job.config,
    };
  }

  private checkpoint(model: Mlp, best: { params: Float64Array; epoch: number; trainLoss: number; valLoss: number }, skeleton: { name: string; nodes: string[]; edges: [string, string][] }, data: BuiltinDataset): unknown {
    const v = model.views(best.params);
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      format: BUILTIN_CHECKPOINT_FORMAT,
      version: 1,
      epoch: best.epoch,
      train_loss: finite(best.trainLoss),
      val_loss: finite(best.valLoss),
      model: {
        kind: 'mlp',
        activation: 'tanh',
        inputs: model.inputs,
        hidden: model.hidden,
        outputs: model.outputs,
        features: FEATURES,
        // Row-major: w1 is hidden x inputs, w2 is outputs x hidden; outputs are x0, y0, x1, y1, ...
        w1: Array.from(v.w1),
        b1: Array.from(v.b1),
        w2: Array.from(v.w2),
        b2: Array.from(v.b2),
      },
      skeleton: { name: skeleton.name, nodes: skeleton.nodes, edges: skeleton.edges },
      normalisation: data.norm,
      created_at: new Date().toISOString(),
    };
  }
}
