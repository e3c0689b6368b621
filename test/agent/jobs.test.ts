// Jobs end to end with real processes: the embedded store, `sleap-rtc server`, a builtin-trainer
// `sleap-rtc worker` and `sleap-rtc agent`, each its own process. The agent uploads the dataset,
// submits over signaling and follows the job over its own WebRTC link (werift in the agent's
// process, werift in the worker's). Everything is driven through the agent's HTTP API, as the
// extension and notebooks do.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../src/core/s3client.js';
import { AgentClient, type AgentEvent } from '../../src/core/AgentClient.js';
import { EventFile } from '../../src/core/jobs/index.js';
import { jobDetail, jobEventData, type JobDetail } from '../../src/core/schemas/agent.js';
import type { ManifestModel } from '../../src/core/schemas/manifest.js';
import type { peerInfo } from '../../src/core/schemas/signaling.js';

type PeerInfo = ReturnType<typeof peerInfo.parse>;
import { spawnCli, type Spawned } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { sharedSleapFile, useSharedSleap, writeSyntheticSlp } from '../support/slpFixtures.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { holdsFor, waitFor } from '../support/wait.js';
import { workerEvents } from '../support/workerEvents.js';
import { runCli, startAgentProcess, writeBigZip, type AgentProcess } from './support/env.js';

const LONG = { trainer: 'builtin', trainer_config: { max_epochs: 100_000, min_train_steps_per_epoch: 3000 } };
/** Like LONG, with short epochs: hundreds of events a second (a re-attached agent has a long replay to read). */
const FAST = { trainer: 'builtin', trainer_config: { max_epochs: 100_000, min_train_steps_per_epoch: 20 } };

let lastJob: unknown;
/** waitFor's `lastSeen` for waits on a job: the job as last read by `job()` (its last four events). */
const jobSeen = { lastSeen: () => String(JSON.stringify(lastJob, (k, x) => (k === 'events' && Array.isArray(x) ? x.slice(-4) : x))).slice(0, 1500) };

/** Collects the agent's SSE events in the background. */
function listen(agent: AgentProcess): { events: AgentEvent[]; stop(): void } {
  const ctrl = new AbortController();
  const events: AgentEvent[] = [];
  void (async () => {
    for await (const e of await new AgentClient(agent.url, agent.token).openEvents(ctrl.signal)) events.push(e);
  })().catch(() => undefined);
  return { events, stop: () => ctrl.abort() };
}

let madeModel: ManifestModel | undefined;
let firstUploadId: string;
const progressCount = (events: Array<{ type: string }>) => events.filter((e) => e.type === 'progress').length;

