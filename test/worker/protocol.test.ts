import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answerCommand, CommandRefused, commandErrorCode, JobChannel, JobEventLog, MemoryEventStore, type JobLink } from '../../src/core/jobs/index.js';
import { queueOrder } from '../../src/worker/queueOrder.js';
import type { AppMessage, CloseReason, OutgoingMessage } from '../../src/core/rtc/RtcLink.js';
import { loadPeerId, parseNvidiaSmi } from '../../src/worker/identity.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalingUrlOf } from '../../src/worker/config.js';
import { modelType } from '../../src/worker/JobRunner.js';
import { silentLogger } from '../../src/core/log.js';

/** A link the test drives: what the channel sends is recorded; `deliver` plays the worker. */
class FakeLink implements JobLink {
  sent: OutgoingMessage[] = [];
  private msg = new Set<(m: AppMessage) => void>();
  private close = new Set<(r: CloseReason) => void>();
  sendJson(m: OutgoingMessage): void {
    this.sent.push(m);
  }
  onMessage(l: (m: AppMessage) => void): () => void {
    this.msg.add(l);
    return () => this.msg.delete(l);
  }
  onClose(l: (r: CloseReason) => void): () => void {
    this.close.add(l);
    return () => this.close.delete(l);
  }
  deliver(m: AppMessage): void {
    for (const l of [...this.msg]) l(m);
  }
  kill(): void {
    for (const l of [...this.close]) l('dead');
  }
}

const epochEnd = (epoch: number) => ({ event: 'epoch_end' as const, epoch, logs: { train_loss: 1 / (epoch + 1) } });

describe('JobEventLog', () => {
  test('numbers events from 1 and replays after a seq', () => {
    const log = new JobEventLog('j1', () => 5);
    log.appendStatus('accepted');
    log.appendProgress(epochEnd(0));
    log.appendComplete({ model_id: 'm', s3_path: 's3://b/k/', metrics: { epochs: 1 } });
    assert.equal(log.lastSeq, 3);
    assert.equal(log.finished, true);
    assert.deepEqual(log.after(1).map((e) => e.seq), [2, 3]);
    assert.deepEqual(log.after(3), []);
    assert.throws(() => log.appendStatus('training'), /has finished/);
  });

  test('follow replays then streams with no gap and no duplicate', () => {
    const log = new JobEventLog('j1');
    log.appendStatus('accepted');
    log.appendStatus('training');
    const seen: number[] = [];
    const off = log.follow(1, (e) => seen.push(e.seq));
    log.appendProgress(epochEnd(0));
    off();
    log.appendProgress(epochEnd(1));
    assert.deepEqual(seen, [2, 3]);
  });

  test('seqBase (a resubmitted job): numbered from seqBase + 1, replayed by those seqs; the store holds 1, 2, 3', () => {
    const store = new MemoryEventStore();
    const log = new JobEventLog('j1', () => 5, store, 7);
    log.appendStatus('queued', 'next in the queue', 1);
    log.appendStatus('accepted');
    log.appendProgress(epochEnd(0));
    assert.equal(log.lastSeq, 10);
    assert.deepEqual(log.after(0).map((e) => e.seq), [8, 9, 10]);
    assert.deepEqual(log.after(8).map((e) => e.seq), [9, 10]);
    assert.deepEqual(log.after(10), []);
    assert.deepEqual(store.after(0).map((e) => e.seq), [1, 2, 3]);
    const first = log.after(7)[0];
    assert.deepEqual(first.type === 'status' && [first.status, first.position], ['queued', 1]);
    const seen: number[] = [];
    log.follow(9, (e) => seen.push(e.seq));
    log.appendComplete({ model_id: 'm', s3_path: 's3://b/k/', metrics: {} });
    assert.deepEqual(seen, [10, 11]);
  });
});

describe('queueOrder: round-robin between clients, FIFO within one', () => {
  const j = (client: string, n: number) => ({ clientPeerId: client, id: `${client}${n}` });
  const ids = (xs: Array<{ id: string }>) => xs.map((x) => x.id);

  test('one client: first come, first served', () => {
    assert.deepEqual(ids(queueOrder([j('a', 1), j('a', 2), j('a', 3)], new Map(), 0)), ['a1', 'a2', 'a3']);
  });

  test("a client just served waits for the others' turn: ten jobs of one do not starve another's one", () => {
    const waiting = [...Array.from({ length: 10 }, (_, i) => j('a', i + 1)), j('b', 1)];
    assert.deepEqual(ids(queueOrder(waiting, new Map([['a', 5]]), 5)).slice(0, 2), ['b1', 'a1']);
    // Never served either: the one whose oldest job came first starts, then they alternate.
    assert.deepEqual(ids(queueOrder([j('a', 1), j('a', 2), j('b', 1), j('b', 2), j('c', 1)], new Map(), 0)), ['a1', 'b1', 'c1', 'a2', 'b2']);
  });

  test('the client served longest ago goes first', () => {
    const served = new Map([['a', 9], ['b', 3], ['c', 6]]);
    assert.deepEqual(ids(queueOrder([j('a', 1), j('c', 1), j('b', 1), j('b', 2)], served, 9)), ['b1', 'c1', 'a1', 'b2']);
    assert.deepEqual(ids(queueOrder([], served, 9)), []);
  });
});

