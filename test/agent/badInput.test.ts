import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../support/proc.js';
import { writeNonSleapHdf5, writeSyntheticSlp } from '../support/slpFixtures.js';
import { startEmbeddedStore } from '../support/store.js';
import { keysViaBoto3, runCli, startAgentProcess, startAgentTestEnv, writeBigZip, type AgentProcess, type AgentTestEnv } from './support/env.js';
import { waitFor } from '../support/wait.js';
import type { LedgerUpload } from '../../src/agent/Ledger.js';
import type { UploadSession } from '../../src/core/transfer/PartTransport.js';
import type { UploadView } from '../../src/core/schemas/agent.js';

// Bad input is a clear error in the API and in `sleap-rtc upload`
// (what was wrong, what to do), and nothing is left in the ledger or the store. The S3 target
// does not matter here (nothing reaches it), so the embedded store only.
//
// "A path the agent may not read": the tests run as root, whom chmod does not stop. The agent
// and the CLI are run as `nobody` (uid 65534) instead, so the kernel refuses the reads for real;
// that is the case researchers hit (a file of another user, a share mounted without access).
// A named pipe called `.slp` is refused before anything opens it (opening a FIFO would block).

const NOBODY = 65534;

/** Upload records and their state, straight from the ledger file. */
async function ledgerUploads(data: string): Promise<Record<string, LedgerUpload>> {
  const text = await readFile(join(data, 'agent', 'ledger.json'), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '{"uploads":{}}'; // nothing written yet
    throw e;
  });
  return JSON.parse(text).uploads;
}

