import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import h5wasm from 'h5wasm/node';
import { isAppError } from '../../src/core/errors.js';
import { externalVideoWarning, inspectSlp, readInstances } from '../../src/core/slp/index.js';
import { sharedSkipReason, sharedSleapFile, writeSyntheticSlp } from '../support/slpFixtures.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slp-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const real = sharedSleapFile;

/** Sums the instance ranges of `frames` and point ranges of `instances` straight from the datasets. */
async function rawCounts(path: string): Promise<{ frames: number; instances: number; frameRanges: number; points: number; pointRanges: number }> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'r');
  try {
    const frames = (f.get('frames') as InstanceType<typeof h5wasm.Dataset>).value as unknown as bigint[][];
    const instances = (f.get('instances') as InstanceType<typeof h5wasm.Dataset>).value as unknown as bigint[][];
    const points = (f.get('points') as InstanceType<typeof h5wasm.Dataset>).shape![0];
    return {
      frames: frames.length,
      instances: instances.length,
      frameRanges: frames.reduce((s, r) => s + Number(r[4]) - Number(r[3]), 0),
      points,
      pointRanges: instances.reduce((s, r) => s + Number(r[8]) - Number(r[7]), 0),
    };
  } finally {
    f.close();
  }
}

describe('real SLEAP files (../shared/data/sleap)', { skip: sharedSkipReason }, () => {
  test('minimal_instance.pkg.slp: one embedded 384x384 frame, two A-B instances', async () => {
    const s = await inspectSlp(real('minimal_instance.pkg.slp'));
    const raw = await rawCounts(real('minimal_instance.pkg.slp'));

    // README: 1 labelled frame, 2 instances; sleap-nn's own tests: video shape (1, 384, 384, 1);
    // configs/single_instance.yaml: part_names [A, B].
    assert.equal(s.format, 'pkg.slp');
    assert.equal(s.labeledFrames, 1);
    assert.equal(s.instances, 2);
    assert.equal(s.userInstances, 2);
    assert.deepEqual([s.labeledFrames, s.instances], [raw.frames, raw.frameRanges]);
    assert.equal(raw.pointRanges, raw.points);
    assert.deepEqual(s.videos, [{ filename: 'tests/data/json_format_v1/centered_pair_low_quality.mp4', embedded: true, dataset: 'video0/video', shape: [1, 384, 384, 1], imageFormat: 'png' }]);
    assert.deepEqual(s.skeletons, [{ name: 'Skeleton-0', nodes: ['A', 'B'], edges: [['A', 'B']], symmetries: [] }]);
    assert.deepEqual(s.externalVideos, []);
    assert.deepEqual(s.warnings, []);
  });

  test('minimal_instance.pkg.slp points match the values SLEAP and sleap-nn assert in their tests', async () => {
    const r = await readInstances(real('minimal_instance.pkg.slp'));

    assert.equal(r.count, 2);
    assert.equal(r.nodeCount, 2);
    // sleap-nn data pipeline test: instance 0 is [[92.6522, 202.7260], [152.3419, 158.4236]];
    // SLEAP's centroid test (anchor "A"): the two instances' A points are (92.65221, 202.72598), (205.93005, 187.88963).
    const expected = [92.65221, 202.72598, 152.34189, 158.42364, 205.93005, 187.88963];
    expected.forEach((v, i) => assert.ok(Math.abs(r.points[i] - v) < 1e-4, `coordinate ${i}: ${r.points[i]} vs ${v}`));
    assert.ok(Number.isFinite(r.points[6]) && Number.isFinite(r.points[7]));
    assert.deepEqual(Array.from(r.frameIdx), [0, 0]);
    assert.deepEqual(Array.from(r.instanceInFrame), [0, 1]);
    assert.deepEqual(r.videos[0], { filename: 'tests/data/json_format_v1/centered_pair_low_quality.mp4', embedded: true, width: 384, height: 384, frameCount: 1 });
  });

  test('small_robot_minimal.slp: external video, with the warning a remote worker needs', async () => {
    const s = await inspectSlp(real('small_robot_minimal.slp'));
    const raw = await rawCounts(real('small_robot_minimal.slp'));
    const r = await readInstances(real('small_robot_minimal.slp'));

    assert.equal(s.format, 'slp');
    assert.equal(s.labeledFrames, 2);
    assert.equal(s.instances, 2);
    assert.deepEqual([s.labeledFrames, s.instances, raw.pointRanges], [raw.frames, raw.frameRanges, raw.points]);
    assert.deepEqual(s.externalVideos, ['tests/data/videos/small_robot.mp4']);
    assert.deepEqual(s.warnings, [
      'the worker will not see tests/data/videos/small_robot.mp4; export a .pkg.slp (File > Export > Labels Package) to embed the frames',
    ]);
    assert.deepEqual(s.skeletons[0].nodes, ['A', 'B']);
    assert.equal(r.count, 2);
    assert.deepEqual(Array.from(r.frameIdx), [0, 79]);
    assert.ok(r.points.every(Number.isFinite));
    assert.equal(r.videos[0].width, undefined, 'this file does not record the image size');
  });

  test('a truncated copy of a real file is refused before HDF5 reads it', async () => {
    const p = join(dir, 'real-truncated.pkg.slp');
    await copyFile(real('minimal_instance.pkg.slp'), p);
    await truncate(p, 20_000);

    await assert.rejects(inspectSlp(p), (e: unknown) => isAppError(e, 'bad_request') && /truncated: it has 20000 bytes but its HDF5 header says 43128/.test(e.message));
  });
});

