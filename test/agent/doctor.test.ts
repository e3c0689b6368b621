import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { doctorReport, type DoctorCheck, type DoctorReport } from '../../src/core/schemas/doctor.js';
import { spawnCli, type Spawned } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { forEachS3Target, type S3Target } from '../support/targets.js';
import { runCli, type CliRun } from './support/env.js';

// `sleap-rtc doctor` as users run it, against real processes: a whole `sleap-rtc stack` (agent,
// server, embedded store, a builtin worker), and a bare server without workers on each S3 target.

const NAMES = ['agent', 'server', 's3', 'signaling', 'webrtc', 'disk'];

/** No SLEAP_RTC_* from the test runner: the doctor finds what it checks from its flags and data folder. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('SLEAP_RTC_')) e[k] = undefined;
  return { ...e, ...extra };
}

function parsed(r: CliRun): DoctorReport {
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `--json prints one line; got:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return doctorReport.parse(JSON.parse(lines[0]));
}

function check(report: DoctorReport, name: string): DoctorCheck {
  const c = report.checks.find((x) => x.name === name);
  assert.ok(c, `no ${name} check in ${JSON.stringify(report)}`);
  return c;
}

describe('sleap-rtc doctor against a running stack', () => {
  let data: string;
  let stack: Spawned;
  let serverUrl: string;

  before(async () => {
    data = await mkdtemp(join(tmpdir(), 'doctor-stack-'));
    stack = await spawnCli(['stack', '--data', data, '--store-port', '0', '--server-port', '0', '--agent-port', '0'], {
      waitFor: /server listening on (\S+)\n[\s\S]*stack ready/,
      env: env(),
      timeoutMs: 60_000,
    });
    serverUrl = stack.line[1];
  });

  after(async () => {
    await stack?.stop();
    await rm(data, { recursive: true, force: true });
  });

  test('every check passes, one line each, exit 0; --json gives the same as one object', async () => {
    const r = await runCli(['doctor', '--data', data], env());
    assert.equal(r.code, 0, `exit 0 when all pass; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[1]), NAMES, r.stdout);
    for (const l of lines) assert.match(l, /^ok {3}/, l);
    assert.match(lines[0], /^ok {3}agent {5}http:\/\/127\.0\.0\.1:\d+ \(v\d+\.\d+\.\d+, pid \d+\)$/);
    assert.match(lines[1], new RegExp(`^ok {3}server {4}${serverUrl.replace(/[.]/g, '\\.')} `));
    assert.match(lines[2], /presigned PUT and GET of rooms\/lab\/datasets\/sleap-rtc-doctor\/probe\.txt/);
    assert.match(lines[3], /1 worker visible: worker-\S+ \(available\)/);
    assert.match(lines[4], /DataChannel to worker-\S+ open in \d+ ms/);

    const j = await runCli(['doctor', '--data', data, '--json'], env());
    assert.equal(j.code, 0, j.stderr);
    const report = parsed(j);
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => c.name), NAMES);
    for (const c of report.checks) {
      assert.deepEqual([c.status, c.ok, c.fix], ['ok', true, undefined], JSON.stringify(c));
      assert.equal(typeof c.ms, 'number', `${c.name} is timed`);
    }
  });

  test('a wrong room token: the server check fails naming where the token came from, what needs it is skipped', async () => {
    const r = await runCli(['doctor', '--data', data, '--json'], env({ SLEAP_RTC_ROOM_TOKEN: 'not-the-room-token-0123456789' }));
    assert.equal(r.code, 1);
    const report = parsed(r);
    assert.equal(report.ok, false);
    const server = check(report, 'server');
    assert.equal(server.status, 'fail');
    assert.match(server.detail, /refused the room token from SLEAP_RTC_ROOM_TOKEN/);
    assert.ok(!server.detail.includes('not-the-room-token'), 'the token itself is never printed');
    assert.match(server.fix ?? '', /SLEAP_RTC_ROOM_TOKEN/);
    for (const n of ['s3', 'signaling', 'webrtc']) assert.equal(check(report, n).status, 'skip', n);
    assert.equal(check(report, 'agent').status, 'ok');
    assert.equal(check(report, 'disk').status, 'ok');
  });

  test('no agent for the data folder: the agent check fails with the fix line, the others still run', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'doctor-noagent-'));
    try {
      const args = ['doctor', '--data', empty, '--server', serverUrl, '--stack-secrets', join(data, 'stack-secrets.json')];
      const r = await runCli(args, env());
      assert.equal(r.code, 1, r.stdout);
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0], new RegExp(`^FAIL agent {5}no agent runs for ${empty}: .* — start it with \`sleap-rtc agent --data ${empty}\``));
      assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['ok server', 'ok s3', 'ok signaling', 'ok webrtc', 'ok disk'], r.stdout);

      const report = parsed(await runCli([...args, '--json'], env()));
      assert.equal(report.ok, false);
      assert.deepEqual(report.checks.map((c) => c.status), ['fail', 'ok', 'ok', 'ok', 'ok', 'ok']);
      assert.match(check(report, 'agent').fix ?? '', /sleap-rtc agent --data/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

test('nothing running: the server check says connection refused with the fix, the disk check still runs', async () => {
  const data = await mkdtemp(join(tmpdir(), 'doctor-nothing-'));
  // A port that was just free: nothing listens there.
  const free = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
  try {
    const r = await runCli(['doctor', '--data', data, '--server', `http://127.0.0.1:${free}`], env({ SLEAP_RTC_ROOM_TOKEN: 'a-room-token-of-some-room-0123' }));
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[1], `FAIL server    http://127.0.0.1:${free}: connection refused — start it with \`sleap-rtc stack\` or pass --server <url> (or SLEAP_RTC_SERVER)`);
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), ['FAIL', 'FAIL', 'skip', 'skip', 'skip', 'ok'], r.stdout);
  } finally {
    await rm(data, { recursive: true, force: true });
  }
});

forEachS3Target((factory) => {
  describe(`sleap-rtc doctor against a server without workers (${factory.name})`, () => {
    let target: S3Target;
    let server: ServerProcess;
    let data: string;

    before(async () => {
      target = await factory.start();
      server = await startServerProcess(target);
      data = await mkdtemp(join(tmpdir(), 'doctor-noworker-'));
    });

    after(async () => {
      await server?.stop();
      await target?.stop();
      await rm(data, { recursive: true, force: true });
    });

    test('signaling says no worker is visible, WebRTC is skipped; S3 passes through the presigned URLs', async () => {
      const r = await runCli(['doctor', '--data', data, '--server', server.url, '--room', 'lab', '--json'], env({ SLEAP_RTC_ROOM_TOKEN: server.rooms.lab }));
      assert.equal(r.code, 1);
      const report = parsed(r);
      assert.deepEqual(report.checks.map((c) => `${c.name} ${c.status}`), ['agent fail', 'server ok', 's3 ok', 'signaling fail', 'webrtc skip', 'disk ok'], JSON.stringify(report, null, 1));
      const sig = check(report, 'signaling');
      assert.match(sig.detail, /registered in room lab as doctor-\S+, but no worker is visible/);
      assert.match(sig.fix ?? '', /sleap-rtc worker --server/);
      assert.match(check(report, 'webrtc').detail, /no worker is visible/);
      assert.match(check(report, 'server').detail, /room token from SLEAP_RTC_ROOM_TOKEN accepted/);
    });

    test('a token of another room than --room is named as such', async () => {
      const r = await runCli(['doctor', '--data', data, '--server', server.url, '--room', 'lab', '--json'], env({ SLEAP_RTC_ROOM_TOKEN: server.rooms.other }));
      const server_ = check(parsed(r), 'server');
      assert.equal(server_.status, 'fail');
      assert.match(server_.detail, /not the token of room lab/);
    });
  });
});