describe('commands', () => {
  test('answerCommand acks ok, and codes refusals', async () => {
    const cmd = { type: 'command' as const, job_id: 'j', command_id: 'c1', command: 'pause' as const };
    assert.deepEqual(await answerCommand(cmd, async () => undefined), { type: 'command_ack', job_id: 'j', command_id: 'c1', ok: true });
    const refused = await answerCommand(cmd, async () => {
      throw new CommandRefused('job_finished', 'job j has already ended');
    });
    assert.equal(refused.ok, false);
    assert.equal(commandErrorCode(refused), 'job_finished');
    const failed = await answerCommand(cmd, async () => {
      throw new Error('boom');
    });
    assert.equal(commandErrorCode(failed), 'command_failed');
  });
});

describe('JobChannel', () => {
  test('says hello with the last seq, drops duplicates, asks again on a gap', () => {
    const ch = new JobChannel('j', { log: silentLogger });
    const a = new FakeLink();
    ch.attach(a);
    assert.deepEqual(a.sent[0], { type: 'hello', job_id: 'j', after_seq: 0 });
    const log = new JobEventLog('j');
    const events = [log.appendStatus('accepted'), log.appendStatus('training'), log.appendProgress(epochEnd(0)), log.appendProgress(epochEnd(1))];
    a.deliver(events[0]);
    a.deliver(events[1]);
    a.deliver(events[1]);
    assert.equal(ch.lastSeq, 2);
    assert.equal(ch.duplicatesDropped, 1);
    a.deliver(events[3]);
    assert.equal(ch.lastSeq, 2, 'an event after a gap is not taken');
    assert.deepEqual(a.sent.at(-1), { type: 'hello', job_id: 'j', after_seq: 2 });
    // A new link: hello after 2; the worker replays 3 and 4.
    const b = new FakeLink();
    ch.attach(b);
    assert.deepEqual(b.sent[0], { type: 'hello', job_id: 'j', after_seq: 2 });
    a.deliver(events[2]);
    assert.equal(ch.lastSeq, 2, 'the old link is no longer heard');
    for (const e of log.after(2)) b.deliver(e);
    assert.deepEqual(ch.events.map((e) => e.seq), [1, 2, 3, 4]);
    assert.equal(ch.status, 'training');
  });

  test('regression: a listener that throws on job_complete does not leave done hanging', async () => {
    const ch = new JobChannel('j', { log: silentLogger });
    const a = new FakeLink();
    ch.attach(a);
    ch.onEvent(() => {
      throw new Error('a broken listener');
    });
    const log = new JobEventLog('j');
    a.deliver(log.appendStatus('accepted'));
    a.deliver(log.appendFailed({ code: 'training_failed', message: 'x' }));
    const end = await ch.done;
    assert.equal(end.type, 'job_failed');
    assert.equal(ch.lastSeq, 2);
  });

  test('command resolves with its ack; times out; fails when the link dies', async () => {
    const ch = new JobChannel('j', { log: silentLogger, commandTimeoutMs: 50 });
    const link = new FakeLink();
    ch.attach(link);
    const p = ch.command('pause');
    const sent = link.sent.at(-1) as { command_id: string };
    link.deliver({ type: 'command_ack', job_id: 'j', command_id: sent.command_id, ok: true });
    assert.equal((await p).ok, true);
    await assert.rejects(ch.command('resume'), /no acknowledgement of resume/);
    const dying = ch.command('stop', { timeoutMs: 5000 });
    link.kill();
    await assert.rejects(dying, /link closed \(dead\)/);
    await assert.rejects(ch.command('stop'), /no link attached/);
  });

  test('done resolves with the final event', async () => {
    const ch = new JobChannel('j', { log: silentLogger });
    const link = new FakeLink();
    ch.attach(link);
    const log = new JobEventLog('j');
    log.appendStatus('accepted');
    log.appendFailed({ code: 'dataset_checksum_mismatch', message: 'x' });
    for (const e of log.after(0)) link.deliver(e);
    const end = await ch.done;
    assert.equal(end.type, 'job_failed');
  });
});

