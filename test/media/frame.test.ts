import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logFloor, logRange } from '../../media/monitor/axis.js';
import { allowedCommands } from '../../media/monitor/commands.js';
import { configRows, datasetRows, maxEpochsOf } from '../../media/monitor/describe.js';
import { FramePlanner, panZoom } from '../../media/monitor/frame.js';
import { hashId, runColorIndexes } from '../../media/monitor/palette.js';
import { RunSeries } from '../../media/monitor/series.js';
import { syntheticRun } from './support/synthetic.js';

function run(id: string, epochs = 20, nb = 10): RunSeries {
  const s = new RunSeries(id, { maxEpochs: epochs });
  s.add(syntheticRun({ jobId: id, epochs, batchesPerEpoch: nb, bestEpoch: 13 }));
  return s;
}

test('a frame draws every series of every run, raw faint under smoothed, with the best epoch marked', () => {
  const p = new FramePlanner();
  const f = p.plan([run('a'), run('b')], { axis: 'epoch', log: true, smoothing: 0.6, outliers: false }, undefined, 400);
  assert.equal(f.series.length, 2 * 3 * 2);
  assert.deepEqual(
    f.series.filter((s) => s.runId === 'a').map((s) => `${s.kind}/${s.role}`),
    ['batch/raw', 'batch/smoothed', 'train/raw', 'train/smoothed', 'val/raw', 'val/smoothed'],
  );
  assert.equal(f.data.length, 1 + f.series.length, 'one x array plus one y array per series');
  assert.equal(f.total, 2 * 240);
  assert.equal(f.drawn, 2 * 240, 'few points: every one drawn');
  assert.deepEqual(f.x, [0.1, 20]);
  assert.ok(f.y && f.y[0] > 0, 'a positive range on the log axis');
  assert.deepEqual(
    f.best.map((b) => [b.runId, b.epoch, b.x]),
    [
      ['a', 13, 14],
      ['b', 13, 14],
    ],
  );
});

test('a frame on the step and time axes puts the best marker at its step and time', () => {
  const p = new FramePlanner();
  const r = run('a');
  const step = p.plan([r], { axis: 'step', log: false, smoothing: 0, outliers: false }, undefined, 400);
  assert.equal(step.best[0].x, 140);
  assert.deepEqual(step.x, [1, 200]);
  const time = p.plan([r], { axis: 'time', log: false, smoothing: 0, outliers: true }, undefined, 400);
  // Epoch 13 ends 400 ms (four statuses) + 14 epochs of 11 x 50 ms after the first event.
  assert.equal(time.best[0].x, (400 + 14 * 550) / 1000);
  assert.equal(time.series.length, 3);
});

test('a frame of 1,000,000 batch points is bounded by the pixel columns', () => {
  const s = new RunSeries('big');
  const page = [];
  for (let i = 0; i < 1_000_000; i++) {
    page.push({ type: 'progress' as const, job_id: 'big', seq: i + 1, data: { event: 'batch_end' as const, epoch: Math.floor(i / 1000), batch: i % 1000, logs: { loss: 1 / (1 + i / 1000) + 0.01 * Math.sin(i) } }, t: i });
    if (page.length === 50_000) s.add(page.splice(0));
  }
  const p = new FramePlanner();
  const v = { axis: 'step' as const, log: true, smoothing: 0.6, outliers: true };
  p.plan([s], v, undefined, 1000); // warm: smoothing runs once over everything
  const t = performance.now();
  const f = p.plan([s], v, undefined, 1000);
  const ms = performance.now() - t;
  assert.ok(f.drawn <= 4 * 1000, `${f.drawn} points drawn`);
  assert.equal(f.total, 1_000_000);
  console.log(`plan a frame of 1,000,000 points (raw + smoothed, outliers on): ${ms.toFixed(1)} ms`);
  const zoomed = p.plan([s], v, [400_000, 410_000], 1000);
  assert.ok(zoomed.drawn <= 4 * 1000 + 2);
  assert.deepEqual(zoomed.x, [400_000, 410_000]);
});

test('keyboard pan and zoom stay within the data and return to following it live', () => {
  const ext: [number, number] = [0, 100];
  const zin = panZoom(undefined, ext, 'in')!;
  assert.deepEqual(zin, [25, 75]);
  assert.deepEqual(panZoom(zin, ext, 'left'), [15, 65]);
  assert.deepEqual(panZoom([0, 50], ext, 'left'), [0, 50]);
  assert.deepEqual(panZoom([60, 100], ext, 'right'), [60, 100]);
  assert.equal(panZoom(zin, ext, 'out'), undefined, 'zoomed out to everything: follow live again');
  assert.equal(panZoom(zin, ext, 'reset'), undefined);
});

