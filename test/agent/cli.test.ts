import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../support/proc.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { startEmbeddedStore } from '../support/store.js';
import { waitFor } from '../support/wait.js';
import type { LedgerUpload } from '../../src/agent/Ledger.js';
import type { UploadSession } from '../../src/core/transfer/PartTransport.js';
import { keysViaBoto3, runCli, sha256ViaBoto3, startAgentTestEnv, writeBigZip, type AgentTestEnv, type CliRun } from './support/env.js';

describe('sleap-rtc upload (CLI, embedded store)', () => {
  let env: AgentTestEnv;
  let data: string;
  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    data = join(env.dir, 'data');
  });
  after(async () => {
    await env?.stop();
    await env?.target.stop();
  });

  const upload = (path: string, extra: string[] = [], opts: { uid?: number; gid?: number } = {}): Promise<CliRun> => runCli(['upload', path, '--data', data, ...extra], env.env, opts);

  test('--json prints exactly one object; progress lines go to stderr; the object matches (boto3)', { timeout: 60_000 }, async () => {
    const slp = join(env.dir, 'labels.slp');
    await writeSyntheticSlp(slp, { frames: 8, instancesPerFrame: 2, nodes: 4 });
    const r = await upload(slp, ['--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(out).sort(), ['bucket', 'key', 'sha256', 'size', 'upload_id']);
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(await readFile(slp)).digest('hex');
    assert.equal(out.sha256, sha);
    assert.equal(await sha256ViaBoto3(env.target, out.bucket, out.key), sha);
    assert.match(r.stderr, /labels\.slp: +100\.0% .* ETA /, 'a plain progress line (stderr is not a TTY)');
  });

  test('a folder is uploaded as one object per file under one prefix, manifest last', { timeout: 60_000 }, async () => {
    const folder = join(env.dir, 'project');
    await mkdir(join(folder, 'sub'), { recursive: true });
    await writeSyntheticSlp(join(folder, 'a.slp'), { frames: 4, instancesPerFrame: 1, nodes: 2 });
    await writeFile(join(folder, 'sub', 'notes.txt'), 'session notes\n');
    const r = await upload(folder, ['--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.match(out.key, /\/sleap-rtc-manifest\.json$/);
    const prefix = out.key.slice(0, out.key.length - 'sleap-rtc-manifest.json'.length);
    const keys = (await keysViaBoto3(env.target, env.server.bucket)).filter((k) => k.startsWith(prefix)).sort();
    assert.deepEqual(keys, [`${prefix}a.slp`, `${prefix}sleap-rtc-manifest.json`, `${prefix}sub/notes.txt`]);
    const local = await readFile(join(data, 'agent', 'manifests', `${out.upload_id}.json`));
    assert.equal(await sha256ViaBoto3(env.target, out.bucket, out.key), createHash('sha256').update(local).digest('hex'), 'the uploaded manifest is the one written');
    const manifest = JSON.parse(local.toString());
    assert.deepEqual(
      manifest.files.map((f: { relative_path: string; key: string; sha256: string }) => [f.relative_path, f.key, f.sha256]),
      [
        ['a.slp', `${prefix}a.slp`, createHash('sha256').update(await readFile(join(folder, 'a.slp'))).digest('hex')],
        ['sub/notes.txt', `${prefix}sub/notes.txt`, createHash('sha256').update('session notes\n').digest('hex')],
      ],
    );
  });

  test('clear errors: missing path, folder without dataset, .slp that is not HDF5, .zip without PK, no token', { timeout: 60_000 }, async () => {
    const keysBefore = await keysViaBoto3(env.target, env.server.bucket);
    const empty = join(env.dir, 'nodata');
    await mkdir(empty);
    await writeFile(join(empty, 'readme.md'), 'nothing');
    const fake = join(env.dir, 'fake.slp');
    await writeFile(fake, 'not hdf5');
    const fakeZip = join(env.dir, 'fake.zip');
    await writeFile(fakeZip, 'not a zip');
    const cases: [string, RegExp][] = [
      [join(env.dir, 'missing.slp'), /missing\.slp does not exist; check the path/],
      [empty, /holds no dataset: put \.slp/],
      [fake, /is not an HDF5 file .* not a SLEAP \.slp/],
      [fakeZip, /is not a zip archive/],
    ];
    for (const [path, msg] of cases) {
      const r = await upload(path);
      assert.notEqual(r.code, 0, path);
      assert.match(r.stderr, msg);
      assert.equal(r.stdout, '');
    }
    const good = join(env.dir, 'good.slp');
    await writeSyntheticSlp(good, { frames: 2, instancesPerFrame: 1, nodes: 2 });
    const noToken = await runCli(['upload', good, '--data', data], { ...env.env, SLEAP_RTC_ROOM_TOKEN: undefined });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no room token: set SLEAP_RTC_ROOM_TOKEN/);
    assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), keysBefore);
  });

  test('a file this user may not read (chmod 000, run as nobody) is refused', { timeout: 60_000 }, async () => {
    const dir = join(env.dir, 'nobody');
    await mkdir(dir);
    await chmod(dir, 0o777);
    const slp = join(dir, 'secret.slp');
    await writeSyntheticSlp(slp, { frames: 2, instancesPerFrame: 1, nodes: 2 });
    await chmod(slp, 0o000);
    await chmod(env.dir, 0o755);
    const r = await runCli(['upload', slp, '--data', join(dir, 'data')], { ...env.env, HOME: dir }, { uid: 65534, gid: 65534 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /secret\.slp cannot be read by this user \(EACCES\); fix its permissions/);
  });

  test('another upload holding the data folder: exit 2 and a clear message', { timeout: 60_000 }, async () => {
    const slp = join(env.dir, 'labels.slp');
    const sleeper = spawn('sleep', ['30']);
    const lockData = join(env.dir, 'locked');
    await mkdir(join(lockData, 'agent'), { recursive: true });
    await writeFile(join(lockData, 'agent', 'agent.lock'), `${sleeper.pid}\n`);
    try {
      const r = await runCli(['upload', slp, '--data', lockData], env.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /another sleap-rtc agent or upload \(pid \d+\) is using this data folder/);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  for (const change of ['truncated', 'deleted'] as const) {
    test(`a file ${change} mid-upload fails clearly; no stray object, the ledger stays valid`, { timeout: 60_000 }, async () => {
      const file = join(env.dir, `${change}.zip`);
      await writeBigZip(file, 48 * 1024 * 1024);
      const keysBefore = await keysViaBoto3(env.target, env.server.bucket);
      env.proxy.resetStats();
      env.proxy.setRate(6 * 1024 * 1024);
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'upload', file, '--data', data, '--concurrency', '2'], { cwd: repoRoot, env: { ...process.env, ...env.env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        const code = new Promise<number | null>((r) => child.once('exit', r));
        const started = (): boolean => {
          if (child.exitCode !== null) throw new Error(`the upload exited with ${child.exitCode} before 4 MiB went through the proxy: ${stderr}`);
          return env.proxy.requestBytes('PUT') >= 4 * 1024 * 1024;
        };
        await waitFor(started, 'the first 4 MiB through the proxy', 30_000, { intervalMs: 20 });
        if (change === 'truncated') await truncate(file, 10 * 1024 * 1024);
        else await unlink(file);
        env.proxy.setRate(undefined);
        assert.equal(await code, 1, stderr);
        assert.match(stderr, change === 'truncated' ? /upload of .*truncated\.zip failed: .*(changed|shorter|truncated)/ : /upload of .*deleted\.zip failed: .*deleted\.zip was deleted or became unreadable during its upload .*; the partial upload was discarded/);
      } finally {
        env.proxy.setRate(undefined);
      }
      assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), keysBefore);
      const ledger = JSON.parse(await readFile(join(data, 'agent', 'ledger.json'), 'utf8'));
      const rec = Object.values(ledger.uploads as Record<string, LedgerUpload>).find((u) => u.path === file);
      assert.ok(rec, 'the upload is in the ledger');
      assert.equal(rec.state, 'failed');
      assert.equal(rec.files[0].session, undefined, 'the multipart upload was aborted and forgotten');
    });
  }

  /** Starts an upload through a slow proxy and kills it (-9) once some parts are in; returns its ledger record. */
  async function killMidway(file: string, dataDir: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<LedgerUpload> {
    env.proxy.resetStats();
    env.proxy.setRate(12 * 1024 * 1024);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'upload', file, '--data', dataDir, '--concurrency', '2'], { cwd: repoRoot, env: { ...process.env, ...env.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // Kill once the ledger holds a part (its writes are coalesced, so wait for the file itself).
      const ledgerFile = join(dataDir, 'agent', 'ledger.json');
      const recorded = async (): Promise<boolean> => {
        if (child.exitCode !== null) throw new Error(`the upload exited with ${child.exitCode} before a part was recorded: ${stderr}`);
        const rec = await readFile(ledgerFile, 'utf8').then((t) => Object.values(JSON.parse(t).uploads as Record<string, LedgerUpload>).find((u) => u.path === file), () => undefined);
        return rec !== undefined && Object.keys(rec.files[0].parts).length > 0;
      };
      await waitFor(recorded, 'a part recorded in the ledger file', 30_000, { intervalMs: 50 });
      child.kill(signal);
      const code = await exited;
      if (signal === 'SIGINT') {
        assert.equal(code, 130, stderr);
        assert.match(stderr, /interrupted: stopping; run the same command again to resume/);
      }
    } finally {
      env.proxy.setRate(undefined);
    }
    const ledger = JSON.parse(await readFile(join(dataDir, 'agent', 'ledger.json'), 'utf8'));
    const rec = Object.values(ledger.uploads as Record<string, LedgerUpload>).find((u) => u.path === file);
    assert.ok(rec, 'the upload is in the ledger');
    assert.ok(Object.keys(rec.files[0].parts).length > 0, 'some parts were recorded before the kill');
    return rec;
  }

  const uploadGone = async (session: UploadSession | undefined): Promise<boolean> => {
    assert.ok(session, 'the ledger record names its multipart upload');
    return (await env.server.api(`/api/upload-status?key=${encodeURIComponent(session.key)}&upload_id=${encodeURIComponent(session.uploadId)}`)).status === 404;
  };

  test('a source changed between a kill and the rerun is uploaded again from the start, with a warning', { timeout: 90_000 }, async () => {
    const file = join(env.dir, 'changing.zip');
    await writeBigZip(file, 48 * 1024 * 1024);
    const dataDir = join(env.dir, 'changing-data');
    const rec = await killMidway(file, dataDir);
    const fh = await (await import('node:fs/promises')).open(file, 'r+');
    await fh.write(Buffer.from('edited!'), 0, 7, 40 * 1024 * 1024);
    await fh.close();
    const r = await runCli(['upload', file, '--data', dataDir, '--json'], env.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: changing\.zip changed since its upload started; it was uploaded again from the start/);
    const out = JSON.parse(r.stdout);
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(await readFile(file)).digest('hex');
    assert.equal(await sha256ViaBoto3(env.target, out.bucket, out.key), sha);
    assert.ok(await uploadGone(rec.files[0].session), 'the old multipart upload was aborted');
  });

  test('an interrupted upload the server no longer has (aborted) starts clean, with a warning', { timeout: 90_000 }, async (t) => {
    const file = join(env.dir, 'orphan.zip');
    await writeBigZip(file, 48 * 1024 * 1024);
    const dataDir = join(env.dir, 'orphan-data');
    const rec = await killMidway(file, dataDir);
    const s = rec.files[0].session;
    assert.ok(s, 'the ledger record names its multipart upload');
    // Parts the killed process left in the proxy's buffers may still be landing while we abort; an
    // abort that fails can still have removed the upload, so the goal is upload-status 404.
    const statuses: number[] = [];
    const abortedAndGone = async (): Promise<boolean> => {
      if (await uploadGone(s)) return true;
      statuses.push((await env.server.api('/api/abort-upload', { body: { key: s.key, upload_id: s.uploadId } })).status);
      return false;
    };
    await waitFor(abortedAndGone, 'the aborted upload to be gone (upload-status 404)', 10_000, { intervalMs: 250, lastSeen: () => `abort-upload answered ${statuses.join(', ')}` });
    t.diagnostic(`abort-upload answered ${statuses.join(', ')}`);
    const r = await runCli(['upload', file, '--data', dataDir, '--json'], env.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the interrupted upload of orphan\.zip no longer exists on the server/);
    const out = JSON.parse(r.stdout);
    const { createHash } = await import('node:crypto');
    assert.equal(await sha256ViaBoto3(env.target, out.bucket, out.key), createHash('sha256').update(await readFile(file)).digest('hex'));
  });

  test('Ctrl-C (SIGINT) stops with exit 130; the same command resumes and sends only the rest', { timeout: 90_000 }, async () => {
    const file = join(env.dir, 'ctrlc.zip');
    await writeBigZip(file, 48 * 1024 * 1024);
    const dataDir = join(env.dir, 'ctrlc-data');
    const rec = await killMidway(file, dataDir, 'SIGINT');
    const recorded = Object.keys(rec.files[0].parts).map(Number);
    const first = env.proxy.requests.length;
    const r = await runCli(['upload', file, '--data', dataDir, '--json'], env.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming upload \S+ of \S+ \(48\.0 MiB\): asking the server what it already has/);
    const told = /resuming: (\d+) of (\d+) parts, [\d.]+ (KiB|MiB), already on the server/.exec(r.stderr);
    assert.ok(told, `the resume says what the server already had: ${r.stderr}`);
    assert.ok(Number(told[1]) >= recorded.length && Number(told[1]) > 0 && Number(told[1]) < Number(told[2]), `parts kept (${told[1]} of ${told[2]}) include the ${recorded.length} recorded`);
    const sentAgain = env.proxy.requests.slice(first).filter((q) => q.method === 'PUT' && q.partNumber !== undefined && recorded.includes(q.partNumber));
    assert.deepEqual(sentAgain.map((q) => q.partNumber), [], 'parts recorded at Ctrl-C were not sent again');
    const { createHash } = await import('node:crypto');
    const out = JSON.parse(r.stdout);
    assert.equal(await sha256ViaBoto3(env.target, out.bucket, out.key), createHash('sha256').update(await readFile(file)).digest('hex'));
  });
});