describe('bad input: clear errors in the API and the CLI, nothing in the ledger or the store', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let data: string;
  let cases: { what: string; path: string; status: number; code: string; message: RegExp }[];

  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    data = join(env.dir, 'data');
    agent = await startAgentProcess({ ...env.env, SLEAP_RTC_ROOM: 'lab' }, data);
    const d = (name: string) => join(env.dir, name);
    await mkdir(d('no-dataset'));
    await writeFile(join(d('no-dataset'), 'notes.txt'), 'field notes\n');
    await writeFile(d('text.slp'), 'this is not HDF5, only named .slp\n');
    await writeNonSleapHdf5(d('other.slp'));
    await writeSyntheticSlp(d('whole.slp'), { frames: 4, instancesPerFrame: 1, nodes: 3 });
    await copyFile(d('whole.slp'), d('cut.slp'));
    await truncate(d('cut.slp'), 3000);
    execFileSync('mkfifo', [d('pipe.slp')]);
    cases = [
      { what: 'a missing path', path: d('missing.slp'), status: 404, code: 'not_found', message: /missing\.slp does not exist; check the path/ },
      { what: 'a folder without a dataset', path: d('no-dataset'), status: 400, code: 'bad_request', message: /the folder .*no-dataset holds no dataset: put \.slp \/ \.pkg\.slp labels files .* in it, or give the path of one file/ },
      { what: 'a .slp that is not HDF5', path: d('text.slp'), status: 400, code: 'bad_request', message: /text\.slp is not an HDF5 file .*not a SLEAP \.slp \/ \.pkg\.slp file; give a labels file saved by SLEAP/ },
      { what: 'an HDF5 .slp that is not SLEAP', path: d('other.slp'), status: 400, code: 'bad_request', message: /other\.slp is an HDF5 file but not a SLEAP labels file: it lacks frames, instances, points, videos_json, metadata .*; give a labels file saved by SLEAP/ },
      { what: 'a truncated .slp', path: d('cut.slp'), status: 400, code: 'bad_request', message: /cut\.slp is truncated: it has 3000 bytes but its HDF5 header says \d+.*; copy it again in full/ },
      { what: 'a named pipe called .slp', path: d('pipe.slp'), status: 400, code: 'bad_request', message: /pipe\.slp is a named pipe \(FIFO\), not a regular file or a folder; give the path of a \.slp, \.pkg\.slp or \.zip file/ },
    ];
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('POST /api/uploads refuses each at once, with its code and a message saying what to do', async () => {
    const keysBefore = await keysViaBoto3(env.target, env.server.bucket);
    const recordsBefore = Object.keys(await ledgerUploads(data));
    for (const c of cases) {
      const r = await agent.api('/api/uploads', { body: { path: c.path } });
      assert.equal(r.status, c.status, `${c.what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, c.code, c.what);
      assert.match(r.body.error.message, c.message, c.what);
    }
    assert.deepEqual(Object.keys(await ledgerUploads(data)), recordsBefore, 'no upload recorded');
    assert.deepEqual((await agent.api('/api/uploads')).body.uploads.map((u: UploadView) => u.id), recordsBefore);
    assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), keysBefore, 'nothing reached the store');
  });

  test('sleap-rtc upload refuses each with a non-zero exit, the message on stderr, nothing on stdout', { timeout: 90_000 }, async () => {
    const keysBefore = await keysViaBoto3(env.target, env.server.bucket);
    const cliData = join(env.dir, 'cli-data');
    for (const c of cases) {
      const r = await runCli(['upload', c.path, '--data', cliData, '--json'], env.env);
      // The CLI's exit codes: 2 for input it refuses (bad_request), 1 for other failures.
      assert.equal(r.code, c.code === 'bad_request' ? 2 : 1, `${c.what}: ${r.stderr}`);
      assert.match(r.stderr, c.message, c.what);
      assert.equal(r.stdout, '', c.what);
    }
    // The CLI validates before it takes the data folder: no ledger was even made.
    await assert.rejects(readFile(join(cliData, 'agent', 'ledger.json')), { code: 'ENOENT' });
    assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), keysBefore);
  });

  for (const change of ['deleted', 'truncated'] as const) {
    test(`API: a file ${change} mid-upload fails clearly; the multipart upload is aborted, the ledger stays valid`, { timeout: 60_000 }, async () => {
      const file = join(env.dir, `api-${change}.zip`);
      await writeBigZip(file, 48 * 1024 * 1024);
      const keysBefore = await keysViaBoto3(env.target, env.server.bucket);
      env.proxy.resetStats();
      env.proxy.setRate(6 * 1024 * 1024);
      let session: UploadSession | undefined;
      let id: string;
      try {
        const created = await agent.api('/api/uploads', { body: { path: file } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        id = created.body.id;
        await waitFor(async () => (env.proxy.requestBytes('PUT') >= 4 * 1024 * 1024 ? true : undefined), 'first parts');
        session = (await ledgerUploads(data))[id].files[0].session;
        assert.ok(session?.uploadId, 'the multipart upload was recorded before parts were sent');
        if (change === 'truncated') await truncate(file, 10 * 1024 * 1024);
        else await unlink(file);
      } finally {
        env.proxy.setRate(undefined);
      }
      const failed = await waitFor(() => agent.api(`/api/uploads/${id}`).then((r) => (r.body.state === 'failed' ? r.body : undefined)), 'state failed');
      assert.equal(failed.error.code, 'source_changed');
      assert.match(
        failed.error.message,
        change === 'deleted'
          ? /api-deleted\.zip was deleted or became unreadable during its upload .*; the partial upload was discarded: put the file back .* and upload it again/
          : /api-truncated\.zip changed during its upload \(.+\); the partial upload was discarded: upload it again once the file is complete/,
      );
      // The API shows the state as soon as it is set; the ledger file follows when its write lands.
      const rec = await waitFor(() => ledgerUploads(data).then((u) => (u[id]?.state === 'failed' ? u[id] : undefined)), 'the ledger records the failure');
      assert.equal(rec.files[0].session, undefined, 'the ledger forgot the aborted multipart upload');
      assert.deepEqual(rec.files[0].parts, {});
      const status = await env.server.api(`/api/upload-status?key=${encodeURIComponent(session.key)}&upload_id=${encodeURIComponent(session.uploadId)}`);
      assert.equal(status.status, 404, 'S3 no longer holds the multipart upload (its parts are freed)');
      assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), keysBefore, 'no object was made');
      assert.equal((await agent.api(`/api/uploads/${id}`, { method: 'DELETE' })).status, 204);
    });
  }
});

describe('a path the agent may not read (agent and CLI run as nobody: root ignores permissions)', () => {
  let env: AgentTestEnv;
  let agent: AgentProcess;
  let home: string;
  let secret: string;
  let locked: string;

  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    await chmod(env.dir, 0o755);
    home = join(env.dir, 'nobody-home');
    await mkdir(home);
    await chmod(home, 0o777);
    secret = join(env.dir, 'secret.slp');
    await writeSyntheticSlp(secret, { frames: 2, instancesPerFrame: 1, nodes: 2 });
    await chmod(secret, 0o600); // root's, not readable by nobody
    locked = join(env.dir, 'locked-project');
    await mkdir(join(locked, 'private'), { recursive: true });
    await writeSyntheticSlp(join(locked, 'labels.slp'), { frames: 2, instancesPerFrame: 1, nodes: 2 });
    await chmod(join(locked, 'private'), 0o700);
    agent = await startAgentAs(NOBODY, { ...env.env, SLEAP_RTC_ROOM: 'lab', HOME: home }, join(home, 'data'));
  });
  after(async () => {
    await agent?.proc.stop();
    await env?.stop();
    await env?.target.stop();
  });

  test('the agent runs as nobody (so the refusals below are the kernel\'s)', async () => {
    const status = await readFile(`/proc/${agent.proc.child.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  });

  test('API: an unreadable file and a folder with an unlistable subfolder are 403 with what to do', async () => {
    const file = await agent.api('/api/uploads', { body: { path: secret } });
    assert.equal(file.status, 403, JSON.stringify(file.body));
    assert.equal(file.body.error.code, 'forbidden');
    assert.match(file.body.error.message, /secret\.slp cannot be read by this user \(EACCES\); fix its permissions \(chmod u\+r\) or run as its owner/);
    const folder = await agent.api('/api/uploads', { body: { path: locked } });
    assert.equal(folder.status, 403, JSON.stringify(folder.body));
    assert.match(folder.body.error.message, /the folder .*locked-project\/private cannot be listed \(EACCES\); fix its permissions/);
    assert.deepEqual((await agent.api('/api/uploads')).body.uploads, []);
    assert.deepEqual(await ledgerUploads(join(home, 'data')), {});
    assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), []);
  });

  test('CLI: the same folder is refused with exit 1 (the unreadable file: cli.test.ts)', { timeout: 30_000 }, async () => {
    const r = await runCli(['upload', locked, '--data', join(home, 'cli-data')], { ...env.env, HOME: home }, { uid: NOBODY, gid: NOBODY });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /the folder .*locked-project\/private cannot be listed \(EACCES\); fix its permissions/);
    assert.deepEqual(await keysViaBoto3(env.target, env.server.bucket), []);
  });
});

/** `sleap-rtc agent` as another user (uid/gid), like startAgentProcess. */
async function startAgentAs(uid: number, env: NodeJS.ProcessEnv, data: string): Promise<AgentProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'agent', '--port', '0', '--data', data], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], uid, gid: uid });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the agent (uid ${uid}) did not start in 30 s:\n${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /agent listening on (http:\/\/\S+) \(token in (\S+)\)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the agent (uid ${uid}) exited with ${code}:\n${stderr}`));
    });
  });
  const url = line[1];
  const token = (await readFile(line[2], 'utf8')).trim();
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill(signal);
    });
  return {
    url,
    port: Number(new URL(url).port),
    token,
    proc: { child, line, stderrTail: () => stderr, stop },
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers, authorization: `Bearer ${token}` };
      const body = init.body === undefined ? undefined : JSON.stringify(init.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}
