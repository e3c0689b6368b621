// --max-jobs 2: two jobs on the same dataset at once share one download (one cache file, no
// interleaved writes to one .partial), and both train to a model.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { shortConfig, startWorkerEnv, submit, uploadDataset, waitPeerMessage, type WorkerEnv } from './setup.js';

let env: WorkerEnv;
let tmp: string;
before(async () => {
  env = await startWorkerEnv(['--max-jobs', '2']);
  tmp = await mkdtemp(join(tmpdir(), 'parallel-jobs-'));
});
after(async () => {
  await env?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('two jobs on one dataset at once: one download, one cache file, two models', { timeout: 90_000 }, async () => {
  // Big enough (embedded frames) that the two downloads overlap.
  const slp = await writeSyntheticSlp(join(tmp, 'big.pkg.slp'), { frames: 400, instancesPerFrame: 1, nodes: 3, embedded: true, width: 320, height: 240 });
  const dataset = await uploadDataset(env, slp.path);
  const [a, b] = await Promise.all([submit(env, { job_id: 'par-a', dataset, config: shortConfig }), submit(env, { job_id: 'par-b', dataset, config: shortConfig })]);
  assert.equal(a.accepted, true, JSON.stringify(a));
  assert.equal(b.accepted, true, JSON.stringify(b));
  for (const id of ['par-a', 'par-b']) {
    const end = await waitPeerMessage(env, (p) => (p.app_message_type === 'job_complete' || p.app_message_type === 'job_failed') && p.job_id === id, 60_000);
    assert.equal(end.app_message_type, 'job_complete', JSON.stringify(end));
  }
  const cache = await readdir(join(env.dataDir, 'cache'));
  assert.deepEqual(cache, [dataset.checksum.slice('sha256:'.length)], 'one verified file in the cache, no .partial left');
});