describe('synthetic SLEAP files', () => {
  for (const embedded of [false, true]) {
    test(`roundtrip (${embedded ? 'embedded frames, .pkg.slp' : 'external video, .slp'})`, async () => {
      const p = join(dir, `synthetic-${embedded}.slp`);
      const written = await writeSyntheticSlp(p, { frames: 12, instancesPerFrame: 2, nodes: ['head', 'thorax', 'tail'], embedded });

      const s = await inspectSlp(p);
      const r = await readInstances(p);

      assert.equal(s.format, embedded ? 'pkg.slp' : 'slp');
      assert.equal(s.labeledFrames, 12);
      assert.equal(s.instances, 24);
      assert.deepEqual(s.skeletons, [{ name: 'Skeleton-0', nodes: ['head', 'thorax', 'tail'], edges: [['head', 'thorax'], ['thorax', 'tail']], symmetries: [] }]);
      assert.deepEqual(s.externalVideos, embedded ? [] : ['videos/synthetic.mp4']);
      assert.deepEqual(s.warnings, embedded ? [] : [externalVideoWarning('videos/synthetic.mp4')]);
      assert.deepEqual(s.videos[0].shape, embedded ? [12, 120, 160, 1] : [34, 120, 160, 1]);
      assert.equal(r.count, written.instances);
      assert.deepEqual(Array.from(r.frameIdx), written.frameIdx);
      assert.deepEqual(Array.from(r.points), Array.from(written.points), 'same coordinates, NaN where written missing');
      assert.equal(Array.from(r.points).filter(Number.isNaN).length, written.missingPoints * 2);
      assert.deepEqual(Array.from(r.instanceInFrame.slice(0, 4)), [0, 1, 0, 1]);
      assert.deepEqual([r.videos[0].width, r.videos[0].height], [160, 120]);
    });
  }

  test('a file that is not HDF5 but is named .slp is refused with a clear message', async () => {
    const p = join(dir, 'labels.slp');
    await writeFile(p, 'this is a text file someone renamed\n');

    await assert.rejects(inspectSlp(p), (e: unknown) => isAppError(e, 'bad_request') && /is not an HDF5 file/.test(e.message));
    await assert.rejects(readInstances(p), (e: unknown) => isAppError(e, 'bad_request'));
  });

  test('an empty file is refused', async () => {
    const p = join(dir, 'empty.pkg.slp');
    await writeFile(p, '');

    await assert.rejects(inspectSlp(p), (e: unknown) => isAppError(e, 'bad_request') && /not an HDF5 file/.test(e.message));
  });

  test('a truncated file is refused', async () => {
    const p = join(dir, 'truncated.pkg.slp');
    await writeSyntheticSlp(p, { frames: 30, instancesPerFrame: 2, nodes: 4, embedded: true });
    await truncate(p, 4096);

    await assert.rejects(inspectSlp(p), (e: unknown) => isAppError(e, 'bad_request') && /is truncated/.test(e.message));
    await assert.rejects(readInstances(p), (e: unknown) => isAppError(e, 'bad_request') && /is truncated/.test(e.message));
  });

  test('an HDF5 file without SLEAP datasets is refused', async () => {
    const p = join(dir, 'other.h5');
    await h5wasm.ready;
    const f = new h5wasm.File(p, 'w');
    f.create_dataset({ name: 'data', data: new Float64Array([1, 2, 3]) });
    f.close();

    await assert.rejects(
      inspectSlp(p),
      (e: unknown) => isAppError(e, 'bad_request') && /not a SLEAP labels file: it lacks frames, instances, points, videos_json, metadata/.test(e.message),
    );
  });

  test('a missing file is not_found', async () => {
    await assert.rejects(inspectSlp(join(dir, 'nope.slp')), (e: unknown) => isAppError(e, 'not_found'));
  });
});