describe('jobs through the agent (store, server, worker, agent: four processes)', () => {
  let store: EmbeddedStoreTarget;
  let server: ServerProcess;
  let worker: Spawned;
  let workerId: string;
  let agent: AgentProcess;
  let dir: string;
  let agentData: string;
  let dataset: string;
  let s3: S3Client;
  const agentEnv = (): NodeJS.ProcessEnv => ({ SLEAP_RTC_SERVER: server.url, SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_ROOM: 'lab', SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined });

  const startWorker = (data: string) =>
    spawnCli(['worker', '--server', server.url, '--room', 'lab', '--s3-endpoint', store.endpoint, '--s3-region', store.region, '--bucket', server.bucket, '--data', data, '--trainer', 'builtin'], {
      waitFor: /worker (\S+) registered in room lab/,
      env: { SLEAP_RTC_CONFIG: '', SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_S3_ACCESS_KEY: store.accessKeyId, SLEAP_RTC_S3_SECRET_KEY: store.secretAccessKey },
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-jobs-'));
    agentData = join(dir, 'agent-data');
    store = await startEmbeddedStore();
    server = await startServerProcess(store);
    worker = await startWorker(join(dir, 'worker'));
    workerId = worker.line[1];
    agent = await startAgentProcess(agentEnv(), agentData);
    s3 = makeS3Client(store);
    // A real SLEAP file when ../shared is there (required in CI), else one the tests write with h5wasm.
    dataset = join(dir, 'labels.pkg.slp');
    if (useSharedSleap) await copyFile(sharedSleapFile('minimal_instance.pkg.slp'), dataset);
    else await writeSyntheticSlp(dataset, { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
  });

  after(async () => {
    await agent?.proc.stop();
    await worker?.stop();
    await server?.stop();
    s3?.destroy();
    await store?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Waits until the worker says it is free again (its status is published after each job). */
  const workerFree = () => waitFor(() => agent.api('/api/workers').then((r) => (r.body.workers.some((w: PeerInfo) => w.peer_id === workerId && w.metadata.properties.status === 'available') ? true : undefined)), 'a free worker');
  const job = (id: string): Promise<JobDetail> => agent.api(`/api/jobs/${id}`).then((r) => jobDetail.parse((lastJob = r.body)));
  const command = (id: string, c: string) => agent.api(`/api/jobs/${id}/commands`, { body: { command: c } });

  test('upload, submit, progress over the DataChannel, pause (no progress for 2 s), resume, stop early: the model is in the store and the manifest, the client is told', { timeout: 120_000 }, async () => {
    const sse = listen(agent);
    try {
      const created = await agent.api('/api/jobs', { body: { dataset, config: LONG } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal(created.body.status, 'queued');
      assert.equal(created.body.worker, workerId, 'the one free builtin worker was picked');
      assert.ok(created.body.upload_id, 'a local dataset is uploaded first');
      firstUploadId = created.body.upload_id;

      // Progress arrives (epoch_end with losses), through the agent, from the worker's DataChannel.
      const running = await waitFor(() => job(id).then((j) => (j.events.some((e) => e.type === 'progress' && e.data.event === 'epoch_end') ? j : undefined)), 'first epoch_end', 60_000, jobSeen);
      assert.equal(running.status, 'training');
      assert.match(running.dataset_s3_path ?? '(none)', /^s3:\/\/.+\/rooms\/lab\/datasets\//);
      const seqs = running.events.map((e) => e.seq);
      assert.deepEqual(seqs, seqs.map((_: number, i: number) => i + 1), 'events are numbered 1, 2, 3, ... with no gap');
      const epochEnd = running.events.find((e) => e.type === 'progress' && e.data.event === 'epoch_end');
      assert.ok(epochEnd?.type === 'progress' && epochEnd.data.event === 'epoch_end', 'an epoch_end event');
      assert.ok(Number.isFinite(epochEnd.data.logs['train/loss']), 'a real training loss');

      // Pause: acknowledged, status paused, then no progress for 2 s. The worker holds progress
      // from the pause on and records `paused` once it took effect, in order with its events: once
      // that status event is in the history, so is every progress event made before it.
      const p = await command(id, 'pause');
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.equal(p.body.ok, true);
      assert.equal(p.body.job.status, 'paused', 'the reply shows the state the pause led to, not the one before it');
      const paused = await waitFor(() => job(id).then((j) => (j.status === 'paused' && j.events.some((e) => e.type === 'status' && e.status === 'paused') ? j : undefined)), 'the paused status event', 30_000, jobSeen);
      const atPause = progressCount(paused.events);
      await holdsFor(async () => progressCount((await job(id)).events) === atPause, 'no progress while paused', 2000, { intervalMs: 250, ...jobSeen });

      // Resume: progress again.
      const r = await command(id, 'resume');
      assert.equal(r.status, 200);
      assert.equal(r.body.job.status, 'training', 'the reply to resume shows the job training again');
      await waitFor(() => job(id).then((j) => (j.status === 'training' && progressCount(j.events) > atPause ? j : undefined)), 'progress after resume', 30_000, jobSeen);

      // Stop early: the model is kept.
      assert.equal((await command(id, 'stop')).status, 200);
      const done = await waitFor(() => job(id).then((j) => (j.status === 'stopped' && j.model ? j : undefined)), 'stopped with a model', 60_000, jobSeen);
      const model = done.model;
      assert.ok(model, 'the stopped job names its model');
      assert.match(model.s3_path, new RegExp(`^s3://${server.bucket}/rooms/lab/models/${model.model_id}/$`));
      assert.ok(done.events.some((e) => e.type === 'job_complete'), 'job_complete came over the DataChannel');
      // A long history is read in pages: after_seq and limit.
      const page = await agent.api(`/api/jobs/${id}?after_seq=2&limit=3`);
      assert.deepEqual(page.body.events.map((e: { seq: number }) => e.seq), [3, 4, 5]);
      assert.deepEqual(page.body.events, done.events.slice(2, 5));
      const badLimit = await agent.api(`/api/jobs/${id}?limit=0`);
      assert.equal(badLimit.status, 400);
      assert.match(badLimit.body.error.message, /limit/);

      // The client (SSE) was told: the state event with the model.
      const jobEvents = () => sse.events.filter((e) => e.event === 'job').map((e) => jobEventData.parse(e.data));
      await waitFor(async () => (jobEvents().some((d) => d.type === 'state' && d.job.id === id && d.job.status === 'stopped' && d.job.model) ? true : undefined), 'the SSE stream reports the stopped job with its model');
      assert.ok(jobEvents().some((d) => d.event?.type === 'progress'), 'progress events are on the SSE stream');

      // The manifest lists the model, with its files; every file is in the store.
      const models = await agent.api('/api/models');
      assert.equal(models.status, 200);
      const m = models.body.models.find((x: ManifestModel) => x.id === model.model_id);
      assert.ok(m, `the manifest lists ${model.model_id}`);
      madeModel = m;
      assert.equal(m.trained_on_worker, workerId);
      assert.ok(m.files.length > 0);
      const prefix = `rooms/lab/models/${m.id}/`;
      for (const f of m.files) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: server.bucket, Key: prefix + f.name }));
        assert.equal(head.ContentLength, f.size_bytes, f.name);
      }

      // And it downloads, verified.
      const dl = await agent.api(`/api/models/${m.id}/download`, { body: { dest: join(dir, 'models') } });
      assert.equal(dl.status, 200, JSON.stringify(dl.body));
      assert.equal(dl.body.files.length, m.files.length);
      for (const f of dl.body.files) assert.equal(createHash('sha256').update(await readFile(f.path)).digest('hex'), f.sha256);

      // A command for the finished job is refused with a code, and the job stays as it was.
      const late = await command(id, 'pause');
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'job_finished');
      assert.equal((await job(id)).status, 'stopped');
    } finally {
      sse.stop();
    }
  });

  test('a full disk on download: a clear disk_full error in the API and the CLI, no final file; the download works once there is room', { timeout: 60_000 }, async () => {
    assert.ok(madeModel?.files, 'the first test made a model, with its files');
    const dest = join(dir, 'full-disk');
    const big = [...madeModel.files].sort((a, b) => b.size_bytes - a.size_bytes)[0];
    await mkdir(join(dest, madeModel.id), { recursive: true });
    const partial = join(dest, madeModel.id, `${big.name}.partial`);
    await symlink('/dev/full', partial); // every write there fails with ENOSPC: a real kernel answer
    const api = await agent.api(`/api/models/${madeModel.id}/download`, { body: { dest } });
    assert.equal(api.status, 507, JSON.stringify(api.body));
    assert.equal(api.body.error.code, 'disk_full');
    assert.match(api.body.error.message, /no space left on the device while writing .*\.partial: free some space/);
    assert.equal(existsSync(join(dest, madeModel.id, big.name)), false, 'no final file');
    const cli = await runCli(['download', madeModel.id, '--dest', dest, '--agent', agent.url, '--data', agentData], {});
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /^sleap-rtc: no space left on the device while writing .*: free some space/m);
    await unlink(partial);
    const ok = await runCli(['download', madeModel.id, '--dest', dest, '--agent', agent.url, '--data', agentData, '--json'], {});
    assert.equal(ok.code, 0, ok.stderr);
    const r = JSON.parse(ok.stdout);
    assert.equal(r.files.length, madeModel.files.length);
    for (const f of r.files) assert.equal(createHash('sha256').update(await readFile(f.path)).digest('hex'), f.sha256, f.name);
  });

  test('a kill -9 of the agent mid-job: the restarted agent re-attaches, its history has every event once, commands work again', { timeout: 120_000 }, async () => {
    await workerFree();
    const created = await agent.api('/api/jobs', { body: { dataset, config: LONG } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    assert.equal(created.body.upload_id, firstUploadId, 'the unchanged dataset is not uploaded again: the finished upload is reused');
    await waitFor(() => job(id).then((j) => (progressCount(j.events) >= 3 ? j : undefined)), 'progress', 60_000, jobSeen);
    agent.proc.child.kill('SIGKILL');
    await new Promise((r) => agent.proc.child.once('exit', r));
    // The job goes on without its client: wait until the worker has recorded events the killed
    // agent never had (its history file is what it kept), so the restarted one must be sent them.
    const agentHad = EventFile.read(join(agentData, 'agent', 'jobs', `${id}.jsonl`)).at(-1)?.seq ?? 0;
    await waitFor(() => workerEvents(join(dir, 'worker'), id, agentHad).length >= 5, `5 events after seq ${agentHad} recorded by the worker while no agent ran`, 30_000);
    agent = await startAgentProcess(agentEnv(), agentData);
    const before = await job(id);
    // The ledger may be a state change behind after a kill -9; the replay brings it up to date.
    assert.ok(['accepted', 'downloading', 'training'].includes(before.status), `the job is known after the restart, still running (${before.status})`);
    const n0 = before.events.length;
    const later = await waitFor(() => job(id).then((j) => (j.status === 'training' && j.events.length > n0 + 5 ? j : undefined)), 'events after the restart', 30_000, jobSeen);
    const seqs = later.events.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_: number, i: number) => i + 1), 'missed events were replayed: 1..n, no gap, no repeat');
    const c = await command(id, 'cancel');
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const end = await waitFor(() => job(id).then((j) => (j.status === 'cancelled' ? j : undefined)), 'cancelled', 30_000, jobSeen);
    assert.equal(end.model, undefined, 'a cancelled job keeps no model');
  });

  test('a clean restart (SIGTERM) of the agent mid-job, then stop: the job ends stopped, its history has the closing events once', { timeout: 180_000 }, async () => {
    await workerFree();
    const created = await agent.api('/api/jobs', { body: { dataset, config: FAST } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await waitFor(() => job(id).then((j) => (j.status === 'training' && progressCount(j.events) >= 3 ? j : undefined)), 'progress', 60_000, jobSeen);
    assert.equal(await agent.proc.stop(), 0, 'the agent exits cleanly on SIGTERM');
    const agentHad = EventFile.read(join(agentData, 'agent', 'jobs', `${id}.jsonl`)).at(-1)?.seq ?? 0;
    agent = await startAgentProcess(agentEnv(), agentData);
    // The job without its events (limit=1): its history grows by hundreds of events a second.
    const brief = (): Promise<JobDetail> => agent.api(`/api/jobs/${id}?limit=1`).then((r) => jobDetail.parse((lastJob = r.body)));
    await waitFor(() => brief().then((j) => ((j.last_seq ?? 0) > agentHad ? j : undefined)), `events after seq ${agentHad} (re-attached)`, 30_000, jobSeen);
    const c = await command(id, 'stop');
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const end = await waitFor(() => brief().then((j) => (['stopped', 'completed', 'failed', 'cancelled'].includes(j.status) ? j : undefined)), 'the job ended', 120_000, jobSeen);
    assert.equal(end.status, 'stopped', `a stopped job ends stopped, not ${end.status} (the agent holds events up to seq ${end.last_seq}, the worker up to ${workerEvents(join(dir, 'worker'), id).at(-1)?.seq})`);
    assert.ok(end.model, 'a stopped job keeps its model');
    // The closing events come over the re-attached channel, after every other one.
    const full = await waitFor(() => job(id).then((j) => (j.events.some((e) => e.type === 'job_complete') ? j : undefined)), 'job_complete in the history', 30_000, jobSeen);
    const seqs = full.events.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_: number, i: number) => i + 1), 'every event once, in order: 1..n');
    assert.equal(full.events.filter((e) => e.type === 'status' && e.status === 'stopped').length, 1, 'the stopped status once');
    assert.equal(full.events.filter((e) => e.type === 'job_complete').length, 1, 'job_complete once');
    assert.equal(full.events.at(-1)?.type, 'job_complete', 'job_complete is the last event');
  });

  test('bad input gets coded errors and leaves the job list consistent', { timeout: 90_000 }, async () => {
    await workerFree();
    const count = (await agent.api('/api/jobs')).body.jobs.length;
    const unknown = await agent.api('/api/jobs', { body: { dataset, worker: 'no-such-worker' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'unknown_worker');
    assert.match(unknown.body.error.message, new RegExp(workerId));

    const malformed = await agent.api('/api/jobs', { body: { dataset, config: { trainer_config: { max_epochs: -1 } } } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'bad_request');
    assert.match(malformed.body.error.message, /max_epochs/);

    const noTrainer = await agent.api('/api/jobs', { body: { dataset, config: { trainer: 'sleap-nn' } } });
    assert.equal(noTrainer.status, 503);
    assert.equal(noTrainer.body.error.code, 'no_worker');

    const missing = await agent.api('/api/jobs', { body: { dataset: join(dir, 'nope.slp') } });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /does not exist/);

    const notInRoom = await agent.api('/api/jobs', { body: { dataset: `s3://${server.bucket}/rooms/other/datasets/x.slp` } });
    assert.equal(notInRoom.status, 403);

    const unknownJob = await command('job-nope', 'pause');
    assert.equal(unknownJob.status, 404);
    const badCommand = await agent.api(`/api/jobs/job-nope/commands`, { body: { command: 'explode' } });
    assert.equal(badCommand.status, 400);
    assert.equal((await agent.api('/api/jobs')).body.jobs.length, count, 'no job was recorded for a refused request');

    // A dataset the worker cannot read: a valid zip, uploaded fine, that is not a labels file.
    const zip = join(dir, 'not-labels.zip');
    await writeBigZip(zip, 1024 * 1024);
    const created = await agent.api('/api/jobs', { body: { dataset: zip, config: { trainer: 'builtin', trainer_config: { max_epochs: 2 } } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const failed = await waitFor(() => job(created.body.id).then((j) => (j.status === 'failed' ? j : undefined)), 'failed', 60_000, jobSeen);
    assert.ok(failed.error?.code, 'a coded error');
    assert.match(failed.error.message, /not-labels\.zip|dataset|HDF5|labels/i);
    assert.equal(failed.model, undefined);
    const after = await command(created.body.id, 'resume');
    assert.equal(after.body.error.code, 'job_finished');
  });

  test('`sleap-rtc train` uploads, submits, draws the losses and ends with the model location', { timeout: 120_000 }, async () => {
    await workerFree();
    const cfgFile = join(dir, 'train.yaml');
    await writeFile(cfgFile, 'trainer: builtin\ntrainer_config:\n  max_epochs: 4\n  min_train_steps_per_epoch: 20\n');
    const r = await runCli(['train', dataset, '--config', cfgFile, '--agent', agent.url, '--data', agentData], {}, { timeoutMs: 90_000 });
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const m = /^model (\S+) at (s3:\/\/\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.match(r.stdout, /^job \S+ submitted to worker /m);
    assert.match(r.stdout, /^epoch \d+ train_loss [\d.e+-]+ val_loss [\d.e+-]+$/m, 'one loss line per epoch when stdout is not a terminal');
    assert.match(r.stdout, /^status: training$/m);
    const models = (await agent.api('/api/models')).body.models.map((m: ManifestModel) => m.id);
    assert.ok(models.includes(m[1]), 'the printed model is in the manifest');
  });

  test('the signaling server killed mid-job and started again: progress goes on over the DataChannel meanwhile, both peers re-register, a command still works, the history has every event once', { timeout: 120_000 }, async () => {
    await workerFree();
    const created = await agent.api('/api/jobs', { body: { dataset, config: LONG } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await waitFor(() => job(id).then((j) => (progressCount(j.events) >= 3 ? j : undefined)), 'progress', 60_000, jobSeen);
    await server.kill9();
    // The link is peer to peer: progress needs no signaling server.
    const atKill = progressCount((await job(id)).events);
    await waitFor(() => job(id).then((j) => (progressCount(j.events) >= atKill + 3 ? j : undefined)), '3 more progress events while the server is down', 30_000, jobSeen);
    await server.restart();
    // Both re-register: the agent lists the worker again (through the restarted server).
    await waitFor(() => agent.api('/api/workers').then((r) => (r.status === 200 && r.body.workers.some((w: PeerInfo) => w.peer_id === workerId) ? true : undefined)), 'the worker listed again after the restart', 60_000);
    const n0 = progressCount((await job(id)).events);
    await waitFor(() => job(id).then((j) => (progressCount(j.events) >= n0 + 3 ? j : undefined)), 'progress after the restart', 30_000, jobSeen);
    assert.equal((await command(id, 'stop')).status, 200);
    const done = await waitFor(() => job(id).then((j) => (j.status === 'stopped' && j.model ? j : undefined)), 'stopped with a model', 60_000, jobSeen);
    const seqs = done.events.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_: number, i: number) => i + 1), 'every event once, in order: 1..n');
    const models = await agent.api('/api/models');
    assert.ok(models.body.models.some((m: ManifestModel) => m.id === done.model!.model_id), 'the manifest lists the model');
  });

  test('a worker killed mid-job: the job is reported failed (worker_lost)', { timeout: 90_000 }, async () => {
    await workerFree();
    const created = await agent.api('/api/jobs', { body: { dataset, config: LONG } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await waitFor(() => job(id).then((j) => (progressCount(j.events) >= 2 ? j : undefined)), 'progress', 60_000, jobSeen);
    worker.child.kill('SIGKILL');
    const failed = await waitFor(() => job(id).then((j) => (j.status === 'failed' ? j : undefined)), 'failed after the worker died', 20_000, jobSeen);
    assert.ok(failed.error, 'the failed job says why');
    assert.equal(failed.error.code, 'worker_lost');
    assert.match(failed.error.message, /Submit it again/);
  });
});
