import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../src/core/s3client.js';
import type { LedgerData } from '../../src/agent/Ledger.js';
import { uploadView } from '../../src/core/schemas/agent.js';
import { repoRoot } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import { MiB, sdkSha256 } from '../transfer/support/env.js';
import { startAgentProcess, writeBigZip } from './support/env.js';

// S3 or the backend unreachable for a while (issue 15, fault suite): `sleap-rtc upload` of a
// 768 MiB file, and mid upload the embedded store (or the server) is killed with SIGKILL and
// started again on the same port and data folder once the upload has said for the wanted time
// that it is waiting. The upload rides through: it exits 0, the object read back with the AWS SDK
// has the file's SHA-256, the ledger holds the upload completed, and stderr showed the waiting
// line. With --outage-limit 5 an outage longer than that fails with the error that names the
// endpoint, the time waited and the setting, and the same command resumes once S3 is back.
//
// The embedded store only: these tests kill the S3 server's process, which Ceph RGW's fixture
// does not offer (a store is a store here: the engine's side is the same against any).

const SIZE = 768 * MiB;
const PART = 8 * MiB;
const tuning = ['--concurrency', '2', '--part-size', String(PART)];

interface UploadRun {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
}

function startUpload(file: string, data: string, env: NodeJS.ProcessEnv, extra: string[] = []): UploadRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'upload', file, '--data', data, '--json', ...tuning, ...extra], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-200_000)));
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  return { child, stderr: () => stderr, stdout: () => stdout };
}

