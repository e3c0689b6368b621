import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/core/log.js';
import { trainingConfig } from '../../src/core/schemas/jobs.js';
import { SleapNnTrainer, type SleapNnOptions } from '../../src/worker/trainers/index.js';
import { parseProgressMessage } from '../../src/worker/trainers/progressMessage.js';
import { hydraQuote, sleapNnArgv, toSleapNnConfig } from '../../src/worker/trainers/sleapNnCommand.js';
import { toYaml } from '../../src/worker/trainers/yaml.js';
import { repoRoot } from '../support/proc.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { record, trainerSuite } from './trainerSuite.js';

/**
 * sleap-nn cannot run here (PyTorch, GPU), so these tests drive a fake: an independent Python
 * peer (Debian's python3 + python3-zmq) that parses sleap-nn's command line and speaks its ZMQ
 * protocol. See fixtures/fake_sleap_nn.py.
 */
const PYTHON = '/usr/bin/python3';
const FAKE = join(repoRoot, 'test/trainers/fixtures/fake_sleap_nn.py');
const fake = (opts: SleapNnOptions = {}) => new SleapNnTrainer({ command: [PYTHON, FAKE], ...opts });
const config = (max_epochs: number) =>
  trainingConfig.parse({
    trainer: 'sleap-nn',
    data_config: { train_labels_path: ['/home/someone/labels.slp'], validation_fraction: 0.1 },
    model_config: { backbone_config: { unet: { filters: 16 } } },
    trainer_config: { max_epochs, min_train_steps_per_epoch: 4, optimizer: { lr: 1e-4 }, zmq: { controller_polling_timeout: 10 } },
  });

trainerSuite({ name: 'sleap-nn', make: (epochs) => ({ trainer: fake(), config: config(epochs) }) });

describe('sleap-nn trainer', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleap-nn-'));
    dataset = join(dir, 'labels.pkg.slp');
    await writeSyntheticSlp(dataset, { frames: 10, instancesPerFrame: 1, nodes: 2, embedded: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the command line is sleap-nn train with Hydra overrides, as an argv array', () => {
    const argv = sleapNnArgv({
      command: ['/opt/sleap/bin/sleap-nn'],
      configDir: '/tmp/cfg',
      configName: 'training_config',
      datasetPath: '/data/jobs/j1/labels.pkg.slp',
      outDir: '/data/jobs/j1/model',
      publishPort: 9001,
      controllerPort: 9000,
      maxEpochs: 50,
    });

    assert.deepEqual(argv, [
      '/opt/sleap/bin/sleap-nn', 'train', '--config-name', 'training_config', '--config-dir', '/tmp/cfg',
      "++data_config.train_labels_path=['/data/jobs/j1/labels.pkg.slp']",
      "++trainer_config.ckpt_dir='/data/jobs/j1'",
      "++trainer_config.run_name='model'",
      '++trainer_config.save_ckpt=true',
      'trainer_config.max_epochs=50',
      '++trainer_config.zmq.publish_port=9001',
      '++trainer_config.zmq.controller_port=9000',
    ]);
    assert.throws(() => hydraQuote("/data/it's.slp"), /must not contain quotes/);
  });

  test('the YAML config reads back identically in Python (PyYAML), laptop paths cleared; keys such as on / yes / null stay strings', () => {
    const cfg = toSleapNnConfig(trainingConfig.parse({
      data_config: { train_labels_path: ['/Users/me/labels.slp'], val_labels_path: '/Users/me/val.slp', preprocessing: { scale: 0.5, max_height: null } },
      // `flags`: keys that YAML 1.1 (PyYAML) reads as booleans or None unless quoted.
      model_config: { head_configs: { single_instance: { confmaps: { part_names: ['A', 'B'], sigma: 5.0 } } }, flags: { on: 1, off: 'x', yes: [true], null: 0.25, '~': 1, y: 2 } },
      trainer_config: { max_epochs: 200, batch_size: 8, optimizer: { lr: 0.0001 }, lr_scheduler: { reduce_lr_on_plateau: { min_lr: 1e-8, threshold: 1e-6 } }, early_stopping: {}, weird: 'a: "b" # c', big: 1e21, tiny: -2.5e-300, nested_lists: [[1, 2], [0.5]] },
    }));

    const yaml = toYaml(cfg);
    const back = JSON.parse(execFileSync(PYTHON, ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: yaml, encoding: 'utf8' }));

    assert.deepEqual(back, JSON.parse(JSON.stringify(cfg)));
    assert.equal(back.data_config.val_labels_path, null);
    assert.deepEqual(back.trainer_config.train_data_loader, { batch_size: 8 });
    assert.equal(back.trainer_config.batch_size, undefined);
    assert.deepEqual(Object.keys(back.model_config.flags), ['on', 'off', 'yes', 'null', '~', 'y']);
  });

  test('progress messages: Python NaN/Infinity and logs: null are tolerated', () => {
    assert.deepEqual(parseProgressMessage('{"what": "", "event": "batch_end", "epoch": 0, "batch": 3, "logs": {"train/loss": NaN, "val/loss": 0.5, "lr": -Infinity, "name": "NaN"}}'), {
      what: '', event: 'batch_end', epoch: 0, batch: 3, logs: { 'val/loss': 0.5 },
    });
    assert.deepEqual(parseProgressMessage('{"what": "", "event": "train_begin", "logs": null, "wandb_url": null}'), { what: '', event: 'train_begin', wandb_url: null });
  });

  test('stop falls back to SIGINT when sleap-nn ignores the stop command, and the model is kept', async () => {
    const lines: string[] = [];
    const trainer = fake({ env: { ...process.env, FAKE_SLEAP_NN_IGNORE_STOP: '1' }, stopTimeoutMs: 600, logger: createLogger('test', {}, (l) => lines.push(l)) });
    const run = trainer.start({ jobId: 'sigint', datasetPath: dataset, config: config(100_000), outDir: join(dir, 'sigint'), signal: new AbortController().signal });
    const rec = record(run);
    await rec.next((e) => e.event === 'epoch_end');

    await run.stop();
    const result = await run.done;

    assert.equal(result.status, 'stopped');
    assert.ok(result.artifacts.includes('best.ckpt'), result.artifacts.join());
    assert.ok(lines.some((l) => /did not stop within 600 ms of the stop command; sending SIGINT/.test(l)), 'the fallback is logged');
  });

  test('sleap-nn receives the config and writes its run folder into outDir', async () => {
    const outDir = join(dir, 'folder');
    const run = fake().start({ jobId: 'folder', datasetPath: dataset, config: config(2), outDir, signal: new AbortController().signal });

    const result = await run.done;

    assert.equal(result.status, 'completed', result.error?.message);
    assert.deepEqual(result.artifacts, ['best.ckpt', 'initial_config.yaml', 'training_config.yaml', 'training_log.csv']);
    const used = await readFile(join(outDir, 'training_config.yaml'), 'utf8');
    assert.match(used, new RegExp(`- ${dataset.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the dataset path came from the override');
    assert.match(used, /filters: 16/);
  });

  test('an executable that does not exist fails the run with a clear error', async () => {
    const run = new SleapNnTrainer({ command: [join(dir, 'no-such-sleap-nn')] }).start({ jobId: 'enoent', datasetPath: dataset, config: config(1), outDir: join(dir, 'enoent'), signal: new AbortController().signal });

    const result = await run.done;

    assert.equal(result.status, 'failed');
    assert.match(result.error!.message, /could not start sleap-nn .*no-such-sleap-nn.*ENOENT/);
  });
});
