// Every CLI command reaches the agent of its --data: two real stacks (store, server, worker and
// agent each, all on free ports, so neither agent is on 8765) with their own data folders, and
// `train`, `download` and `upload` against each; none running or a stale connection file gives
// one line that names the data folder; `upload` goes through a running agent (Ctrl-C pauses it
// there) and stands alone without one; `train` says what the agent warns about a labels file
// whose videos are outside it, and refuses it for a trainer that needs the images.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentClient } from '../../src/core/AgentClient.js';
import { agentConnectionFile } from '../../src/core/agentConnection.js';
import type { JobView, UploadView } from '../../src/core/schemas/agent.js';
import { VERSION } from '../../src/core/version.js';
import { repoRoot, spawnCli, type Spawned } from '../support/proc.js';
import { sharedSkipReason, sharedSleapFile, writeSyntheticSlp } from '../support/slpFixtures.js';
import { waitFor } from '../support/wait.js';
import { runCli, writeBigZip, type CliRun } from './support/env.js';

/** No SLEAP_RTC_* of the test runner reaches the commands: each finds its agent from --data alone. */
const clean: NodeJS.ProcessEnv = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('SLEAP_RTC_')).map((k) => [k, undefined]));

interface Stack {
  data: string;
  agentUrl: string;
  proc: Spawned;
  agent: AgentClient;
}

async function startStack(data: string): Promise<Stack> {
  const proc = await spawnCli(['stack', '--data', data, '--store-port', '0', '--server-port', '0', '--agent-port', '0'], {
    waitFor: /agent listening on (http:\/\/\S+) \(token in \S+\)[\s\S]*stack ready/,
    env: clean,
    timeoutMs: 60_000,
  });
  return { data, agentUrl: proc.line[1], proc, agent: AgentClient.fromConnection(data) };
}

