import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { commandErrorCode, type JobEvent } from '../../src/core/jobs/index.js';
import { readManifest } from '../../src/core/manifest/index.js';
import { SignalingClient } from '../../src/core/signaling/SignalingClient.js';
import { CACHE_HIT_MESSAGE } from '../../src/worker/JobRunner.js';
import { sharedSkipReason, sharedSleapFile, writeSyntheticSlp } from '../support/slpFixtures.js';
import { holdsFor, waitFor } from '../support/wait.js';
import { workerEvents } from '../support/workerEvents.js';
import { burstConfig, channel, longConfig, openLink, shortConfig, startWorkerEnv, submit, uploadDataset, waitPeerMessage, type WorkerEnv } from './setup.js';

const isProgress = (e: JobEvent, event?: string): boolean => e.type === 'progress' && (event === undefined || e.data.event === event);
const seqs = (events: readonly JobEvent[]): number[] => events.map((e) => e.seq);
const consecutive = (events: readonly JobEvent[]): void => assert.deepEqual(seqs(events), events.map((_, i) => i + 1), 'seq runs 1, 2, 3, ... with no gap or duplicate');

describe('sleap-rtc worker (store + server + worker as real processes)', () => {
  let env: WorkerEnv;
  let tmp: string;
  let dataset: Awaited<ReturnType<typeof uploadDataset>>;

  before(async () => {
    // No queue: a second job while the one slot is busy is refused (the queue has its own tests, queue.test.ts).
    env = await startWorkerEnv(['--queue', '0']);
    tmp = await mkdtemp(join(tmpdir(), 'sleap-rtc-worker-test-'));
    const slp = await writeSyntheticSlp(join(tmp, 'syn.pkg.slp'), { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
    dataset = await uploadDataset(env, slp.path);
  });
  after(async () => {
    await env?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('registers with its metadata and is found by filters', async () => {
    const peers = await env.client.discover({ role: 'worker', tags: ['worker'], properties: { status: 'available' } });
    const me = peers.find((p) => p.peer_id === env.workerId);
    assert.ok(me, `worker ${env.workerId} found: ${JSON.stringify(peers)}`);
    assert.ok(me.metadata.tags.includes('builtin'));
    assert.equal(me.metadata.properties.max_jobs, 1);
    assert.equal(me.metadata.properties.running_jobs, 0);
    assert.equal(me.metadata.properties.queue_length, 0);
    assert.equal(me.metadata.properties.max_queue, 0, '--queue 0');
    assert.ok('gpu_model' in me.metadata.properties && 'gpu_memory_mb' in me.metadata.properties);
    assert.match(String(me.metadata.properties.node_version), /^v\d+/);
  });

  test('link_probe (sleap-rtc doctor): a peer with no job gets one link after a probe, then no more without another', async () => {
    const peerId = `doctor-${randomBytes(4).toString('hex')}`;
    const peer = new SignalingClient({ url: env.server.url, peerId, role: 'client', roomId: 'lab', token: env.server.rooms.lab, requestTimeoutMs: 5000 });
    await peer.connect();
    const asPeer: WorkerEnv = { ...env, client: peer };
    try {
      await peer.sendPeerMessage(env.workerId, { app_message_type: 'link_probe' });
      const link = await openLink(asPeer);
      assert.equal(link.state, 'open');
      await link.close();
      // The probe was used up: the next offer is ignored as from any peer without a job.
      const unasked = openLink(asPeer);
      unasked.catch(() => undefined);
      await waitFor(() => env.worker.stderrTail().includes('ignored an offer from a peer with no job here') && env.worker.stderrTail().includes(peerId), 'the worker ignoring the second offer', 10_000, { lastSeen: () => env.worker.stderrTail() });
    } finally {
      await peer.close();
    }
  });

  test('a malformed job config is refused with a reason', async () => {
    const res = await submit(env, { job_id: 'bad-config', dataset, config: { trainer_config: { max_epochs: -3 } } });
    assert.equal(res.accepted, false);
    assert.match(String(res.reason), /^bad_request: config\.trainer_config\.max_epochs/);
    const outside = await submit(env, { job_id: 'outside', dataset: { ...dataset, path: dataset.path.replace('/rooms/lab/', '/rooms/other/') }, config: shortConfig });
    assert.equal(outside.accepted, false);
    assert.match(String(outside.reason), /^forbidden: the dataset must be in/);
  });

  test('hostile dataset paths are refused by the room-key check the server uses (before anything is downloaded)', async () => {
    const inRoom = dataset.path.slice(`s3://${env.server.bucket}/rooms/lab/`.length);
    const cases: Array<[string, RegExp]> = [
      [`s3://${env.server.bucket}/rooms/lab//${inRoom}`, /^bad_request: the dataset must be in .*segments/],
      [`s3://${env.server.bucket}/rooms/lab/./${inRoom}`, /^bad_request: the dataset must be in .*segments/],
      [`s3://${env.server.bucket}/rooms/lab/${inRoom}/`, /^bad_request: the dataset must be in .*segments/],
      [`s3://${env.server.bucket}/rooms/lab/x/../${inRoom}`, /^bad_request: the dataset must be in .*segments/],
      [`s3://${env.server.bucket}/rooms/lab/x\\..\\..\\other\\${inRoom}`, /^bad_request: the dataset must be in .*backslash/],
      [`s3://${env.server.bucket}/rooms/lab/${inRoom}\u0000`, /^bad_request: the dataset must be in .*control/],
      [`s3://other-bucket/rooms/lab/${inRoom}`, /^forbidden: the dataset must be in .*not this server's bucket/],
      [`s3://${env.server.bucket}/rooms/labx/${inRoom}`, /^forbidden: the dataset must be in .*outside your room/],
    ];
    for (const [i, [path, reason]] of cases.entries()) {
      const res = await submit(env, { job_id: `hostile-${i}`, dataset: { ...dataset, path }, config: shortConfig });
      assert.equal(res.accepted, false, `${JSON.stringify(path)} was accepted`);
      assert.match(String(res.reason), reason, JSON.stringify(path));
    }
    const props = (await env.client.discover({ tags: ['worker'] })).find((p) => p.peer_id === env.workerId)?.metadata.properties;
    assert.equal(props?.running_jobs, 0, 'no hostile job runs');
  });

  test('train, progress, pause/resume, busy, stop -> model uploaded and in the manifest', async () => {
    const t0 = performance.now();
    const res = await submit(env, { job_id: 'job-main', dataset, config: longConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    const link = await openLink(env);
    const ch = channel('job-main');
    ch.attach(link);
    const first = await ch.waitFor((e) => isProgress(e, 'train_begin'));
    const firstProgressMs = performance.now() - t0;
    const epoch = await ch.waitFor((e) => isProgress(e, 'epoch_end'));
    assert.equal(epoch.type === 'progress' && typeof (epoch.data.logs as Record<string, number>)['train/loss'], 'number');
    assert.ok(epoch.seq > first.seq);
    assert.deepEqual(
      ch.events.filter((e) => e.type === 'status').map((e) => e.type === 'status' && e.status),
      ['accepted', 'downloading', 'training'],
    );

    const busy = await submit(env, { job_id: 'job-while-busy', dataset, config: shortConfig });
    assert.equal(busy.accepted, false);
    assert.equal(busy.reason, 'worker_busy: 1 job(s) running and no queue (--queue 0); try another worker, or again later');
    const listed = await env.client.discover({ tags: ['worker'] });
    assert.equal(listed.find((p) => p.peer_id === env.workerId)?.metadata.properties.status, 'busy');

    const tPause = performance.now();
    const paused = await ch.command('pause');
    const ackMs = performance.now() - tPause;
    assert.equal(paused.ok, true, JSON.stringify(paused));
    await ch.waitFor((e) => e.type === 'status' && e.status === 'paused');
    const progressAtPause = ch.events.filter((e) => isProgress(e)).length;
    await holdsFor(() => ch.events.filter((e) => isProgress(e)).length === progressAtPause, 'no progress while paused', 2000);
    assert.equal((await ch.command('resume')).ok, true);
    const after = ch.lastSeq;
    await ch.waitFor((e) => e.seq > after && isProgress(e));
    assert.equal((await ch.command('stop')).ok, true);
    const end = await ch.done;
    assert.equal(end.type, 'job_complete', JSON.stringify(end));
    if (end.type !== 'job_complete') return;
    consecutive(ch.events);
    const statuses = ch.events.flatMap((e) => (e.type === 'status' ? [e.status] : []));
    assert.deepEqual(statuses.slice(-2), ['uploading', 'stopped']);
    assert.ok(end.metrics.epochs >= 1);

    const viaSignaling = await waitPeerMessage(env, (p) => p.app_message_type === 'job_complete' && p.job_id === 'job-main');
    assert.equal(viaSignaling.model_id, end.model_id);
    const prefix = `rooms/lab/models/${end.model_id}/`;
    assert.equal(end.s3_path, `s3://${env.server.bucket}/${prefix}`);
    const listing = await env.s3.send(new ListObjectsV2Command({ Bucket: env.server.bucket, Prefix: prefix }));
    const names = (listing.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
    assert.ok(names.includes('best.ckpt') && names.includes('training_log.csv'), `uploaded: ${names.join(', ')}`);
    const { manifest } = await readManifest(env.s3, env.server.bucket, 'lab');
    const model = manifest.models[end.model_id];
    assert.ok(model, `manifest lists ${end.model_id}`);
    assert.equal(model.model_type, 'builtin');
    assert.equal(model.trained_on_worker, env.workerId);
    assert.equal(model.s3_path, end.s3_path);
    assert.equal(model.training.dataset_hash, dataset.checksum);
    assert.ok(model.size_bytes > 0);

    const late = await ch.command('pause');
    assert.equal(late.ok, false);
    assert.equal(commandErrorCode(late), 'job_finished');
    await link.close();
    console.log(`timings: submit -> first progress ${firstProgressMs.toFixed(0)} ms; pause -> ack ${ackMs.toFixed(0)} ms`);
  });

  test('a dataset with the wrong checksum fails with a clear message', async () => {
    const res = await submit(env, { job_id: 'job-badsum', dataset: { ...dataset, checksum: `sha256:${'0'.repeat(64)}` }, config: shortConfig });
    assert.equal(res.accepted, true);
    const failed = await waitPeerMessage(env, (p) => p.app_message_type === 'job_failed' && p.job_id === 'job-badsum');
    const error = failed.error as { code: string; message: string };
    assert.equal(error.code, 'dataset_checksum_mismatch');
    assert.match(error.message, /dataset checksum mismatch: .*SHA-256/);
  });

  test('an unreadable dataset fails with a clear message', async () => {
    const junk = join(tmp, 'junk.slp');
    await writeFile(junk, randomBytes(4096));
    const ref = await uploadDataset(env, junk);
    const res = await submit(env, { job_id: 'job-junk', dataset: ref, config: shortConfig });
    assert.equal(res.accepted, true);
    const failed = await waitPeerMessage(env, (p) => p.app_message_type === 'job_failed' && p.job_id === 'job-junk');
    const error = failed.error as { code: string; message: string };
    assert.equal(error.code, 'training_failed', error.message);
    assert.match(error.message, /^training failed: s3:\/\/\S+\/junk\.slp is not an HDF5 file/);
  });

  test('reconnect: a new link with hello{after_seq} gets every missed event exactly once', async () => {
    const res = await submit(env, { job_id: 'job-reconnect', dataset, config: longConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    const ch = channel('job-reconnect');
    const first = await openLink(env);
    ch.attach(first);
    await ch.waitFor((e) => isProgress(e, 'epoch_end'));
    const downloading = ch.events.find((e) => e.type === 'status' && e.status === 'downloading');
    assert.equal(downloading?.type === 'status' && downloading.message, CACHE_HIT_MESSAGE, 'the dataset of an earlier job comes from the cache');
    ch.detach();
    await first.close();
    const seenBefore = ch.lastSeq;
    // Events the worker makes while no link is open: the new link must be sent them.
    await waitFor(() => workerEvents(env.dataDir, 'job-reconnect', seenBefore).length >= 3, 'three events made while no link was open');
    const second = await openLink(env);
    ch.attach(second);
    await ch.waitFor((e) => e.seq > seenBefore + 1);
    assert.equal((await ch.command('stop')).ok, true);
    const end = await ch.done;
    assert.equal(end.type, 'job_complete');
    consecutive(ch.events);
    // A fresh channel replaying everything sees the same events.
    const replay = channel('job-reconnect');
    replay.attach(second);
    await replay.done;
    assert.deepEqual(replay.events, ch.events);
    await second.close();
  });

  // Regression: a replay of hundreds of events sent in one synchronous burst stalled werift's
  // DataChannel (events stopped at some seq, acks never arrived). The worker now paces them (LinkOutbox).
  test('a burst of fast events and a large replay still arrive exactly once, and commands are acknowledged', async () => {
    const res = await submit(env, { job_id: 'job-burst', dataset, config: burstConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    const ch = channel('job-burst');
    const first = await openLink(env);
    ch.attach(first);
    await ch.waitFor((e) => isProgress(e, 'epoch_end'));
    ch.detach();
    await first.close();
    // A large replay: the worker makes 500 events while no link is open.
    const seenBefore = ch.lastSeq;
    await waitFor(() => workerEvents(env.dataDir, 'job-burst', seenBefore + 499).length > 0, '500 events made while no link was open');
    const second = await openLink(env);
    ch.attach(second);
    await ch.waitFor((e) => e.seq > seenBefore + 500);
    const t = performance.now();
    const arrivals: number[] = [];
    ch.onEvent(() => arrivals.push(Math.round(performance.now() - t)));
    const ack = await ch.command('stop', { timeoutMs: 8000 }).catch((e: unknown) => {
      console.log('stop was not acknowledged:', String(e), 'lastSeq', ch.lastSeq, 'arrivals', arrivals.length, arrivals.slice(-5), env.worker.stderrTail());
      throw e;
    });
    assert.equal(ack.ok, true);
    const stopMs = performance.now() - t;
    const end = await ch.done;
    assert.equal(end.type, 'job_complete');
    consecutive(ch.events);
    console.log(`timings: burst, stop -> ack ${stopMs.toFixed(0)} ms`);
    await second.close();
  });

  test('cancel: status cancelled and no model', async () => {
    const res = await submit(env, { job_id: 'job-cancel', dataset, config: longConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    const link = await openLink(env);
    const ch = channel('job-cancel');
    ch.attach(link);
    await ch.waitFor((e) => isProgress(e, 'epoch_end'));
    assert.equal((await ch.command('cancel')).ok, true);
    const end = await ch.done;
    assert.equal(end.type === 'job_failed' && end.error.code, 'cancelled');
    assert.ok(ch.events.some((e) => e.type === 'status' && e.status === 'cancelled'));
    const listing = await env.s3.send(new ListObjectsV2Command({ Bucket: env.server.bucket, Prefix: 'rooms/lab/models/job-cancel-' }));
    assert.equal(listing.KeyCount ?? 0, 0);
    await link.close();
  });

  test('job_cancel over signaling cancels a job without a DataChannel', async () => {
    const res = await submit(env, { job_id: 'job-cancel-sig', dataset, config: longConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    await waitFor(() => workerEvents(env.dataDir, 'job-cancel-sig').some((e) => isProgress(e)), 'the job to be training');
    await env.client.sendPeerMessage(env.workerId, { app_message_type: 'job_cancel', job_id: 'job-cancel-sig' });
    const failed = await waitPeerMessage(env, (p) => p.app_message_type === 'job_failed' && p.job_id === 'job-cancel-sig');
    assert.equal((failed.error as { code: string }).code, 'cancelled');
  });

  test('the real minimal_instance.pkg.slp trains to a model', { skip: sharedSkipReason }, async () => {
    const real = await uploadDataset(env, sharedSleapFile('minimal_instance.pkg.slp'));
    const res = await submit(env, { job_id: 'job-real', dataset: real, config: shortConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    const done = await waitPeerMessage(env, (p) => (p.app_message_type === 'job_complete' || p.app_message_type === 'job_failed') && p.job_id === 'job-real', 30_000);
    assert.equal(done.app_message_type, 'job_complete', JSON.stringify(done));
    const { manifest } = await readManifest(env.s3, env.server.bucket, 'lab');
    assert.ok(manifest.models[String(done.model_id)]);
  });

  test('SIGTERM cancels the running job and exits cleanly', async () => {
    const res = await submit(env, { job_id: 'job-sigterm', dataset, config: longConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    await waitFor(() => workerEvents(env.dataDir, 'job-sigterm').some((e) => isProgress(e)), 'the job to be training');
    const code = await env.worker.stop('SIGTERM');
    assert.equal(code, 0, env.worker.stderrTail());
    const failed = await waitPeerMessage(env, (p) => p.app_message_type === 'job_failed' && p.job_id === 'job-sigterm', 3000);
    assert.equal((failed.error as { code: string }).code, 'cancelled');
  });
});
