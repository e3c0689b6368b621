// The connection file <data>/agent/agent.json and GET /health, with real agent processes (the
// bundled CLI, started by AgentProcess as the extension starts it). The agent's server is an
// address where nothing listens: finding and supervising the agent needs none.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentClient } from '../../src/core/AgentClient.js';
import { agentConnectionFile, readAgentConnection } from '../../src/core/agentConnection.js';
import { isAppError } from '../../src/core/errors.js';
import { VERSION } from '../../src/core/version.js';
import { AgentProcess, agentLogFile } from '../../src/extension/agent/AgentProcess.js';
import { waitFor } from '../support/wait.js';
import { agentPids, bundledCli, cleanEnv, removeDir, requireBundle, stopAgents, tempDir } from './support/env.js';

const NOWHERE = 'http://127.0.0.1:9';
const ROOM_TOKEN = 'room-token-for-tests-0123456789';

const startAgent = (dataDir: string, env = cleanEnv({ SLEAP_RTC_ROOM_TOKEN: ROOM_TOKEN })) =>
  AgentProcess.start({ nodePath: process.execPath, cliPath: bundledCli, dataDir, args: ['--port', '0', '--server', NOWHERE], env }).then((p) => {
    agentPids.add(p.pid);
    return p;
  });

/** A pid that surely belongs to no process: one that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('the agent connection file and /health (real agent processes)', () => {
  let dir: string;
  before(async () => {
    requireBundle();
    dir = await tempDir('agent-conn-');
  });
  after(async () => {
    await stopAgents();
    await removeDir(dir);
  });

  test('an agent on --port 0 writes agent.json (0600: url, token, pid, version) once it listens; /health needs no token, /api still does; SIGTERM removes the file', { timeout: 60_000 }, async () => {
    const data = join(dir, 'one');
    const agent = await startAgent(data);
    const file = agentConnectionFile(data);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const c = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(c).sort(), ['pid', 'token', 'url', 'version']);
    assert.equal(c.pid, agent.pid);
    assert.equal(c.version, VERSION);
    assert.equal(c.token, readFileSync(join(data, 'agent', 'token'), 'utf8').trim());
    assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(c.url).port, '8765', 'port 0: a free port, not the default');
    assert.match(readFileSync(agentLogFile(data), 'utf8'), new RegExp(`agent listening on ${c.url.replace(/\./g, '\\.')}`), 'stdout goes to <data>/agent/agent.log');
    assert.deepEqual(readAgentConnection(data), c);
    if (process.platform === 'linux') {
      // Detached: its own process group (and session), so it outlives the window that started it.
      const stat = readFileSync(`/proc/${agent.pid}/stat`, 'utf8');
      assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]), agent.pid, 'process group id = its pid');
    }

    const health = await fetch(`${c.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', version: VERSION, pid: agent.pid });
    assert.equal((await fetch(`${c.url}/api/uploads`)).status, 401, '/api/* without a token');
    assert.equal((await fetch(`${c.url}/api/uploads`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
    assert.equal((await fetch(`${c.url}/health`, { headers: { origin: 'http://evil.example' } })).status, 403, 'behind the Origin guard');
    const client = AgentClient.fromConnection(data);
    assert.deepEqual(await client.call('GET', '/api/uploads'), { uploads: [] });
    assert.equal((await client.health()).pid, agent.pid);
    const doc = (await (await fetch(`${c.url}/openapi.json`)).json()) as { paths: Record<string, unknown>; info: { version: string } };
    assert.ok(doc.paths['/health'], '/health is in the OpenAPI document');
    assert.equal(doc.info.version, VERSION);

    let exit: unknown;
    agent.onDidExit((e) => (exit = e));
    assert.equal(await AgentProcess.stop(agent.pid), 'terminated');
    assert.equal(existsSync(file), false, 'removed on a clean stop');
    await waitFor(async () => exit, 'onDidExit');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(readAgentConnection(data), undefined);
    assert.equal(await AgentProcess.stop(agent.pid), 'not_running');
    agent.dispose();
    agent.dispose();
  });

  test('on Windows (platform injected) stop ends the agent at once, as TerminateProcess does, and removes the connection file it leaves behind', { timeout: 60_000 }, async () => {
    const data = join(dir, 'win-stop');
    const agent = await startAgent(data);
    const file = agentConnectionFile(data);
    let exit: unknown;
    agent.onDidExit((e) => (exit = e));
    // A grace period longer than the test: waiting for a clean exit that cannot come on Windows would time it out.
    assert.equal(await AgentProcess.stop(agent.pid, { platform: 'win32', graceMs: 600_000, dataDir: data }), 'killed');
    await waitFor(async () => exit, 'onDidExit');
    assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, 'no SIGTERM first: Windows has none to send');
    assert.equal(existsSync(file), false, 'the file that named the killed pid is removed');
    assert.equal(await AgentProcess.stop(agent.pid, { platform: 'win32', dataDir: data }), 'not_running');
    agent.dispose();
  });

  test('a stale file (dead pid) is ignored and replaced by the next agent; a live one that others may read, or malformed, is an error; none: fromConnection says how to start one', { timeout: 60_000 }, async () => {
    const data = join(dir, 'stale');
    mkdirSync(join(data, 'agent'), { recursive: true });
    const file = agentConnectionFile(data);
    assert.throws(
      () => AgentClient.fromConnection(data),
      (e: unknown) => isAppError(e, 'unavailable') && e.message.includes(file) && /sleap-rtc agent --data/.test(e.message),
    );
    const dead = await deadPid();
    writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:1', token: 'x'.repeat(43), pid: dead, version: VERSION }), { mode: 0o600 });
    assert.equal(readAgentConnection(data), undefined, 'a dead pid: stale');
    writeFileSync(file, '{"url": "http://127.0.0.1:1", "tok', { mode: 0o600 });
    assert.equal(readAgentConnection(data), undefined, 'not JSON: debris');

    writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:1', token: 'x'.repeat(43), pid: process.pid, version: VERSION }), { mode: 0o600 });
    chmodSync(file, 0o644);
    assert.throws(
      () => readAgentConnection(data),
      (e: unknown) => isAppError(e, 'forbidden') && /can be read by other users \(mode 644\)/.test(e.message),
    );
    writeFileSync(file, JSON.stringify({ url: 'not a url', pid: process.pid }), { mode: 0o600 });
    chmodSync(file, 0o600);
    assert.throws(
      () => readAgentConnection(data),
      (e: unknown) => isAppError(e, 'config_invalid') && e.message.includes(file) && /delete the file/.test(e.message),
    );

    writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:1', token: 'x'.repeat(43), pid: dead, version: VERSION }), { mode: 0o644 });
    const agent = await startAgent(data);
    assert.equal(readAgentConnection(data)?.pid, agent.pid, 'the new agent replaced the stale file');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await AgentProcess.stop(agent.pid);
  });

  test('an agent that exits before it is ready: start() fails with the last lines of its log', { timeout: 60_000 }, async () => {
    const data = join(dir, 'fails');
    await assert.rejects(startAgent(data, cleanEnv()), (e: unknown) => {
      assert.ok(isAppError(e, 'unavailable'), String(e));
      assert.match(e.message, /the agent exited with code 2 before it was ready; the last lines of .*agent\.log:\n/);
      assert.match(e.message, /no room token/);
      return true;
    });
    assert.equal(existsSync(agentConnectionFile(data)), false);
  });
});