const uploadsOf = async (s: Stack): Promise<UploadView[]> => (await s.agent.call<{ uploads: UploadView[] }>('GET', '/api/uploads')).uploads;
const jobsOf = async (s: Stack): Promise<JobView[]> => (await s.agent.call<{ jobs: JobView[] }>('GET', '/api/jobs')).jobs;
const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');
const cli = (args: string[], timeoutMs = 90_000): Promise<CliRun> => runCli(args, clean, { timeoutMs });
const show = (r: CliRun): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('CLI commands reach the agent of their --data (two real stacks on free ports)', () => {
  let dir: string;
  let a: Stack;
  let b: Stack;
  let trainCfg: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-agents-'));
    // One after the other: each picks its own free ports, and two cores start one at a time faster.
    a = await startStack(join(dir, 'a'));
    b = await startStack(join(dir, 'b'));
    trainCfg = join(dir, 'train.yaml');
    await writeFile(trainCfg, 'trainer: builtin\ntrainer_config:\n  max_epochs: 2\n  min_train_steps_per_epoch: 5\n');
  });
  after(async () => {
    await a?.proc.stop();
    await b?.proc.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the two agents are on ports of their own, not 8765, each named by its data folder', () => {
    assert.notEqual(a.agentUrl, b.agentUrl);
    for (const s of [a, b]) {
      assert.equal(s.agent.url, s.agentUrl, 'agent.json names the URL the stack printed');
      assert.notEqual(new URL(s.agentUrl).port, '8765');
    }
  });

  test('none running, or a stale connection file: train and download say so in one line, naming the data folder and how to start the agent', { timeout: 60_000 }, async () => {
    const none = join(dir, 'none');
    // Files left by a kill -9 whose pid was reused (a live pid, this test's): nothing listens at the
    // URL, or another program (not an agent) got the port.
    const stale = async (name: string, url: string): Promise<string> => {
      const data = join(dir, name);
      await mkdir(join(data, 'agent'), { recursive: true, mode: 0o700 });
      await writeFile(agentConnectionFile(data), JSON.stringify({ url, token: 'x'.repeat(32), pid: process.pid, version: VERSION }), { mode: 0o600 });
      return data;
    };
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const other = createHttpServer((_req, res) => res.writeHead(404).end('not here'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    const cases = [
      [none, 'is missing, or names a process that has ended'],
      [await stale('stale-closed', closed), `is stale: it names pid ${process.pid}, but nothing answers at ${closed}`],
      [await stale('stale-other', otherUrl), `is stale: it names pid ${process.pid}, but what answers at ${otherUrl} is not a sleap-rtc agent`],
    ] as const;
    try {
      for (const [data, why] of cases) {
        for (const args of [['train', join(dir, 'x.slp')], ['download', 'some-model']]) {
          const r = await cli([...args, '--data', data]);
          assert.equal(r.code, 1, show(r));
          assert.equal(r.stdout, '');
          assert.equal(r.stderr, `sleap-rtc: no agent is running for the data folder ${data} (${agentConnectionFile(data)} ${why}): start one with \`sleap-rtc agent --data ${data}\` or \`sleap-rtc stack --data ${data}\` (npm start), or give its URL with --agent\n`);
        }
      }
    } finally {
      other.close();
    }
  });

  test('upload with a running agent on the same --data goes through it (no lock conflict), on each stack; the other stack never sees it', { timeout: 90_000 }, async () => {
    for (const [s, other] of [[a, b], [b, a]] as const) {
      const file = join(dir, `${s === a ? 'a' : 'b'}-labels.slp`);
      await writeSyntheticSlp(file, { frames: 6, instancesPerFrame: 1, nodes: 3, embedded: true });
      const r = await cli(['upload', file, '--data', s.data, '--json']);
      assert.equal(r.code, 0, show(r));
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, 'one JSON object on stdout');
      const out = JSON.parse(lines[0]) as { upload_id: string; key: string; bucket: string; size: number; sha256: string };
      assert.deepEqual(Object.keys(out).sort(), ['bucket', 'key', 'sha256', 'size', 'upload_id']);
      assert.equal(out.sha256, await sha256Of(file));
      assert.ok(r.stderr.includes(`uploading through the running agent at ${s.agentUrl}\n`), r.stderr);
      assert.match(r.stderr, /-labels\.slp: +100\.0% .* ETA .* completed/, 'the progress line, drawn from the agent');
      const mine = (await uploadsOf(s)).find((u) => u.id === out.upload_id);
      assert.ok(mine, 'the upload is the agent’s');
      assert.equal(mine.state, 'completed');
      assert.equal(mine.key, out.key);
      assert.ok(!(await uploadsOf(other)).some((u) => u.path === file), 'the other agent never heard of it');
    }
  });

  test('upload with no agent for its --data stands alone (with the server and room token given), and no agent hears of it', { timeout: 60_000 }, async () => {
    const file = join(dir, 'alone.slp');
    await writeSyntheticSlp(file, { frames: 4, instancesPerFrame: 1, nodes: 3, embedded: true });
    const server = JSON.parse(await readFile(join(a.data, 'stack.json'), 'utf8')) as { server_url: string };
    const r = await cli(['upload', file, '--data', join(dir, 'alone-data'), '--server', server.server_url, '--stack-secrets', join(a.data, 'stack-secrets.json'), '--json']);
    assert.equal(r.code, 0, show(r));
    assert.ok(!r.stderr.includes('through the running agent'), r.stderr);
    assert.equal((JSON.parse(r.stdout) as { sha256: string }).sha256, await sha256Of(file));
    for (const s of [a, b]) assert.ok(!(await uploadsOf(s)).some((u) => u.path === file));
  });

  test('Ctrl-C during an upload through the agent pauses it there (exit 130); the same command resumes it to the end', { timeout: 120_000 }, async () => {
    const file = join(dir, 'big.zip');
    await writeBigZip(file, 256 * 1024 * 1024);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'upload', file, '--data', a.data, '--json'], { cwd: repoRoot, env: { ...process.env, ...clean }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const running = await waitFor(async () => (await uploadsOf(a)).find((u) => u.path === file && ['hashing', 'uploading'].includes(u.state)), 'the agent runs the upload', 60_000);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.ok(stderr.includes(`interrupted: upload ${running.id} of ${file} is paused in the agent; run the same command again to resume`), stderr);
    const paused = (await uploadsOf(a)).find((u) => u.id === running.id);
    assert.equal(paused?.state, 'paused', 'paused, not cancelled: the multipart upload stays for the resume');
    const r = await cli(['upload', file, '--data', a.data, '--json'], 110_000);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stderr.includes(`resuming upload ${running.id} of ${file} (256 MiB): asking the server what it already has`), r.stderr);
    const out = JSON.parse(r.stdout) as { upload_id: string; sha256: string };
    assert.equal(out.upload_id, running.id, 'the same upload, resumed');
    assert.equal(out.sha256, await sha256Of(file));
  });

  test('train and download on each stack: the job is in that stack’s agent only, and its model is downloaded from there', { timeout: 240_000 }, async () => {
    for (const [s, other] of [[a, b], [b, a]] as const) {
      const dataset = join(dir, `${s === a ? 'a' : 'b'}-train.pkg.slp`);
      await writeSyntheticSlp(dataset, { frames: 12, instancesPerFrame: 1, nodes: 3, embedded: true });
      const r = await cli(['train', dataset, '--config', trainCfg, '--data', s.data], 120_000);
      assert.equal(r.code, 0, show(r));
      const job = /^job (\S+) submitted/m.exec(r.stdout);
      const model = /^model (\S+) at s3:\/\/\S+$/m.exec(r.stdout);
      assert.ok(job && model, r.stdout);
      assert.ok((await jobsOf(s)).some((j) => j.id === job[1]), 'the job is this agent’s');
      assert.ok(!(await jobsOf(other)).some((j) => j.id === job[1]), 'the other agent never heard of it');
      const dest = join(dir, `models-${s === a ? 'a' : 'b'}`);
      const d = await cli(['download', model[1], '--data', s.data, '--dest', dest, '--json']);
      assert.equal(d.code, 0, show(d));
      assert.equal((JSON.parse(d.stdout) as { model_id: string }).model_id, model[1]);
      // The other stack has its own store and room: the model is not there.
      const miss = await cli(['download', model[1], '--data', other.data, '--dest', dest]);
      assert.equal(miss.code, 1, show(miss));
      assert.match(miss.stderr, /^sleap-rtc: .*model/m);
    }
  });

  test('train on a .slp whose video is outside it: the agent’s warning first; builtin trains on the points, sleap-nn is refused (exit 2) with nothing uploaded', { timeout: 150_000 }, async () => {
    const video = '/lab/videos/session1.mp4';
    const file = join(dir, 'external.slp');
    await writeSyntheticSlp(file, { frames: 12, instancesPerFrame: 1, nodes: 3, videoFilename: video });
    const warning = `warning: external.slp: the worker will not see ${video}; export a .pkg.slp (File > Export > Labels Package) to embed the frames\n`;

    const refused = await cli(['train', file, '--trainer', 'sleap-nn', '--data', a.data]);
    assert.equal(refused.code, 2, show(refused));
    assert.equal(refused.stdout, '', 'no job was submitted');
    assert.ok(refused.stderr.startsWith(warning), refused.stderr);
    assert.ok(refused.stderr.includes(`sleap-rtc: cannot train on ${file}: the sleap-nn trainer trains on images, but this video is not embedded, only referenced by a path the worker cannot read: ${video} (of external.slp); nothing was uploaded.`), refused.stderr);
    assert.ok(!(await uploadsOf(a)).some((u) => u.path === file), 'nothing was uploaded');

    const r = await cli(['train', file, '--config', trainCfg, '--data', a.data], 120_000);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stderr.startsWith(warning), r.stderr);
    assert.match(r.stdout, /^model \S+ at s3:\/\/\S+$/m);
    const up = (await uploadsOf(a)).find((u) => u.path === file);
    assert.ok(up?.warnings.includes(warning.slice('warning: '.length, -1)), 'GET /api/uploads has the same warning');
  });

  test('a real SLEAP file with its video by path (small_robot_minimal.slp): refused for sleap-nn, naming the video', { skip: sharedSkipReason, timeout: 60_000 }, async () => {
    const file = sharedSleapFile('small_robot_minimal.slp');
    const r = await cli(['train', file, '--trainer', 'sleap-nn', '--data', b.data]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /^warning: small_robot_minimal\.slp: the worker will not see \S*small_robot\.mp4; export a \.pkg\.slp/m);
    assert.match(r.stderr, /the sleap-nn trainer trains on images, but this video is not embedded, only referenced by a path the worker cannot read: \S*small_robot\.mp4 \(of small_robot_minimal\.slp\)/);
    assert.ok(!(await uploadsOf(b)).some((u) => u.path === file), 'nothing was uploaded');
  });
});
