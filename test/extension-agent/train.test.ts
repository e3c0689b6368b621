// `sleap-rtc train` without --agent finds the agent of its data folder through the connection
// file, on whatever port it got (here a free one, not 8765), and says clearly when none runs.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentConnectionFile } from '../../src/core/agentConnection.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { cleanEnv, liveAgentPid, makeSupervisor, removeDir, requireBundle, runBundled, startStack, stopAgents, tempDir, type StackProcess, type TestSupervisor } from './support/env.js';

describe('sleap-rtc train and download find the agent by its connection file', () => {
  let dir: string;
  let data: string;
  let stack: StackProcess;
  let t: TestSupervisor;

  before(async () => {
    requireBundle();
    dir = await tempDir('agent-train-');
    data = join(dir, 'data');
    stack = await startStack(data);
    t = makeSupervisor(data);
  });
  after(async () => {
    t?.sup.dispose();
    liveAgentPid(data);
    await stopAgents();
    await stack?.stop();
    await removeDir(dir);
  });

  test('no agent for the data folder: a clear error naming the file and how to start one', { timeout: 30_000 }, async () => {
    const empty = join(dir, 'empty');
    for (const args of [['train', join(dir, 'x.slp')], ['download', 'some-model']]) {
      const r = await runBundled([...args, '--data', empty], cleanEnv());
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`no agent is running for the data folder ${empty}`), r.stderr);
      assert.ok(r.stderr.includes(agentConnectionFile(empty)), r.stderr);
      assert.match(r.stderr, /start one with `sleap-rtc agent --data/);
    }
  });

  test('train without --agent: the agent of --data on a free port uploads, trains on the stack worker and prints the model', { timeout: 120_000 }, async () => {
    const client = await t.sup.ensure();
    assert.ok(client, t.sup.message);
    assert.notEqual(new URL(client.url).port, '8765');
    liveAgentPid(data);
    const dataset = join(dir, 'labels.pkg.slp');
    await writeSyntheticSlp(dataset, { frames: 12, instancesPerFrame: 1, nodes: 3, embedded: true });
    const cfg = join(dir, 'train.yaml');
    await writeFile(cfg, 'trainer: builtin\ntrainer_config:\n  max_epochs: 2\n  min_train_steps_per_epoch: 5\n');
    const r = await runBundled(['train', dataset, '--config', cfg, '--data', data], cleanEnv());
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const m = /^model (\S+) at (s3:\/\/\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    const models = await client.call<{ models: Array<{ id: string }> }>('GET', '/api/models');
    assert.ok(models.models.some((x) => x.id === m[1]), 'the model is in the room');
  });

  test('train with early stopping says why it ended before max_epochs', { timeout: 120_000 }, async () => {
    const dataset = join(dir, 'early.pkg.slp');
    await writeSyntheticSlp(dataset, { frames: 12, instancesPerFrame: 1, nodes: 3, embedded: true });
    const cfg = join(dir, 'early.yaml');
    // min_delta far above any epoch's gain: no epoch after the first counts as better.
    await writeFile(cfg, 'trainer: builtin\ntrainer_config:\n  max_epochs: 50\n  min_train_steps_per_epoch: 5\n  early_stopping:\n    stop_training_on_plateau: true\n    patience: 2\n    min_delta: 100\n');
    const r = await runBundled(['train', dataset, '--config', cfg, '--data', data], cleanEnv());
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /^stopped early at epoch 3 of 50: (val|train)\/loss did not improve by more than 100 for 2 epochs$/m, r.stdout);
    assert.match(r.stdout, /^model \S+ at s3:\/\/\S+$/m);
  });
});
