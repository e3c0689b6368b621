import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sharedSkipReason, sharedSleapFile, writeSyntheticSlp } from '../support/slpFixtures.js';
import { startEmbeddedStore } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import type { SlpSummaryView, UploadView } from '../../src/core/schemas/agent.js';
import { runCli, startAgentProcess, startAgentTestEnv, type AgentProcess, type AgentTestEnv } from './support/env.js';

// A labels file is opened with h5wasm (core/slp inspectSlp) when a
// dataset is added; the upload's view carries `slp` (labelled frames, videos, skeleton nodes), and
// videos referenced by path get a warning that the worker will not see them (suggesting .pkg.slp).
// Files that are not what they claim are refused: badInput.test.ts.

const EXTERNAL_WARNING = (file: string, video: string) => `${file}: the worker will not see ${video}; export a .pkg.slp (File > Export > Labels Package) to embed the frames`;

async function waitCompleted(agent: AgentProcess, id: string): Promise<UploadView> {
  let v: UploadView | undefined;
  return waitFor(
    async () => {
      const now: UploadView = (await agent.api(`/api/uploads/${id}`)).body;
      v = now;
      assert.notEqual(now.state, 'failed', JSON.stringify(now));
      return now.state === 'completed' ? now : undefined;
    },
    `upload ${id} to complete`,
    30_000,
    { lastSeen: () => JSON.stringify(v) },
  );
}