/** The last percentage the (non-TTY) progress line printed. */
function lastPercent(stderr: string): number {
  const all = [...stderr.matchAll(/ (\d+\.\d)% /g)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
}

const tail = (s: string): string => s.split('\n').slice(-12).join('\n');

/** The run's exit code, once it has exited. */
async function ended(run: UploadRun, what: string, timeoutMs: number): Promise<number | null> {
  const r = await waitFor(() => (run.child.exitCode !== null || run.child.signalCode !== null ? { code: run.child.exitCode } : undefined), what, timeoutMs, { lastSeen: () => tail(run.stderr()) });
  return r.code;
}

describe('S3 or the backend unreachable for a while: sleap-rtc upload waits, says so, and goes on', () => {
  let store: EmbeddedStoreTarget;
  let srv: ServerProcess;
  let s3: S3Client;
  let dir: string;
  let file: { path: string; size: number; sha256: string };
  let env: NodeJS.ProcessEnv;
  let runs = 0;

  before(async () => {
    store = await startEmbeddedStore();
    srv = await startServerProcess(store);
    s3 = makeS3Client({ endpoint: store.endpoint, region: store.region, accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey, forcePathStyle: true });
    dir = await mkdtemp(join(tmpdir(), 'outage-'));
    const path = join(dir, 'big.zip');
    await writeBigZip(path, SIZE);
    const h = createHash('sha256');
    for await (const c of createReadStream(path)) h.update(c as Buffer);
    file = { path, size: SIZE, sha256: h.digest('hex') };
    env = { SLEAP_RTC_SERVER: srv.url, SLEAP_RTC_ROOM_TOKEN: srv.rooms.lab, SLEAP_RTC_DATA: undefined, SLEAP_RTC_CONFIG: undefined, SLEAP_RTC_OUTAGE_LIMIT: undefined };
  });
  after(async () => {
    s3?.destroy();
    await srv?.stop();
    await store?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Waits until the upload is under way (some parts sent, far from the end). */
  const underWay = (run: UploadRun): Promise<unknown> =>
    waitFor(
      () => {
        if (run.child.exitCode !== null) throw new Error(`sleap-rtc upload exited (${run.child.exitCode}) before the fault:\n${tail(run.stderr())}`);
        const p = lastPercent(run.stderr());
        if (p >= 90) throw new Error(`the upload was at ${p} % before the fault could be injected`);
        return p >= 3 ? p : undefined;
      },
      'the upload past 3 %',
      180_000,
      { lastSeen: () => tail(run.stderr()) },
    );

  /** Ends the run, and checks the object (SHA-256 read back by the SDK) and the ledger. */
  const completes = async (run: UploadRun, data: string): Promise<void> => {
    const code = await ended(run, 'sleap-rtc upload to exit', 600_000);
    assert.equal(code, 0, run.stderr());
    const out = JSON.parse(run.stdout().trim()) as { upload_id: string; key: string; bucket: string; sha256: string; size: number };
    assert.equal(out.sha256, file.sha256);
    const back = await sdkSha256(s3, out.bucket, out.key);
    assert.equal(back.size, file.size);
    assert.equal(back.sha256, file.sha256, 'SHA-256 of the object read back with the AWS SDK');
    const ledger = JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8')) as LedgerData;
    assert.equal(ledger.uploads[out.upload_id]?.state, 'completed', 'the ledger holds the upload completed');
  };

  const waitingLine = (service: 'S3' | 'the backend', endpoint: string, seconds: string, reason = 'ECONNREFUSED'): RegExp =>
    new RegExp(`waiting for ${service} at ${endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: unreachable for ${seconds} \\(${reason}\\); retrying`);

  for (const outage of [
    { name: '3 s', shown: '3 s' },
    { name: '30 s', shown: '30 s' },
    { name: '5 min', shown: '5 min 0 s' },
  ]) {
    test(`the store killed (SIGKILL) mid upload and back after ${outage.name}: the upload rides through`, { timeout: 900_000 }, async () => {
      const data = join(dir, `data-${++runs}`);
      const run = startUpload(file.path, data, env);
      try {
        await underWay(run);
        await store.kill9();
        const s3Endpoint = new URL(store.endpoint).origin;
        await waitFor(() => waitingLine('S3', s3Endpoint, '0 s').test(run.stderr()) || undefined, 'the waiting line', 60_000, { lastSeen: () => tail(run.stderr()) });
        // The outage lasts until the upload has said it waited that long.
        await waitFor(() => waitingLine('S3', s3Endpoint, outage.shown).test(run.stderr()) || undefined, `"unreachable for ${outage.shown}"`, 420_000, { intervalMs: 100, lastSeen: () => tail(run.stderr()) });
        assert.equal(run.child.exitCode, null, 'still running, waiting');
        await store.restart();
        await completes(run, data);
        assert.match(run.stderr(), /no longer waiting for S3 at /);
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  }

  test('an outage longer than --outage-limit 5: a clear error naming the endpoint, the time waited and the setting; the same command resumes once S3 is back', { timeout: 300_000 }, async () => {
    const data = join(dir, `data-${++runs}`);
    const run = startUpload(file.path, data, env, ['--outage-limit', '5']);
    try {
      await underWay(run);
      await store.kill9();
      const code = await ended(run, 'sleap-rtc upload to give up', 120_000);
      assert.notEqual(code, 0);
      const origin = new URL(store.endpoint).origin;
      assert.match(run.stderr(), waitingLine('S3', origin, '0 s'));
      assert.match(run.stderr(), new RegExp(`S3 at ${origin.replace(/\./g, '\\.')} was unreachable for \\d+ s \\(ECONNREFUSED\\), longer than the outage limit of 5 s \\(--outage-limit <seconds> or SLEAP_RTC_OUTAGE_LIMIT\\)`));
      assert.doesNotMatch(run.stderr(), /failed after \d+ tries/);
      assert.doesNotMatch(run.stderr(), /\n\s+at /, 'no stack trace');
    } finally {
      run.child.kill('SIGKILL');
      await store.restart();
    }
    const again = startUpload(file.path, data, env);
    try {
      await completes(again, data);
      assert.match(again.stderr(), /resuming upload/);
      assert.match(again.stderr(), /resuming: [1-9]\d* of \d+ parts/);
    } finally {
      again.child.kill('SIGKILL');
    }
  });

  test('the backend (server) killed mid upload and back after 5 s: the upload waits for it and goes on', { timeout: 600_000 }, async () => {
    const data = join(dir, `data-${++runs}`);
    const run = startUpload(file.path, data, env);
    try {
      await underWay(run);
      await srv.kill9();
      // Parts go on with the URLs in hand; the next batch of URLs (or the completion) waits.
      const origin = new URL(srv.url).origin;
      await waitFor(() => waitingLine('the backend', origin, '5 s').test(run.stderr()) || undefined, 'waiting for the backend for 5 s', 420_000, { intervalMs: 100, lastSeen: () => tail(run.stderr()) });
      assert.equal(run.child.exitCode, null, 'still running, waiting');
      await srv.restart();
      await completes(run, data);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  test('the agent: GET /api/uploads shows `waiting` {since, service, endpoint, reason} while the store is down, and the upload completes once it is back', { timeout: 600_000 }, async () => {
    const data = join(dir, `data-${++runs}`);
    const agent = await startAgentProcess(env, data, tuning);
    try {
      const created = await agent.api('/api/uploads', { body: { path: file.path } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = uploadView.parse(created.body).id;
      const view = async () => uploadView.parse((await agent.api(`/api/uploads/${id}`)).body);
      await waitFor(async () => {
        const v = await view();
        if (v.state === 'completed' || v.bytes_done > 0.9 * SIZE) throw new Error(`the upload got too far before the fault: ${v.state} ${v.bytes_done}`);
        return v.state === 'uploading' && v.bytes_done > 0.03 * SIZE ? v : undefined;
      }, 'the agent\'s upload past 3 %', 180_000);
      await store.kill9();
      const origin = new URL(store.endpoint).origin;
      const waiting = await waitFor(async () => {
        const v = await view();
        return v.waiting && v.waiting.waited_s >= 3 ? v.waiting : undefined;
      }, 'the upload view waiting for 3 s', 120_000, { lastSeen: () => agent.proc.stderrTail() });
      assert.equal(waiting.service, 'S3');
      assert.equal(waiting.endpoint, origin);
      assert.equal(waiting.reason, 'ECONNREFUSED');
      assert.ok(Date.parse(waiting.since) <= Date.now() - 3000, waiting.since);
      assert.equal((await view()).state, 'uploading', 'still uploading, not failed');
      await store.restart();
      const done = await waitFor(async () => {
        const v = await view();
        if (v.state === 'failed') throw new Error(`failed: ${v.error?.message}`);
        return v.state === 'completed' ? v : undefined;
      }, 'the upload completed', 300_000, { lastSeen: () => agent.proc.stderrTail() });
      assert.equal(done.waiting, undefined);
      assert.equal(done.sha256, file.sha256);
      const back = await sdkSha256(s3, done.bucket!, done.key!);
      assert.equal(back.sha256, file.sha256, 'SHA-256 of the object read back with the AWS SDK');
    } finally {
      await agent.proc.stop();
    }
  });
});
