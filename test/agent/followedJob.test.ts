// A followed job (src/agent/jobs/FollowedJob.ts): its channel and its history file in step. The
// events come over a real WebRTC link (two werift peers in this process); the "worker" end sends
// them by hand, so the test decides when the ledger write an event waits for completes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { FollowedJob } from '../../src/agent/jobs/FollowedJob.js';
import { JobHistory } from '../../src/agent/jobs/JobHistory.js';
import type { JobEvent } from '../../src/core/jobs/index.js';
import { silentLogger } from '../../src/core/log.js';
import { RtcLink } from '../../src/core/rtc/RtcLink.js';
import { waitFor } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'followed-job-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const status = (jobId: string, seq: number, s: 'training' | 'paused'): JobEvent => ({ type: 'status', job_id: jobId, seq, t: seq, status: s });
const progress = (jobId: string, seq: number): JobEvent => ({ type: 'progress', job_id: jobId, seq, t: seq, data: { event: 'epoch_end', epoch: seq, logs: { 'train/loss': 1 / seq } } });

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Two links in this process, signalled directly: `agent` offers (as the agent does), `worker` answers. */
async function linkPair(): Promise<{ agent: RtcLink; worker: RtcLink; close(): Promise<void> }> {
  const config = { loopbackOnly: true };
  const none = (): void => undefined;
  const agent: RtcLink = new RtcLink({ role: 'offerer', config, log: silentLogger, signal: { sendOffer: (sdp) => void worker.handleOffer(sdp), sendAnswer: none, sendCandidate: (c) => void worker.handleCandidate(c).catch(none) } });
  const worker: RtcLink = new RtcLink({ role: 'answerer', config, log: silentLogger, signal: { sendOffer: none, sendAnswer: (sdp) => void agent.handleAnswer(sdp), sendCandidate: (c) => void agent.handleCandidate(c).catch(none) } });
  await agent.start();
  await Promise.all([agent.waitOpen(), worker.waitOpen()]);
  return { agent, worker, close: async () => void (await Promise.all([agent.close(), worker.close()])) };
}

describe('FollowedJob', () => {
  test('an event that changed the record reaches the history only after its ledger write, later events after it; last_seq counts what was received', { timeout: 30_000 }, async () => {
    const pair = await linkPair();
    try {
      const ledgerWrite = deferred();
      const seen: number[] = [];
      const job: FollowedJob = new FollowedJob(dir, 'job-order', silentLogger, (e) => {
        seen.push(e.seq);
        // The status event changes the record (a ledger write); progress does not.
        job.record(e, e.type === 'status' ? () => ledgerWrite.promise : undefined);
      });
      const hello = new Promise<unknown>((resolve) => pair.worker.onMessage((m) => m.type === 'hello' && resolve(m)));
      job.follow(pair.agent);
      assert.deepEqual(await hello, { type: 'hello', job_id: 'job-order', after_seq: 0 }, 'the channel asks for everything after what the history holds');

      pair.worker.sendJson(status('job-order', 1, 'paused'));
      pair.worker.sendJson(progress('job-order', 2));
      pair.worker.sendJson(progress('job-order', 3));
      await waitFor(async () => (job.channel.lastSeq === 3 ? true : undefined), 'three events received');
      assert.deepEqual(seen, [1, 2, 3]);
      assert.equal(job.history.lastSeq, 0, 'nothing is in the history while the ledger write of event 1 is pending');
      assert.equal(job.lastSeq, 3, 'last_seq is max(channel, history): the events received count');

      ledgerWrite.resolve();
      await job.persisted;
      assert.deepEqual(job.history.after().map((e) => e.seq), [1, 2, 3], 'in seq order, each once');
      assert.equal(job.lastSeq, 3);
      await job.drop();
      assert.deepEqual(JobHistory.read(JobHistory.fileOf(dir, 'job-order')).map((e) => e.seq), [1, 2, 3], 'on disk after drop');
    } finally {
      await pair.close();
    }
  });

  test('a history from an earlier run: the channel starts after it, last_seq is the history\'s', () => {
    const h = new JobHistory(dir, 'job-earlier');
    for (let seq = 1; seq <= 4; seq++) h.append(progress('job-earlier', seq));
    h.close();
    const job = new FollowedJob(dir, 'job-earlier', silentLogger, () => undefined);
    assert.equal(job.channel.lastSeq, 4);
    assert.equal(job.lastSeq, 4);
    return job.drop();
  });

  test('drop waits for what is being recorded, then closes the history', async () => {
    const job = new FollowedJob(dir, 'job-drop', silentLogger, () => undefined);
    const write = deferred();
    job.record(progress('job-drop', 1), () => write.promise);
    let dropped = false;
    const drop = job.drop().then(() => (dropped = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(dropped, false, 'not before the pending write');
    write.resolve();
    await drop;
    assert.deepEqual(JobHistory.read(JobHistory.fileOf(dir, 'job-drop')).map((e) => e.seq), [1]);
  });

  describe('pending work (mock timers)', () => {
    test('later() runs once per kind: the first call sets the time, a second is ignored', () => {
      mock.timers.enable({ apis: ['setTimeout'] });
      const job = new FollowedJob(dir, 'job-later', silentLogger, () => undefined);
      try {
        const calls: string[] = [];
        const note = (what: string) => () => void calls.push(what);
        job.later('release', 5000, note('release 1'));
        job.later('release', 10, note('release 2'));
        job.later('peerEnd', 3000, note('peerEnd'));
        mock.timers.tick(2999);
        assert.deepEqual(calls, []);
        mock.timers.tick(1);
        assert.deepEqual(calls, ['peerEnd']);
        mock.timers.tick(2000);
        assert.deepEqual(calls, ['peerEnd', 'release 1']);
        job.later('release', 100, note('release 3'));
        mock.timers.tick(100);
        assert.deepEqual(calls, ['peerEnd', 'release 1', 'release 3'], 'once it ran, a new one may be set');
      } finally {
        void job.drop();
        mock.timers.reset();
      }
    });

    test('whenQuiet() waits again while events still come (a replay behind the worker), runs once none came for the whole time', async () => {
      mock.timers.enable({ apis: ['setTimeout'] });
      const job = new FollowedJob(dir, 'job-quiet', silentLogger, () => undefined);
      try {
        const calls: string[] = [];
        job.whenQuiet('peerEnd', 3000, () => void calls.push('peerEnd'));
        job.whenQuiet('peerEnd', 10, () => void calls.push('second'));
        mock.timers.tick(2000);
        job.record(progress('job-quiet', 1));
        await job.persisted;
        mock.timers.tick(1000);
        assert.deepEqual(calls, [], 'an event came meanwhile: it waits another 3 s');
        mock.timers.tick(2999);
        assert.deepEqual(calls, []);
        mock.timers.tick(1);
        assert.deepEqual(calls, ['peerEnd'], 'quiet for 3 s: it runs, once (the second call was ignored)');
        mock.timers.tick(60_000);
        assert.deepEqual(calls, ['peerEnd']);
      } finally {
        await job.drop();
        mock.timers.reset();
      }
    });

    test('what is pending never runs once the job is dropped', async () => {
      mock.timers.enable({ apis: ['setTimeout'] });
      const job = new FollowedJob(dir, 'job-cleared', silentLogger, () => undefined);
      try {
        const calls: string[] = [];
        job.later('release', 5000, () => void calls.push('release'));
        job.later('peerEnd', 3000, () => void calls.push('peerEnd'));
        await job.drop();
        mock.timers.tick(60_000);
        assert.deepEqual(calls, []);
      } finally {
        mock.timers.reset();
      }
    });
  });
});
