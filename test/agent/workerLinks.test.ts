// The agent's pool of WebRTC links to workers (src/agent/jobs/WorkerLinks.ts), with real parts:
// the embedded store, `sleap-rtc server`, a `sleap-rtc worker` process that answers offers (it
// runs a long job for the test's client: a worker answers only clients with a job there), and a
// registered "mute" worker peer that never answers (its links fail after the connect timeout).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkerLinks, type WorkerLinksOptions } from '../../src/agent/jobs/WorkerLinks.js';
import { isAppError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import type { RtcLink } from '../../src/core/rtc/RtcLink.js';
import { SignalingClient } from '../../src/core/signaling/SignalingClient.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { waitFor } from '../support/wait.js';
import { longConfig, startWorkerEnv, submit, uploadDataset, type WorkerEnv } from '../worker/setup.js';

describe('WorkerLinks (server, worker process, mute peer)', () => {
  let env: WorkerEnv;
  let tmp: string;
  let mute: SignalingClient;
  /** Offers the mute peer received: one per connect attempt to it. */
  const offersToMute: string[] = [];
  const pools: WorkerLinks[] = [];

  /** A pool on the test's signaling client, with the state the JobManager would give it. */
  function pool(extra: Partial<WorkerLinksOptions> = {}) {
    const wanted = new Map<string, number>();
    const opens: Array<{ worker: string; link: RtcLink }> = [];
    const gone: Array<{ worker: string; why: string }> = [];
    const links = new WorkerLinks({
      signaling: env.client,
      ready: () => env.client.connect(),
      link: { loopbackOnly: true, deadAfterMs: 10_000 },
      log: silentLogger,
      jobsOn: (w) => wanted.get(w) ?? 0,
      onOpen: (worker, link) => opens.push({ worker, link }),
      onGone: (worker, why) => gone.push({ worker, why }),
      backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
      ...extra,
    });
    const onAnswer = (m: { sender: string; sdp: string }): void => links.answer(m.sender, m.sdp);
    const onCandidate = (m: { sender: string; candidate: unknown }): void => links.candidate(m.sender, m.candidate);
    const offs = [env.client.onAnswer(onAnswer), env.client.onCandidate(onCandidate)];
    const close = links.close.bind(links);
    links.close = async () => {
      for (const off of offs) off();
      await close();
    };
    pools.push(links);
    return { links, wanted, opens, gone };
  }

  before(async () => {
    env = await startWorkerEnv();
    tmp = await mkdtemp(join(tmpdir(), 'worker-links-'));
    const slp = await writeSyntheticSlp(join(tmp, 'syn.pkg.slp'), { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
    const res = await submit(env, { job_id: 'job-links', dataset: await uploadDataset(env, slp.path), config: longConfig });
    assert.equal(res.accepted, true, JSON.stringify(res));
    mute = new SignalingClient({ url: env.server.url, peerId: 'mute-worker', role: 'worker', roomId: 'lab', token: env.server.rooms.lab, metadata: { tags: ['builtin'] }, backoff: { initialMs: 100, maxMs: 1000 } });
    mute.onOffer((m) => offersToMute.push(m.sender));
    await mute.connect();
  });

  after(async () => {
    await Promise.allSettled(pools.map((p) => p.close()));
    await mute?.close();
    await env?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('one link per worker: concurrent callers share the connect, an open link is handed out again', { timeout: 60_000 }, async () => {
    const { links, opens } = pool();
    const a = links.linkTo(env.workerId);
    assert.equal(links.state(env.workerId), 'connecting');
    const b = links.linkTo(env.workerId);
    const [la, lb] = await Promise.all([a, b]);
    assert.equal(la, lb);
    assert.equal(la.state, 'open');
    assert.equal(links.state(env.workerId), 'open');
    assert.equal(await links.linkTo(env.workerId), la);
    assert.deepEqual(opens.map((o) => o.worker), [env.workerId], 'onOpen once, for the one link');
    assert.equal(links.current(env.workerId), la);
    await links.close();
    assert.equal(la.state, 'closed', 'close() closes the links');
    await assert.rejects(links.linkTo(env.workerId), (e: unknown) => isAppError(e, 'aborted'));
  });

  test('a link that closes while jobs want it is reopened after the backoff; the new link goes to onOpen and the count starts over', { timeout: 60_000 }, async () => {
    const { links, wanted, opens } = pool();
    wanted.set(env.workerId, 2);
    const first = await links.linkTo(env.workerId);
    await first.close();
    assert.equal(links.state(env.workerId), 'retrying', 'the one reconnect is scheduled');
    assert.equal(links.retries(env.workerId), 1);
    await waitFor(async () => (opens.length === 2 ? true : undefined), 'the reopened link');
    assert.notEqual(opens[1].link, first);
    assert.equal(opens[1].link.state, 'open');
    assert.equal(links.state(env.workerId), 'open');
    assert.equal(links.retries(env.workerId), 0, 'reset once open');
    await links.close();
  });

  test('a link that closes with no job wanting it stays closed (nothing scheduled); a later linkTo opens a new one', { timeout: 60_000 }, async () => {
    const { links, opens } = pool();
    const first = await links.linkTo(env.workerId);
    await first.close();
    assert.equal(links.state(env.workerId), 'idle');
    assert.equal(links.retries(env.workerId), 0);
    const second = await links.linkTo(env.workerId);
    assert.notEqual(second, first);
    assert.equal(opens.length, 2);
    await links.close();
  });

  test('drop: the link is closed and not reopened, even while jobs want it', { timeout: 60_000 }, async () => {
    const { links, wanted } = pool();
    wanted.set(env.workerId, 1);
    const link = await links.linkTo(env.workerId);
    links.drop(env.workerId);
    assert.equal(link.state, 'closed');
    assert.equal(links.state(env.workerId), 'idle');
    assert.equal(links.current(env.workerId), undefined);
    await links.close();
  });

  test('failed connects are retried one at a time: as many retries as attempts (regression: a failed reconnect scheduled two)', { timeout: 60_000 }, async () => {
    const { links, wanted, gone } = pool({ link: { loopbackOnly: true, connectTimeoutMs: 300 } });
    offersToMute.length = 0;
    wanted.set('mute-worker', 1);
    await assert.rejects(links.linkTo('mute-worker'), (e: unknown) => isAppError(e, 'unavailable') && /^could not open a WebRTC link to worker mute-worker: /.test(e.message));
    assert.equal(links.state('mute-worker'), 'retrying');
    assert.equal(links.retries('mute-worker'), 1);
    await waitFor(async () => (offersToMute.length >= 4 ? true : undefined), 'four connect attempts');
    wanted.set('mute-worker', 0);
    // No job wants it any more: the attempt in flight (or the retry pending) is the last.
    await waitFor(async () => (links.state('mute-worker') === 'idle' ? true : undefined), 'the retries to stop');
    const attempts = offersToMute.length;
    const retries = links.retries('mute-worker');
    assert.ok(retries === attempts || retries === attempts - 1, `${retries} retries scheduled for ${attempts} attempts`);
    assert.deepEqual(gone, [], 'the peer is in the room: never declared gone');
    await links.close();
  });

  test('a worker no longer in the room is not reconnected to: onGone says so', { timeout: 60_000 }, async () => {
    const ghost = new SignalingClient({ url: env.server.url, peerId: 'ghost-worker', role: 'worker', roomId: 'lab', token: env.server.rooms.lab });
    await ghost.connect();
    const { links, wanted, gone } = pool({ link: { loopbackOnly: true, connectTimeoutMs: 300 } });
    wanted.set('ghost-worker', 1);
    await assert.rejects(links.linkTo('ghost-worker'), (e: unknown) => isAppError(e, 'unavailable'));
    await ghost.close();
    await waitFor(async () => (gone.length > 0 ? true : undefined), 'onGone');
    assert.deepEqual(gone, [{ worker: 'ghost-worker', why: 'it is no longer in the room' }]);
    await links.close();
  });

  test('after a worker left signaling: alive while its link hears frames, gone when there is no link; close() ends pending checks', { timeout: 60_000 }, async () => {
    // The worker's heartbeat is 1 s: a 1.5 s window always sees one on an open link.
    const { links, gone } = pool({ silenceAfterLeaveMs: 1500 });
    await links.linkTo(env.workerId);
    assert.equal(await links.afterLeave(env.workerId), 'alive');
    assert.deepEqual(gone, []);
    assert.equal(await links.afterLeave('never-linked'), 'gone');
    assert.deepEqual(gone, [{ worker: 'never-linked', why: 'it left the room and its link went silent' }]);
    const pending = links.afterLeave(env.workerId);
    await links.close();
    assert.equal(await pending, 'closed');
    assert.equal(gone.length, 1, 'a check ended by close() declares nothing');
  });

  test('isPresent: the room\'s workers, as signaling lists them', { timeout: 30_000 }, async () => {
    const { links } = pool();
    assert.equal(await links.isPresent(env.workerId), true);
    assert.equal(await links.isPresent('mute-worker'), true);
    assert.equal(await links.isPresent('nobody'), false);
    await links.close();
  });
});
