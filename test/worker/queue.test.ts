// The worker's queue (--queue, default 16) with real processes: store, server, worker, and two
// signaling clients. A long job holds the one slot, so the others wait deterministically; it is
// cancelled to let them run. What the worker did is read from its own event files (with each
// event's time on the worker's clock) and from the peer messages the clients receive.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobChannel, type JobEvent } from '../../src/core/jobs/index.js';
import { silentLogger } from '../../src/core/log.js';
import { SignalingClient } from '../../src/core/signaling/SignalingClient.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { waitFor } from '../support/wait.js';
import { workerEvents } from '../support/workerEvents.js';
import { channel, longConfig, openLink, shortConfig, startWorkerEnv, submit, uploadDataset, waitPeerMessage, type WorkerEnv } from './setup.js';

type Status = Extract<JobEvent, { type: 'status' }>;
const statuses = (events: JobEvent[]): Status[] => events.filter((e): e is Status => e.type === 'status');
const ended = (env: WorkerEnv, id: string, ms = 60_000) => waitPeerMessage(env, (p) => (p.app_message_type === 'job_complete' || p.app_message_type === 'job_failed') && p.job_id === id, ms);

describe('the worker queue (store + server + worker as real processes)', () => {
  let env: WorkerEnv;
  let tmp: string;
  let dataset: Awaited<ReturnType<typeof uploadDataset>>;
  let other: SignalingClient;
  const otherInbox: Array<Record<string, unknown>> = [];

  before(async () => {
    env = await startWorkerEnv();
    tmp = await mkdtemp(join(tmpdir(), 'worker-queue-'));
    const slp = await writeSyntheticSlp(join(tmp, 'syn.pkg.slp'), { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
    dataset = await uploadDataset(env, slp.path);
    other = new SignalingClient({ url: env.server.url, peerId: `other-${randomBytes(3).toString('hex')}`, role: 'client', roomId: 'lab', token: env.server.rooms.lab, requestTimeoutMs: 5000 });
    other.onPeerMessage((m) => otherInbox.push(m.payload));
    await other.connect();
  });
  after(async () => {
    await other?.close();
    await env?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** Submits a long job and waits until it trains: the worker's one slot is taken. */
  const occupy = async (id: string): Promise<void> => {
    const r = await submit(env, { job_id: id, dataset, config: longConfig });
    assert.deepEqual([r.accepted, r.position], [true, undefined], 'a free worker starts the job at once');
    await waitFor(() => statuses(workerEvents(env.dataDir, id)).some((e) => e.status === 'training') || undefined, `${id} training`, 30_000);
  };
  const cancel = (id: string) => env.client.sendPeerMessage(env.workerId, { app_message_type: 'job_cancel', job_id: id });
  const metadata = async () => (await env.client.discover({ role: 'worker' })).find((p) => p.peer_id === env.workerId)!.metadata.properties;

  test('three jobs on one worker run in order; the waiting ones are told their positions as they move up', { timeout: 120_000 }, async () => {
    await occupy('q-a');
    const b = await submit(env, { job_id: 'q-b', dataset, config: shortConfig });
    const c = await submit(env, { job_id: 'q-c', dataset, config: shortConfig });
    assert.deepEqual([b.accepted, b.position, c.accepted, c.position], [true, 1, true, 2]);
    await waitFor(async () => ((await metadata()).queue_length === 2 ? true : undefined), 'queue_length 2 in the metadata');
    const props = await metadata();
    assert.deepEqual([props.status, props.running_jobs, props.max_queue], ['busy', 1, 16]);

    await cancel('q-a');
    assert.equal((await ended(env, 'q-a')).app_message_type, 'job_failed');
    assert.equal((await ended(env, 'q-b')).app_message_type, 'job_complete');
    assert.equal((await ended(env, 'q-c')).app_message_type, 'job_complete');

    const a = statuses(workerEvents(env.dataDir, 'q-a'));
    const bs = statuses(workerEvents(env.dataDir, 'q-b'));
    const cs = statuses(workerEvents(env.dataDir, 'q-c'));
    assert.deepEqual(bs.map((e) => [e.status, e.position]), [['queued', 1], ['accepted', undefined], ['downloading', undefined], ['training', undefined], ['uploading', undefined], ['completed', undefined]]);
    assert.deepEqual(cs.slice(0, 3).map((e) => [e.status, e.position]), [['queued', 2], ['queued', 1], ['accepted', undefined]], 'c moved up to 1 when b started');
    assert.equal(cs[1].message, 'next in the queue');
    // In order, on the worker's clock: b started once a ended, c once b ended.
    assert.ok(bs[1].t >= a.at(-1)!.t, 'b left the queue after a ended');
    assert.ok(cs[2].t >= bs.at(-1)!.t, 'c left the queue after b ended');
    await waitFor(async () => ((await metadata()).queue_length === 0 && (await metadata()).status === 'available' ? true : undefined), 'an empty queue and a free worker');
  });

  test('a queued job can be cancelled (job_cancel, or the cancel command over the DataChannel); the ones behind it move up', { timeout: 120_000 }, async () => {
    await occupy('c-a');
    const q = await submit(env, { job_id: 'c-q', dataset, config: shortConfig });
    const r = await submit(env, { job_id: 'c-r', dataset, config: shortConfig });
    const s = await submit(env, { job_id: 'c-s', dataset, config: shortConfig });
    assert.deepEqual([q.position, r.position, s.position], [1, 2, 3]);

    await cancel('c-q');
    const qEnd = await ended(env, 'c-q');
    assert.deepEqual(qEnd.error, { code: 'cancelled', message: 'job c-q was cancelled; no model was kept' });
    await waitFor(() => statuses(workerEvents(env.dataDir, 'c-s')).some((e) => e.position === 2) || undefined, 'c-s at position 2');
    assert.deepEqual(statuses(workerEvents(env.dataDir, 'c-r')).map((e) => e.position), [2, 1]);

    // Over the DataChannel: the waiting job is followed like any other, and cancel applies.
    const link = await openLink(env);
    try {
      const ch = channel('c-r');
      ch.attach(link);
      await ch.waitFor((e) => e.type === 'status' && e.status === 'queued' && e.position === 1);
      const paused = await ch.command('pause');
      assert.equal(paused.ok, false);
      assert.match(paused.error ?? '', /^not_running/, 'only cancel applies to a waiting job');
      const ack = await ch.command('cancel');
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const end = await ch.done;
      assert.equal(end.type === 'job_failed' && end.error.code, 'cancelled');
      await waitFor(() => statuses(workerEvents(env.dataDir, 'c-s')).some((e) => e.position === 1) || undefined, 'c-s next');
    } finally {
      await link.close();
    }
    await cancel('c-a');
    assert.equal((await ended(env, 'c-s')).app_message_type, 'job_complete', 'the one left runs once the slot is free');
    const cancelledNeverRan = statuses(workerEvents(env.dataDir, 'c-q')).map((e) => e.status);
    assert.deepEqual(cancelledNeverRan, ['queued', 'cancelled']);
  });

  test("two clients are served in turn: one client's jobs do not starve another's", { timeout: 120_000 }, async () => {
    await occupy('f-a');
    const mine = [];
    for (const id of ['f-x1', 'f-x2', 'f-x3']) mine.push(await submit(env, { job_id: id, dataset, config: shortConfig }));
    assert.deepEqual(mine.map((r) => r.position), [1, 2, 3]);
    const theirs = [];
    for (const id of ['f-y1', 'f-y2']) {
      await other.sendPeerMessage(env.workerId, { app_message_type: 'job_request', room_id: 'lab', job_id: id, dataset, config: shortConfig });
      theirs.push(await waitFor(() => otherInbox.find((p) => p.app_message_type === 'job_response' && p.job_id === id), `${id} answered`));
    }
    // The first client was served last (f-a): the other one's first job goes next, then turns alternate.
    assert.deepEqual(theirs.map((r) => [r.accepted, r.position]), [[true, 1], [true, 3]]);
    await cancel('f-a');
    await ended(env, 'f-x3');
    await waitFor(() => otherInbox.find((p) => p.app_message_type === 'job_complete' && p.job_id === 'f-y2'), 'f-y2 complete', 60_000);
    const startedAt = (id: string) => statuses(workerEvents(env.dataDir, id)).find((e) => e.status === 'accepted')!.t;
    const order = ['f-y1', 'f-x1', 'f-y2', 'f-x2', 'f-x3'];
    for (let i = 1; i < order.length; i++) {
      const prevEnd = statuses(workerEvents(env.dataDir, order[i - 1])).at(-1)!;
      assert.equal(prevEnd.status, 'completed');
      assert.ok(startedAt(order[i]) >= prevEnd.t, `${order[i]} started after ${order[i - 1]} ended`);
    }
    assert.deepEqual(statuses(workerEvents(env.dataDir, 'f-x1')).filter((e) => e.status === 'queued').map((e) => e.position), [1, 2, 1], 'x1 made room for y1, then was next');
  });

  test('a full queue refuses with worker_busy; seq_base numbers a resubmitted job after the client\'s last event', { timeout: 120_000 }, async () => {
    await occupy('z-a');
    // seq_base: the worker's events for the job go on from there (the client's history has no gap).
    const based = await submit(env, { job_id: 'z-based', dataset, config: shortConfig, seq_base: 7 });
    assert.deepEqual([based.accepted, based.position], [true, 1]);
    const link = await openLink(env);
    try {
      const ch = new JobChannel('z-based', { afterSeq: 7, log: silentLogger });
      ch.attach(link);
      const first = await ch.waitFor(() => true);
      assert.deepEqual([first.seq, first.type === 'status' && first.status], [8, 'queued']);
      await cancel('z-a');
      await ch.done;
      assert.deepEqual(ch.events.map((e) => e.seq), ch.events.map((_, i) => 8 + i), 'seqs 8, 9, 10, ... with no gap');
      assert.equal(ch.events.at(-1)?.type, 'job_complete');
    } finally {
      await link.close();
    }
    await occupy('z-b');
    for (let i = 0; i < 16; i++) assert.equal((await submit(env, { job_id: `z-fill-${i}`, dataset, config: longConfig })).accepted, true);
    const full = await submit(env, { job_id: 'z-over', dataset, config: shortConfig });
    assert.equal(full.accepted, false);
    assert.equal(full.reason, 'worker_busy: 1 job(s) running and the queue full (16 of 16); try another worker, or again later');
    for (let i = 0; i < 16; i++) await cancel(`z-fill-${i}`);
    for (let i = 0; i < 16; i++) await ended(env, `z-fill-${i}`);
    await cancel('z-b');
    await ended(env, 'z-b');
  });
});
