// The extension's agent supervision with real processes: `sleap-rtc stack --no-agent` (store,
// server, worker) as the server, and agents started by AgentSupervisor from the bundled CLI, as
// the extension does in each window. Two supervisors in one process stand for two windows.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentConnectionFile, readAgentConnection } from '../../src/core/agentConnection.js';
import { isAppError } from '../../src/core/errors.js';
import { processAlive } from '../../src/core/processAlive.js';
import { readStackInfo, stackInfoFile } from '../../src/core/stackInfo.js';
import { VERSION } from '../../src/core/version.js';
import { AgentLocator } from '../../src/extension/agent/AgentLocator.js';
import { agentLogFile } from '../../src/extension/agent/AgentProcess.js';
import type { AgentSupervisor } from '../../src/extension/agent/AgentSupervisor.js';
import { waitFor } from '../support/wait.js';
import { liveAgentPid, makeSupervisor, removeDir, requireBundle, startStack, stopAgents, tempDir, type StackProcess, type TestSupervisor } from './support/env.js';

const connectedTo = (s: AgentSupervisor, pid?: number) => async () => (s.state === 'connected' && (pid === undefined || s.agent?.pid === pid) ? s.agent : undefined);
const otherThan = (s: AgentSupervisor, pid: number) => async () => (s.state === 'connected' && s.agent && s.agent.pid !== pid ? s.agent : undefined);
const listening = (dataDir: string) => (readFileSync(agentLogFile(dataDir), 'utf8').match(/agent listening on/g) ?? []).length;

