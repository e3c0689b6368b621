// Jobs waiting in a worker's queue, through the agent, with real processes: the embedded store,
// `sleap-rtc server`, a builtin-trainer `sleap-rtc worker` and `sleap-rtc agent`. A long job holds
// the worker's one slot, so the next one waits deterministically; cancelling the long one lets it
// run. The agent and the worker are each restarted with a job queued.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentClient, type AgentEvent } from '../../src/core/AgentClient.js';
import { jobDetail, jobEventData, type JobDetail } from '../../src/core/schemas/agent.js';
import { spawnCli, type Spawned } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import { runCli, startAgentProcess, type AgentProcess } from './support/env.js';

const LONG = { trainer: 'builtin', trainer_config: { max_epochs: 100_000, min_train_steps_per_epoch: 3000 } };
const SHORT = { trainer: 'builtin', trainer_config: { max_epochs: 2, min_train_steps_per_epoch: 10 } };
const RESUBMITTED = 'resubmitted: the worker restarted and no longer had this job';

describe('the worker queue through the agent (store, server, worker, agent: four processes)', () => {
  let store: EmbeddedStoreTarget;
  let server: ServerProcess;
  let worker: Spawned;
  let workerId: string;
  let agent: AgentProcess;
  let dir: string;
  let dataset: string;
  const agentEnv = (): NodeJS.ProcessEnv => ({ SLEAP_RTC_SERVER: server.url, SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_ROOM: 'lab', SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined });
  const startWorker = () =>
    spawnCli(['worker', '--server', server.url, '--room', 'lab', '--s3-endpoint', store.endpoint, '--s3-region', store.region, '--bucket', server.bucket, '--data', join(dir, 'worker'), '--trainer', 'builtin'], {
      waitFor: /worker (\S+) registered in room lab/,
      env: { SLEAP_RTC_CONFIG: '', SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_S3_ACCESS_KEY: store.accessKeyId, SLEAP_RTC_S3_SECRET_KEY: store.secretAccessKey },
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-queue-'));
    store = await startEmbeddedStore();
    server = await startServerProcess(store);
    worker = await startWorker();
    workerId = worker.line[1];
    agent = await startAgentProcess(agentEnv(), join(dir, 'agent-data'));
    dataset = join(dir, 'labels.pkg.slp');
    await writeSyntheticSlp(dataset, { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
  });
  after(async () => {
    await agent?.proc.stop();
    await worker?.stop();
    await server?.stop();
    await store?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let last: unknown;
  const seen = { lastSeen: () => JSON.stringify(last).slice(0, 1500) };
  const job = (id: string): Promise<JobDetail> => agent.api(`/api/jobs/${id}`).then((r) => jobDetail.parse((last = r.body)));
  const until = (id: string, pred: (j: JobDetail) => boolean, what: string) => waitFor(() => job(id).then((j) => (pred(j) ? j : undefined)), what, 60_000, seen);
  const submit = async (config: unknown): Promise<string> => {
    const r = await agent.api('/api/jobs', { body: { dataset, config } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const command = (id: string, c: string) => agent.api(`/api/jobs/${id}/commands`, { body: { command: c } });
  /** A long job training: the worker's one slot is taken. */
  const occupy = async (): Promise<string> => {
    const id = await submit(LONG);
    await until(id, (j) => j.status === 'training', 'the long job training');
    return id;
  };
  const gapless = (j: JobDetail): void => assert.deepEqual(j.events.map((e) => e.seq), j.events.map((_, i) => i + 1), 'seqs 1, 2, 3, ... with no gap or repeat');

  test('a job for a busy worker waits: queued with its position (API, SSE, the train CLI), then runs', { timeout: 120_000 }, async () => {
    const ctrl = new AbortController();
    const sse: AgentEvent[] = [];
    const stream = await new AgentClient(agent.url, agent.token).openEvents(ctrl.signal);
    void (async () => {
      for await (const e of stream) sse.push(e);
    })().catch(() => undefined);
    try {
      const a = await occupy();
      const b = await submit(SHORT);
      const queued = await until(b, (j) => j.queue_position === 1, 'b queued at position 1');
      assert.equal(queued.status, 'queued');
      assert.equal(queued.worker, workerId, 'a busy worker with room in its queue is chosen');
      // The train CLI follows a third job: it waits behind b.
      const cli = runCli(['train', dataset, '--data', join(dir, 'agent-data'), '--max-epochs', '2'], agentEnv(), { timeoutMs: 90_000 });
      await waitFor(() => agent.api('/api/jobs').then((r) => (r.body.jobs as Array<{ queue_position?: number }>).some((j) => j.queue_position === 2) || undefined), 'the CLI job at position 2', 30_000);
      assert.equal((await command(a, 'cancel')).status, 200);
      const done = await until(b, (j) => j.status === 'completed' && j.model !== undefined, 'b completed');
      assert.equal(done.queue_position, undefined, 'no position once it left the queue');
      gapless(done);
      const run = await cli;
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^queued: position 2 on ${workerId}$`, 'm'));
      assert.match(run.stdout, new RegExp(`^queued: position 1 on ${workerId}$`, 'm'), 'updated as it moves up');
      assert.match(run.stdout, /^model \S+ at s3:\/\//m);
      const positions = sse.map((e) => jobEventData.safeParse(e.data)).flatMap((r) => (r.success && r.data.job.id === b && r.data.type === 'state' ? [r.data.job.queue_position] : []));
      assert.ok(positions.includes(1), `the SSE state of b carried queue_position 1 (${JSON.stringify(positions)})`);
    } finally {
      ctrl.abort();
    }
  });

  test('a queued job can be cancelled through the agent', { timeout: 120_000 }, async () => {
    const a = await occupy();
    const b = await submit(SHORT);
    await until(b, (j) => j.queue_position === 1, 'b queued');
    const r = await command(b, 'cancel');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const cancelled = await until(b, (j) => j.status === 'cancelled' && j.error !== undefined, 'b cancelled');
    assert.equal(cancelled.error?.code, 'cancelled');
    assert.deepEqual(cancelled.events.filter((e) => e.type === 'status').map((e) => e.type === 'status' && e.status), ['queued', 'cancelled'], 'it never ran');
    gapless(cancelled);
    await command(a, 'cancel');
    await until(a, (j) => j.status === 'cancelled', 'a cancelled');
  });

  test('an agent restart with a job queued: the worker holds it, the restarted agent follows it to the end', { timeout: 120_000 }, async () => {
    const a = await occupy();
    const b = await submit(SHORT);
    await until(b, (j) => j.queue_position === 1, 'b queued');
    await agent.proc.stop('SIGKILL');
    agent = await startAgentProcess(agentEnv(), join(dir, 'agent-data'));
    const after = await until(b, (j) => j.status === 'queued' && j.queue_position === 1 && j.last_seq !== undefined, 'b still queued after the restart');
    assert.equal(after.resubmitted, undefined, 'the worker still had it: not resubmitted');
    assert.equal((await command(a, 'cancel')).status, 200);
    const done = await until(b, (j) => j.status === 'completed' && j.model !== undefined, 'b completed');
    gapless(done);
  });

  test('a worker restart with a job queued: the agent resubmits it once, says so, and its seqs go on', { timeout: 120_000 }, async () => {
    const a = await occupy();
    const b = await submit(SHORT);
    const before = await until(b, (j) => j.queue_position === 1, 'b queued');
    const n0 = before.events.length;
    // SIGTERM: the running job is cancelled; the queued one is left to the agent (the queue is in memory).
    await worker.stop();
    await until(a, (j) => j.status === 'cancelled', 'a cancelled by the shutdown');
    worker = await startWorker();
    assert.equal(worker.line[1], workerId, 'the same peer id (kept in its data folder)');
    const done = await until(b, (j) => j.status === 'completed' && j.model !== undefined, 'b resubmitted and completed');
    assert.equal(done.resubmitted, true);
    gapless(done);
    const note = done.events.findIndex((e) => e.type === 'status' && e.message === RESUBMITTED);
    assert.equal(note, n0, 'the agent\'s own event follows the last one the old worker sent');
    assert.deepEqual(done.events.filter((e) => e.type === 'status' && e.message === RESUBMITTED).length, 1, 'once');
    const logs = agent.proc.stderrTail();
    assert.match(logs, /resubmitting a job its worker no longer has/);
  });
});
