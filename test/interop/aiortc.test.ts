import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readManifest } from '../../src/core/manifest/index.js';
import { dataChannelMessage, type DataChannelMessage } from '../../src/core/schemas/datachannel.js';
import { jobPeerPayload } from '../../src/core/schemas/jobs.js';
import { signalingUrlOf } from '../../src/worker/config.js';
import { repoRoot } from '../support/proc.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { startWorkerEnv, uploadDataset, type WorkerEnv } from '../worker/setup.js';

/**
 * The protocol is not werift-specific. An independent peer written with
 * aiortc (Debian python3-aiortc, run by /usr/bin/python3 with Debian's python3-websockets) joins
 * through signaling, gets a job accepted, offers WebRTC with every candidate inside its SDP (aiortc
 * does not trickle) and follows the job's events over its DataChannel, pausing and resuming it.
 */
const PYTHON = '/usr/bin/python3';
const CLIENT = join(repoRoot, 'test/interop/aiortc_client.py');
/** ~30 epochs of 3000 batches: a few seconds, long enough to pause and resume in. */
const config = { trainer: 'builtin', trainer_config: { max_epochs: 30, min_train_steps_per_epoch: 3000 } };

interface ClientRun {
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  ms: number;
}

function runClient(env: WorkerEnv, request: Record<string, unknown>, timeoutMs = 90_000): Promise<ClientRun> {
  const t0 = performance.now();
  const child = spawn(PYTHON, [CLIENT], {
    cwd: repoRoot,
    // The token goes by environment, never on the command line.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SLEAP_RTC_SIGNALING_URL: signalingUrlOf(env.server.url),
      SLEAP_RTC_ROOM_TOKEN: env.server.rooms.lab,
      SLEAP_RTC_ROOM: 'lab',
      SLEAP_RTC_JOB_REQUEST: JSON.stringify(request),
      AIORTC_TIMEOUT: String(Math.round(timeoutMs / 1000) - 5),
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the aiortc client did not exit within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', (e) => (clearTimeout(timer), reject(e)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, lines, stderr, ms: performance.now() - t0 });
    });
  });
}

