// AgentEvents across a disconnect and across an agent kill -9 + restart, with real processes:
// `sleap-rtc stack --no-agent` as the server and store, the agent started by AgentSupervisor.
// Events come from real uploads through the agent.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentClient, AgentEvent } from '../../src/core/AgentClient.js';
import { Emitter } from '../../src/core/Emitter.js';
import type { UploadView } from '../../src/core/schemas/agent.js';
import { AgentEvents, type AgentEventSource, type AgentReset } from '../../src/extension/agent/AgentEvents.js';
import { waitFor } from '../support/wait.js';
import { writeBigZip } from '../agent/support/env.js';
import { liveAgentPid, makeSupervisor, removeDir, requireBundle, startStack, stopAgents, tempDir, type StackProcess, type TestSupervisor } from './support/env.js';

/** The supervisor as AgentEvents sees it, with a switch that cuts the stream (a dropped connection). */
class CuttableSource implements AgentEventSource {
  cut = false;
  private readonly changed = new Emitter<unknown>();
  readonly onDidChangeState = this.changed.event;
  constructor(private readonly t: TestSupervisor) {
    t.sup.onDidChangeState((s) => this.changed.fire(s));
  }
  get client(): AgentClient | undefined {
    return this.cut ? undefined : this.t.sup.client;
  }
  set(cut: boolean): void {
    this.cut = cut;
    this.changed.fire(undefined);
  }
  check(): void {
    this.t.sup.check();
  }
}

const idOf = (e: { id?: string }) => {
  const [run, n] = e.id!.split('.');
  return { run, n: Number(n) };
};

describe('AgentEvents: every event once, across disconnects and agent restarts', () => {
  let dir: string;
  let data: string;
  let stack: StackProcess;
  let t: TestSupervisor;
  let events: AgentEvents;
  let source: CuttableSource;
  const got: AgentEvent[] = [];
  const resets: Array<AgentReset & { afterEvents: number; lastId?: string }> = [];

  before(async () => {
    requireBundle();
    dir = await tempDir('agent-events-');
    data = join(dir, 'data');
    stack = await startStack(data);
    t = makeSupervisor(data);
  });
  after(async () => {
    events?.dispose();
    await events?.done;
    t?.sup.dispose();
    liveAgentPid(data);
    await stopAgents();
    await stack?.stop();
    await removeDir(dir);
  });

  const upload = async (client: AgentClient, name: string): Promise<string> => {
    const file = join(dir, name);
    await writeBigZip(file, 256 * 1024);
    return (await client.call<UploadView>('POST', '/api/uploads', { path: file })).id;
  };
  const completedSeen = (id: string) => async () => (got.some((e) => e.event === 'upload' && (e.data as { upload: UploadView }).upload.id === id && (e.data as { upload: UploadView }).upload.state === 'completed') ? true : undefined);
  const assertOnceAndInOrder = () => {
    const ids = got.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    // Within one run of the agent, numbers follow each other with no gap from the first one got.
    for (let i = 1; i < got.length; i++) {
      const a = idOf(got[i - 1]);
      const b = idOf(got[i]);
      if (a.run === b.run) assert.equal(b.n, a.n + 1, `no gap between ${got[i - 1].id} and ${got[i].id}`);
    }
  };

  test('the first stream: an initial reset (read the state now), then the events of an upload', { timeout: 60_000 }, async () => {
    const client = (await t.sup.ensure())!;
    assert.ok(client, t.sup.message);
    source = new CuttableSource(t);
    events = new AgentEvents({ source, backoff: { initialMs: 100, maxMs: 500, jitter: 0.2 } });
    events.onEvent((e) => got.push(e));
    events.onReset((r) => resets.push({ ...r, afterEvents: got.length, lastId: events.lastEventId }));
    await waitFor(async () => (resets.length ? true : undefined), 'the initial reset');
    assert.equal(resets[0].reason, 'initial');
    const a = await upload(client, 'a.zip');
    await waitFor(completedSeen(a), 'upload a completed, by events', 30_000);
    assert.equal(idOf(got[0]).n, 1, 'from the first event of this agent');
    assertOnceAndInOrder();
  });

  test('a dropped stream: reopened with Last-Event-ID, the events missed meanwhile come once, no reset', { timeout: 60_000 }, async () => {
    const client = t.sup.client!;
    const before = got.length;
    source.set(true);
    // While no stream is open, a whole upload happens.
    const b = await upload(client, 'b.zip');
    await waitFor(() => client.call<UploadView>('GET', `/api/uploads/${b}`).then((u) => (u.state === 'completed' ? true : undefined)), 'upload b completed');
    assert.equal(got.length, before, 'nothing delivered while cut');
    source.set(false);
    await waitFor(completedSeen(b), 'upload b completed, by the resumed stream', 30_000);
    assert.equal(resets.length, 1, 'no reset: the agent had every event');
    assertOnceAndInOrder();
  });

  test('kill -9 of the agent: it is restarted, a reset (agent_restarted) says read again, and later events come once', { timeout: 90_000 }, async () => {
    const old = t.sup.agent!.pid;
    const oldRun = idOf(got[got.length - 1]).run;
    process.kill(old, 'SIGKILL');
    await waitFor(async () => (resets.length === 2 ? true : undefined), 'a reset from the restarted agent', 30_000, { lastSeen: () => JSON.stringify(t.states.slice(-3)) });
    assert.equal(resets[1].reason, 'agent_restarted');
    assert.notEqual(t.sup.agent!.pid, old);
    liveAgentPid(data);
    // The re-read: the new agent knows both uploads (its ledger survived the kill).
    const client = t.sup.client!;
    const all = await client.call<{ uploads: UploadView[] }>('GET', '/api/uploads');
    assert.equal(all.uploads.length, 2);
    assert.ok(all.uploads.every((u) => u.state === 'completed'), JSON.stringify(all.uploads.map((u) => u.state)));

    const c = await upload(client, 'c.zip');
    await waitFor(completedSeen(c), 'upload c completed, from the new agent', 30_000);
    const fresh = got.slice(resets[1].afterEvents);
    assert.ok(fresh.length > 0);
    assert.ok(fresh.every((e) => idOf(e).run !== oldRun), 'from the new agent only');
    assert.equal(idOf(fresh[0]).n, idOf({ id: resets[1].lastId }).n + 1, 'the first event after the reset follows it');
    assert.deepEqual(resets.map((r) => r.reason), ['initial', 'agent_restarted']);
    assertOnceAndInOrder();
  });
});