describe('AgentSupervisor: find, start, share, restart the agent (stack --no-agent + real agents)', () => {
  let dir: string;
  let data: string;
  let stack: StackProcess;
  const supervisors: TestSupervisor[] = [];
  const supervisor = (...a: Parameters<typeof makeSupervisor>) => {
    const t = makeSupervisor(...a);
    supervisors.push(t);
    return t;
  };
  const lastSeen = (t: TestSupervisor) => () => JSON.stringify(t.states.slice(-4));

  before(async () => {
    requireBundle();
    dir = await tempDir('agent-sup-');
    data = join(dir, 'data');
    stack = await startStack(data);
  });
  after(async () => {
    for (const t of supervisors) t.sup.dispose();
    liveAgentPid(data);
    await stopAgents();
    await stack?.stop();
    await removeDir(dir);
  });

  test('stack --no-agent runs no agent and writes stack.json (0600: server_url, store_url, room, pid, version)', () => {
    assert.match(stack.stdout(), /^agent not started \(--no-agent\)/m);
    assert.doesNotMatch(stack.stdout(), /agent listening/);
    assert.equal(existsSync(agentConnectionFile(data)), false);
    assert.equal(existsSync(join(data, 'agent', 'agent.lock')), false, 'nothing holds the agent lock');
    const file = stackInfoFile(data);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const info = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(info).sort(), ['pid', 'room', 'server_url', 'store_url', 'version']);
    assert.deepEqual(info, { server_url: stack.serverUrl, store_url: info.store_url, room: 'lab', pid: stack.child.pid, version: VERSION });
    assert.match(info.store_url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(readStackInfo(data), info);
  });

  test('two windows at once share one agent: one process started, from stack.json and stack-secrets.json', { timeout: 60_000 }, async () => {
    const a = supervisor(data);
    const b = supervisor(data);
    const [ca, cb] = await Promise.all([a.sup.ensure(), b.sup.ensure()]);
    assert.ok(ca && cb, `both connected: ${a.sup.message} / ${b.sup.message}`);
    assert.equal(a.starts + b.starts, 1, 'one agent started');
    assert.equal(a.sup.agent!.pid, b.sup.agent!.pid);
    assert.equal(listening(data), 1, 'one agent in the log');
    const pid = liveAgentPid(data)!;
    assert.equal(a.sup.agent!.pid, pid);
    assert.equal(a.sup.agent!.version, VERSION);
    assert.ok(a.states.some((s) => s.state === 'starting') || b.states.some((s) => s.state === 'starting'));
    // It is the stack's room: the stack's worker is visible through it.
    const workers = await waitFor(() => ca.call<{ workers: unknown[] }>('GET', '/api/workers').then((r) => (r.workers.length ? r.workers : undefined)), 'the stack worker through the agent', 20_000);
    assert.equal(workers.length, 1);
    if (process.platform === 'linux') {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.ok(args.includes('--stack-secrets'), 'the token from stack-secrets.json');
      assert.ok(!args.some((x) => x.includes(JSON.parse(readFileSync(join(data, 'stack-secrets.json'), 'utf8')).room_token)), 'no token on the command line');
      assert.equal(args[args.indexOf('--port') + 1], '0');
    }
  });

  test('kill -9 of the agent: it is restarted (with backoff) and both windows are connected to the new one', { timeout: 60_000 }, async () => {
    const [a, b] = supervisors;
    const old = a.sup.agent!.pid;
    const startsBefore = a.starts + b.starts;
    const statesBefore = a.states.length;
    process.kill(old, 'SIGKILL');
    const na = await waitFor(otherThan(a.sup, old), 'window A connected to a new agent', 30_000, { lastSeen: lastSeen(a) });
    const nb = await waitFor(otherThan(b.sup, old), 'window B connected to a new agent', 30_000, { lastSeen: lastSeen(b) });
    assert.equal(na.pid, nb.pid);
    assert.equal(a.starts + b.starts, startsBefore + 1, 'one new agent, not one per window');
    assert.ok(a.states.slice(statesBefore).some((s) => s.state === 'restarting'), JSON.stringify(a.states.slice(statesBefore)));
    assert.equal(liveAgentPid(data), na.pid);
    assert.deepEqual(await a.sup.client!.call('GET', '/api/uploads'), { uploads: [] });
  });

  test('restart() (SLEAP: Restart Agent) stops the agent and starts a new one; the other window follows', { timeout: 60_000 }, async () => {
    const [a, b] = supervisors;
    const old = a.sup.agent!.pid;
    const client = await a.sup.restart();
    assert.ok(client);
    assert.notEqual(a.sup.agent!.pid, old);
    assert.equal(processAlive(old), false, 'the old agent was stopped');
    await waitFor(connectedTo(b.sup, a.sup.agent!.pid), 'window B on the restarted agent', 20_000, { lastSeen: lastSeen(b) });
    liveAgentPid(data);
  });

  test('autoStart off: unreachable with a message saying what to do, then connected once another window starts one', { timeout: 60_000 }, async () => {
    const [a, b] = supervisors;
    const pid = a.sup.agent!.pid;
    a.sup.dispose();
    b.sup.dispose();
    assert.equal(a.sup.state, 'stopped');
    assert.equal(processAlive(pid), true, 'disposing a window leaves the shared agent running');
    const { AgentProcess } = await import('../../src/extension/agent/AgentProcess.js');
    await AgentProcess.stop(pid);

    const c = supervisor(data, { autoStart: false });
    assert.equal(await c.sup.ensure(), undefined);
    assert.equal(c.sup.state, 'unreachable');
    assert.match(c.sup.message!, /^no agent running and sleapRtc\.autoStartAgent is off: /);
    assert.equal(c.starts, 0);
    const d = supervisor(data);
    await d.sup.ensure();
    await waitFor(connectedTo(c.sup, d.sup.agent!.pid), 'the autoStart-off window finds the agent another window started', 20_000, { lastSeen: lastSeen(c) });
    assert.equal(c.starts, 0);
  });

  test('an agent of another version is reported, not used, and not replaced until restart()', { timeout: 60_000 }, async () => {
    const pid = liveAgentPid(data)!;
    const file = agentConnectionFile(data);
    const real = readAgentConnection(data)!;
    const tmp = `${file}.test.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...real, version: '0.0.1-other' }), { mode: 0o600 });
    renameSync(tmp, file);
    const e = supervisor(data);
    assert.equal(await e.sup.ensure(), undefined);
    assert.equal(e.sup.state, 'version_mismatch');
    assert.match(e.sup.message!, /is version 0\.0\.1-other, but this extension is version /);
    assert.ok(e.sup.message!.includes(VERSION));
    assert.equal(e.sup.client, undefined);
    assert.equal(e.starts, 0, 'no second agent');
    const loc = await new AgentLocator({ dataDir: data }).locate();
    assert.equal(loc.kind, 'version_mismatch');

    await e.sup.restart();
    assert.equal(e.sup.state, 'connected');
    assert.notEqual(e.sup.agent!.pid, pid);
    assert.equal(e.sup.agent!.version, VERSION);
    assert.equal(processAlive(pid), false);
    liveAgentPid(data);
  });

  test('sleapRtc.agentUrl: that agent is used (token from the data folder) and never restarted by the window', { timeout: 30_000 }, async () => {
    const conn = readAgentConnection(data)!;
    const f = supervisor(data, { agentUrl: conn.url + '/' });
    const client = await f.sup.ensure();
    assert.ok(client, f.sup.message);
    assert.equal(f.sup.agent!.pid, conn.pid);
    await assert.rejects(f.sup.restart(), (err: unknown) => isAppError(err, 'conflict') && /sleapRtc\.agentUrl is set/.test(err.message));
    const g = supervisor(join(dir, 'elsewhere'), { agentUrl: conn.url });
    assert.equal(await g.sup.ensure(), undefined);
    assert.equal(g.sup.state, 'unreachable');
    assert.match(g.sup.message!, /there is no token for it/);
  });

  test('no server known: the start fails with what to set', async () => {
    const h = supervisor(join(dir, 'no-stack'));
    assert.equal(await h.sup.ensure(), undefined);
    assert.equal(h.sup.state, 'unreachable');
    assert.match(h.sup.message!, /no server: set sleapRtc\.serverUrl, or start the local stack \(SLEAP: Start Local Stack\)/);
    assert.equal(h.starts, 0);
  });
});