describe('interop: an aiortc client peer (Python) with the real worker', () => {
  let env: WorkerEnv;
  let tmp: string;
  let dataset: Awaited<ReturnType<typeof uploadDataset>>;

  before(async () => {
    env = await startWorkerEnv();
    tmp = await mkdtemp(join(tmpdir(), 'sleap-rtc-aiortc-'));
    const slp = await writeSyntheticSlp(join(tmp, 'syn.pkg.slp'), { frames: 20, instancesPerFrame: 1, nodes: 3, embedded: true });
    dataset = await uploadDataset(env, slp.path);
  });
  after(async () => {
    await env?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('joins through signaling, follows a job over its DataChannel, pauses and resumes it', async () => {
    const jobId = 'job-aiortc';
    const run = await runClient(env, { app_message_type: 'job_request', job_id: jobId, room_id: 'lab', dataset, config });
    const why = `exit ${run.code}; client stderr:\n${run.stderr}\nworker stderr:\n${env.worker.stderrTail()}`;
    assert.equal(run.code, 0, why);

    // Signaling: the worker accepted the job, and announced its end there too.
    const peer = run.lines.filter((l) => 'app_message_type' in l);
    for (const p of peer) assert.ok(jobPeerPayload.safeParse(p).success, `a valid job peer message: ${JSON.stringify(p)}`);
    const response = peer.find((p) => p.app_message_type === 'job_response');
    assert.deepEqual([response?.job_id, response?.accepted], [jobId, true], JSON.stringify(response));

    // DataChannel: every frame valid for the zod schema; job events numbered 1, 2, 3, ...
    const received = run.lines.filter((l) => 'type' in l);
    const frames: DataChannelMessage[] = received.map((l) => {
      const r = dataChannelMessage.safeParse(l);
      assert.ok(r.success, `a valid DataChannel message: ${JSON.stringify(l)}: ${r.success ? '' : r.error.message}`);
      return r.data;
    });
    const events = frames.filter((f) => f.type === 'status' || f.type === 'progress' || f.type === 'job_complete' || f.type === 'job_failed');
    for (const e of events) assert.equal((e as { job_id: string }).job_id, jobId);
    const seqs = events.map((e) => (e as { seq: number }).seq);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `seq strictly increasing: ${seqs.join(',')}`);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'hello{after_seq:0} replays from seq 1 with no gap');
    const progress = frames.filter((f) => f.type === 'progress');
    const kinds = new Set(progress.map((p) => p.type === 'progress' && p.data.event));
    for (const k of ['train_begin', 'epoch_begin', 'batch_end', 'epoch_end', 'train_end']) assert.ok(kinds.has(k as never), `a ${k} progress event arrived over aiortc`);
    const statuses = frames.flatMap((f) => (f.type === 'status' ? [f.status] : []));
    assert.deepEqual(statuses, ['accepted', 'downloading', 'training', 'paused', 'training', 'uploading', 'completed']);

    // Commands: pause and resume were sent and acknowledged ok; nothing progressed while paused.
    const sent = run.lines.flatMap((l) => ('sent' in l ? [l.sent as { command: string; command_id: string }] : []));
    assert.deepEqual(sent.map((s) => s.command), ['pause', 'resume']);
    for (const s of sent) {
      const ack = frames.find((f) => f.type === 'command_ack' && f.command_id === s.command_id);
      assert.ok(ack && ack.type === 'command_ack' && ack.ok, `${s.command} acknowledged ok: ${JSON.stringify(ack)}`);
    }
    const pausedAt = run.lines.findIndex((l) => l.type === 'status' && l.status === 'paused');
    const resumeSentAt = run.lines.findIndex((l) => 'sent' in l && (l.sent as { command: string }).command === 'resume');
    assert.ok(pausedAt > 0 && resumeSentAt > pausedAt);
    assert.equal(run.lines.slice(pausedAt, resumeSentAt).filter((l) => l.type === 'progress').length, 0, 'no progress while paused');

    // The end: job_complete with a model id, last of the job's events, also sent through signaling.
    const end = events.at(-1);
    assert.ok(end && end.type === 'job_complete', JSON.stringify(end));
    assert.match(end.model_id, /\S/);
    assert.ok(end.metrics.epochs >= 1, JSON.stringify(end.metrics));
    const viaSignaling = peer.find((p) => p.app_message_type === 'job_complete');
    assert.equal(viaSignaling?.model_id, end.model_id);

    // The model is in the store and the room's manifest.
    const prefix = `rooms/lab/models/${end.model_id}/`;
    assert.equal(end.s3_path, `s3://${env.server.bucket}/${prefix}`);
    const listing = await env.s3.send(new ListObjectsV2Command({ Bucket: env.server.bucket, Prefix: prefix }));
    const names = (listing.Contents ?? []).map((o) => o.Key!.slice(prefix.length));
    assert.ok(names.includes('best.ckpt'), `uploaded: ${names.join(', ')}`);
    const { manifest } = await readManifest(env.s3, env.server.bucket, 'lab');
    assert.equal(manifest.models[end.model_id]?.trained_on_worker, env.workerId);

    // The offer carried its candidates in the SDP (aiortc never sends `candidate` messages).
    assert.match(run.stderr, /offer has [1-9]\d* candidates in the SDP; no trickle/);
    if (process.env.AIORTC_VERBOSE) console.log(run.stderr);
    const open = /DataChannel open after (\d+) ms/.exec(run.stderr)?.[1];
    console.log(`timings: aiortc client run ${run.ms.toFixed(0)} ms (python start, signaling, job, pause ~1.5 s); offer -> channel open ${open} ms; ${events.length} events, ${progress.length} progress`);
  });

  test('a refused job and a failed job end the aiortc client with their reasons', async () => {
    const refused = await runClient(env, { app_message_type: 'job_request', job_id: 'job-aiortc-bad', room_id: 'lab', dataset, config: { trainer_config: { max_epochs: -1 } } });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /job refused: bad_request: config\.trainer_config\.max_epochs/);

    const failed = await runClient(env, { app_message_type: 'job_request', job_id: 'job-aiortc-badsum', room_id: 'lab', dataset: { ...dataset, checksum: `sha256:${'0'.repeat(64)}` }, config });
    assert.equal(failed.code, 4, failed.stderr);
    assert.match(failed.stderr, /job_failed: dataset_checksum_mismatch: /);
    // The failure arrived over the aiortc DataChannel (replayed after hello), valid and last.
    const frames = failed.lines.filter((l) => 'type' in l).map((l) => dataChannelMessage.parse(l));
    const last = frames.filter((f) => f.type !== 'heartbeat' && f.type !== 'command_ack').at(-1);
    assert.equal(last?.type === 'job_failed' && last.error.code, 'dataset_checksum_mismatch');
  });
});