test('buttons by status: training -> pause/stop/cancel; paused -> resume/stop/cancel; before -> cancel; final -> none', () => {
  assert.deepEqual([...allowedCommands('training')].sort(), ['cancel', 'pause', 'stop']);
  assert.deepEqual([...allowedCommands('paused')].sort(), ['cancel', 'resume', 'stop']);
  for (const s of ['queued', 'accepted', 'downloading'] as const) assert.deepEqual([...allowedCommands(s)], ['cancel']);
  for (const s of ['uploading', 'completed', 'stopped', 'cancelled', 'failed', undefined] as const) assert.equal(allowedCommands(s).size, 0);
});

test('run colours come from the job id: stable, and distinct among the runs compared', () => {
  assert.equal(hashId('job-1'), hashId('job-1'));
  const a = runColorIndexes(['job-1', 'job-2', 'job-3'], 6);
  const b = runColorIndexes(['job-3', 'job-1', 'job-2'], 6);
  assert.deepEqual([...a].sort(), [...b].sort(), 'order of arrival does not matter');
  assert.equal(new Set(a.values()).size, 3);
  assert.equal(runColorIndexes(['job-1'], 6).get('job-1'), hashId('job-1') % 6);
});

test('side panel rows from a sleap-nn config and a dataset summary', () => {
  const config = {
    trainer: 'sleap-nn',
    data_config: { validation_fraction: 0.1, preprocessing: { scale: 0.5 }, use_augmentations_train: true },
    model_config: { backbone_config: { unet: { filters: 16 }, convnext: null }, head_configs: { single_instance: null, centroid: { confmaps: {} } } },
    trainer_config: { max_epochs: 200, train_data_loader: { batch_size: 4 }, optimizer_name: 'Adam', optimizer: { lr: 0.0001 }, early_stopping: { patience: 10, stop_training_on_plateau: true }, seed: 42 },
  };
  assert.equal(maxEpochsOf(config), 200);
  const rows = Object.fromEntries(configRows(config));
  assert.equal(rows['Model'], 'centroid · unet');
  assert.equal(rows['Batch size'], '4');
  assert.equal(rows['Optimizer'], 'Adam, lr 0.0001');
  assert.equal(rows['Early stopping'], 'patience 10');
  const ds = Object.fromEntries(
    datasetRows({ file: 'flies.pkg.slp', format: 'pkg.slp', format_version: 1.2, labeled_frames: 1200, instances: 2400, user_instances: 2400, predicted_instances: 0, videos: [{ filename: 'a.mp4', embedded: true, frames: 5000 }], skeletons: [{ name: 'fly', nodes: ['head', 'thorax', 'abdomen'] }], external_videos: [] }),
  );
  assert.equal(ds['Labelled frames'], '1,200');
  assert.equal(ds['Skeleton fly'], '3 nodes: head, thorax, abdomen');
  assert.deepEqual(configRows(undefined), []);
});

test('regression: a log axis minimum sits on uPlot\'s tick grid (from 0.0997 its tick loop never ended)', () => {
  for (const v of [0.0228, 0.0997, 0.1, 1, 0.3, 123.4, 3.3e-7, 0.09999999999, 9.99e-5, 5e-324, 1e300]) {
    const f = logFloor(v);
    assert.ok(f <= v && f > v / 10, `${v} -> ${f}`);
    assert.match(f.toExponential(), /^\de[-+]\d+$/, `${v} -> ${f}: one significant digit`);
  }
  assert.equal(logFloor(0.0228), 0.02);
  assert.equal(logFloor(0.0997), 0.09);
});

test('regression: a log axis spans at most 8 decades below its top (a loss of 6.9e-33 froze the window)', () => {
  assert.deepEqual(logRange(6.9e-33, 0.2), [2e-9, 0.2]);
  assert.deepEqual(logRange(0.0228, 0.2), [0.02, 0.2]);
  assert.deepEqual(logRange(5e-324, 1), [1e-8, 1]);
  assert.deepEqual(logRange(Number.NaN, 1), [1e-8, 1]);
});