describe('a labels file is read with h5wasm when its upload is added', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let data: string;
  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    data = join(env.dir, 'data');
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, data);
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('a .slp with an external video: counts, video, skeleton nodes, and the warning, kept in the ledger', async () => {
    const path = join(env.dir, 'labels.slp');
    await writeSyntheticSlp(path, { frames: 6, instancesPerFrame: 2, nodes: ['head', 'thorax', 'abdomen'], videoFilename: 'videos/session1.mp4' });
    const r = await agent.api('/api/uploads', { body: { path } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.slp, {
      file: 'labels.slp',
      format: 'slp',
      format_version: 1.2,
      labeled_frames: 6,
      instances: 12,
      user_instances: 12,
      predicted_instances: 0,
      videos: [{ filename: 'videos/session1.mp4', embedded: false, frames: 16, height: 120, width: 160 }],
      skeletons: [{ name: 'Skeleton-0', nodes: ['head', 'thorax', 'abdomen'] }],
      external_videos: ['videos/session1.mp4'],
    });
    assert.deepEqual(r.body.warnings, [EXTERNAL_WARNING('labels.slp', 'videos/session1.mp4')]);
    const done = await waitCompleted(agent, r.body.id);
    assert.deepEqual(done.slp, r.body.slp, 'the finished upload still describes its labels');
    const ledger = JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8'));
    assert.deepEqual(ledger.uploads[r.body.id].slp, r.body.slp, 'kept in the ledger, so a restarted agent still shows it');
    const listed = (await agent.api('/api/uploads')).body.uploads.find((u: UploadView) => u.id === r.body.id);
    assert.equal(listed.slp.labeled_frames, 6);
  });

  test('a .pkg.slp with embedded frames: format pkg.slp, no warning', async () => {
    const path = join(env.dir, 'labels.pkg.slp');
    await writeSyntheticSlp(path, { frames: 3, instancesPerFrame: 1, nodes: 2, embedded: true });
    const r = await agent.api('/api/uploads', { body: { path } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.slp.format, 'pkg.slp');
    assert.equal(r.body.slp.labeled_frames, 3);
    assert.deepEqual(r.body.slp.videos.map((v: SlpSummaryView['videos'][number]) => [v.embedded, v.frames, v.width, v.height]), [[true, 3, 160, 120]]);
    assert.deepEqual(r.body.slp.skeletons[0].nodes, ['node0', 'node1']);
    assert.deepEqual(r.body.slp.external_videos, []);
    assert.deepEqual(r.body.warnings, []);
    await waitCompleted(agent, r.body.id);
  });

  test('a file named .pkg.slp whose frames are not embedded is said to be one in name only', async () => {
    const path = join(env.dir, 'fake-package.pkg.slp');
    await writeSyntheticSlp(path, { frames: 2, instancesPerFrame: 1, nodes: 2, videoFilename: '/lab/videos/m1.mp4' });
    const r = await agent.api('/api/uploads', { body: { path } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.slp.format, 'slp');
    assert.deepEqual(r.body.warnings, [
      'fake-package.pkg.slp: named .pkg.slp but 1 of its 1 videos are not embedded (only referenced by path)',
      EXTERNAL_WARNING('fake-package.pkg.slp', '/lab/videos/m1.mp4'),
    ]);
    await waitCompleted(agent, r.body.id);
  });

  test('a folder: the first labels file is summarised, every labels file is checked and warned about', async () => {
    const folder = join(env.dir, 'project');
    await mkdir(join(folder, 'extra'), { recursive: true });
    await writeSyntheticSlp(join(folder, 'a.pkg.slp'), { frames: 2, instancesPerFrame: 1, nodes: 2, embedded: true });
    await writeSyntheticSlp(join(folder, 'extra', 'b.slp'), { frames: 2, instancesPerFrame: 1, nodes: 2, videoFilename: 'b.mp4' });
    const r = await agent.api('/api/uploads', { body: { path: folder } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.slp.file, 'a.pkg.slp');
    assert.deepEqual(r.body.warnings, [EXTERNAL_WARNING('extra/b.slp', 'b.mp4')]);
    await waitCompleted(agent, r.body.id);
  });

  test('sleap-rtc upload prints the summary and the warnings on stderr before sending; stdout stays one JSON line', { timeout: 60_000 }, async () => {
    const path = join(env.dir, 'cli.slp');
    await writeSyntheticSlp(path, { frames: 4, instancesPerFrame: 2, nodes: 3, videoFilename: 'cam0.mp4' });
    const r = await runCli(['upload', path, '--data', join(env.dir, 'cli-data'), '--json'], env.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.match(r.stderr, /^cli\.slp: 4 labelled frames, 8 user instances, 1 video \(external\), skeleton Skeleton-0 \(3 nodes: node0, node1, node2\)$/m);
    const warning = r.stderr.indexOf(`warning: ${EXTERNAL_WARNING('cli.slp', 'cam0.mp4')}`);
    assert.ok(warning >= 0, r.stderr);
    assert.ok(warning < r.stderr.indexOf('100.0%'), 'the warning comes before the progress');
    assert.equal(r.stderr.split(`warning: ${EXTERNAL_WARNING('cli.slp', 'cam0.mp4')}`).length, 2, 'said once');
  });
});

describe('real SLEAP files (../shared/data/sleap) through the agent', { skip: sharedSkipReason }, () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, join(env.dir, 'data'));
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('minimal_instance.pkg.slp: 1 labelled frame, 2 instances, skeleton A-B, one embedded 384x384 frame', async () => {
    const r = await agent.api('/api/uploads', { body: { path: sharedSleapFile('minimal_instance.pkg.slp') } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(
      { ...r.body.slp, format_version: undefined },
      {
        file: 'minimal_instance.pkg.slp',
        format: 'pkg.slp',
        format_version: undefined,
        labeled_frames: 1,
        instances: 2,
        user_instances: 2,
        predicted_instances: 0,
        videos: [{ filename: 'tests/data/json_format_v1/centered_pair_low_quality.mp4', embedded: true, frames: 1, height: 384, width: 384 }],
        skeletons: [{ name: 'Skeleton-0', nodes: ['A', 'B'] }],
        external_videos: [],
      },
    );
    assert.deepEqual(r.body.warnings, []);
    await waitCompleted(agent, r.body.id);
  });

  test('small_robot_minimal.slp: the external video is named in a warning suggesting .pkg.slp', async () => {
    const r = await agent.api('/api/uploads', { body: { path: sharedSleapFile('small_robot_minimal.slp') } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.slp.format, 'slp');
    assert.equal(r.body.slp.labeled_frames, 2);
    assert.deepEqual(r.body.slp.skeletons[0].nodes, ['A', 'B']);
    assert.deepEqual(r.body.slp.external_videos, ['tests/data/videos/small_robot.mp4']);
    assert.deepEqual(r.body.warnings, [EXTERNAL_WARNING('small_robot_minimal.slp', 'tests/data/videos/small_robot.mp4')]);
    await waitCompleted(agent, r.body.id);
  });
});