describe('worker helpers', () => {
  test('nvidia-smi output, signaling URL, model type', () => {
    assert.deepEqual(parseNvidiaSmi('NVIDIA GeForce RTX 3090, 24576\n'), { gpu_model: 'NVIDIA GeForce RTX 3090', gpu_memory_mb: 24576 });
    assert.deepEqual(parseNvidiaSmi(''), { gpu_model: null, gpu_memory_mb: null });
    assert.equal(signalingUrlOf('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/ws');
    assert.equal(signalingUrlOf('https://h.example/'), 'wss://h.example/ws');
    assert.equal(signalingUrlOf('ws://h:1/ws'), 'ws://h:1/ws');
    assert.equal(modelType('builtin', {}), 'builtin');
    assert.equal(modelType('sleap-nn', { head_configs: { single_instance: null, centroid: { sigma: 2 } } }), 'centroid');
  });
});

test('the peer id is kept in the data folder across restarts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-peerid-'));
  try {
    const first = await loadPeerId(join(dir, 'worker'));
    assert.match(first, /^worker-[A-Za-z0-9.-]+-[0-9a-f]{6}$/);
    assert.equal(await loadPeerId(join(dir, 'worker')), first);
    assert.equal(await loadPeerId(join(dir, 'worker'), 'explicit-id'), 'explicit-id');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('worker config: secrets by environment or a stack secrets file, each one required', async () => {
  const { loadConfig } = await import('../../src/core/config.js');
  const { resolveSecrets, workerConfigSchema } = await import('../../src/worker/config.js');
  const { writeFile } = await import('node:fs/promises');
  const env = { SLEAP_RTC_ROOM_TOKEN: 't'.repeat(20), SLEAP_RTC_S3_ACCESS_KEY: 'ak', SLEAP_RTC_S3_SECRET_KEY: 'sk' };
  const cfg = loadConfig(workerConfigSchema, { flags: { server: 'http://127.0.0.1:1', room: 'lab', maxJobs: '2' }, env });
  assert.equal(cfg.maxJobs, 2);
  assert.equal(cfg.trainer, 'builtin');
  assert.equal(cfg.loopbackOnly, true);
  assert.deepEqual(resolveSecrets(cfg), { room: 'lab', roomToken: 't'.repeat(20), s3AccessKey: 'ak', s3SecretKey: 'sk' });
  assert.throws(() => resolveSecrets(loadConfig(workerConfigSchema, { flags: { server: 'http://h:1', room: 'lab' }, env: {} })), /room token \(SLEAP_RTC_ROOM_TOKEN or --stack-secrets\) is required/);
  const dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-wcfg-'));
  try {
    const file = join(dir, 'stack-secrets.json');
    await writeFile(file, JSON.stringify({ access_key: 'a', secret_key: 's', room_id: 'home', room_token: 'r'.repeat(24) }));
    const fromFile = resolveSecrets(loadConfig(workerConfigSchema, { flags: { server: 'http://h:1', stackSecrets: file }, env: {} }));
    assert.deepEqual(fromFile, { room: 'home', roomToken: 'r'.repeat(24), s3AccessKey: 'a', s3SecretKey: 's' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a job cancelled before it started ends at once as cancelled, touching nothing', async () => {
  const { JobRunner } = await import('../../src/worker/JobRunner.js');
  const { BuiltinTrainer } = await import('../../src/worker/trainers/index.js');
  const notified: unknown[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-runner-'));
  try {
    const job = new JobRunner(
      { app_message_type: 'job_request', job_id: 'early', room_id: 'lab', config: { trainer: 'builtin', data_config: {}, model_config: {}, trainer_config: {} }, dataset: { type: 's3', path: 's3://b/rooms/lab/d.slp', size_bytes: 1, checksum: `sha256:${'a'.repeat(64)}` } },
      'client-1',
      // No S3 client: nothing may be downloaded or uploaded.
      { s3: undefined as never, bucket: 'b', room: 'lab', workerId: 'w', cacheDir: join(dir, 'cache'), jobsDir: join(dir, 'jobs'), trainer: new BuiltinTrainer(), log: silentLogger, notify: (p) => notified.push(p) },
    );
    await job.cancel('test');
    assert.deepEqual(job.events.after(0).map((e) => (e.type === 'status' ? e.status : e.type)), ['accepted', 'cancelled', 'job_failed']);
    assert.deepEqual(notified, [{ app_message_type: 'job_failed', job_id: 'early', error: { code: 'cancelled', message: 'job early was cancelled; no model was kept' } }]);
    await assert.rejects(job.command('pause'), /has already ended/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('trainer processes do not inherit the worker\'s secrets', async () => {
  const { trainerEnvironment } = await import('../../src/worker/config.js');
  const env = trainerEnvironment({ PATH: '/usr/bin', HOME: '/home/w', SLEAP_RTC_ROOM_TOKEN: 't', SLEAP_RTC_S3_SECRET_KEY: 's' });
  assert.deepEqual(env, { PATH: '/usr/bin', HOME: '/home/w' });
});
