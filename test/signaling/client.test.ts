import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { isAppError } from '../../src/core/errors.js';
import { signalingClientMessage, type SignalingClientMessage } from '../../src/core/schemas/signaling.js';
import { SignalingClient, type SignalingClientOptions } from '../../src/core/signaling/SignalingClient.js';
import { isSignalingError } from '../../src/core/signaling/SignalingError.js';
import { waitFor } from '../support/wait.js';

/**
 * The client's reconnect, liveness and request logic against a scripted in-process server: each
 * test says how the server treats every connection (`onConnection`) and every frame (`onFrame`).
 */
interface Script {
  onFrame(ws: WebSocket, msg: SignalingClientMessage, connIndex: number): void;
}

let wss: WebSocketServer;
let url: string;
let script: Script;
let connections: { at: number; ws: WebSocket; frames: SignalingClientMessage[] }[] = [];

const send = (ws: WebSocket, msg: object): void => ws.send(JSON.stringify(msg));
const registered = (ws: WebSocket, m: SignalingClientMessage): void => {
  if (m.type === 'register') send(ws, { type: 'registered', peer_id: m.peer_id, room_id: m.room_id, request_id: m.request_id });
};

function options(extra: Partial<SignalingClientOptions> = {}): SignalingClientOptions {
  return { url, peerId: 'w1', role: 'worker', roomId: 'lab', token: 't'.repeat(20), metadata: { tags: ['gpu'], properties: { status: 'available' } }, backoff: { initialMs: 50, maxMs: 400, jitter: 0 }, livenessTimeoutMs: 5000, requestTimeoutMs: 3000, ...extra };
}

describe('SignalingClient against a scripted server', () => {
  const clients: SignalingClient[] = [];
  const make = (extra: Partial<SignalingClientOptions> = {}): SignalingClient => {
    const c = new SignalingClient(options(extra));
    clients.push(c);
    return c;
  };

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (ws, req) => {
      assert.equal(req.headers.authorization, `Bearer ${'t'.repeat(20)}`);
      const index = connections.length;
      const entry = { at: Date.now(), ws, frames: [] as SignalingClientMessage[] };
      connections.push(entry);
      ws.on('message', (d: Buffer) => {
        const msg = signalingClientMessage.parse(JSON.parse(d.toString()));
        entry.frames.push(msg);
        script.onFrame(ws, msg, index);
      });
    });
  });
  after(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  test('reconnects with doubling backoff and registers again with the same id and current metadata', async () => {
    connections = [];
    // The first four connections are cut right after register; the fifth stays.
    script = {
      onFrame(ws, m, i) {
        if (m.type !== 'register') return;
        if (i < 4) return void ws.terminate();
        registered(ws, m);
      },
    };
    const c = make();
    await c.connect({ signal: AbortSignal.timeout(5000) });
    assert.equal(connections.length, 5);
    const gaps = connections.slice(1).map((x, i) => x.at - connections[i].at);
    // At least 50, 100, 200, 400 ms (plus connect time): the doubling shows in the lower bounds,
    // which a loaded machine cannot break (it can only make gaps longer; the connect's own 5 s
    // timeout bounds them from above).
    for (const [i, want] of [50, 100, 200, 400].entries()) assert.ok(gaps[i] >= want - 5, `gap ${i} was ${gaps[i]} ms, want at least ${want}`);
    for (const conn of connections) {
      assert.deepEqual({ ...conn.frames[0], request_id: undefined }, { type: 'register', peer_id: 'w1', role: 'worker', room_id: 'lab', metadata: { tags: ['gpu'], properties: { status: 'available' } }, request_id: undefined });
    }
    await c.close();
  });

  test('nothing heard for the liveness timeout: the client drops the socket and reconnects', async () => {
    connections = [];
    script = { onFrame: registered }; // registers, then never pings
    const c = make({ livenessTimeoutMs: 300 });
    await c.connect();
    let reRegisteredAt: number | undefined;
    const off = c.onRegistered(() => {
      off();
      reRegisteredAt = Date.now();
    });
    // Dropping the socket is all the claim; how soon after the timeout depends on the machine's
    // load, so only the lower bound is asserted (never before 300 ms of silence).
    const t = await waitFor(() => reRegisteredAt, 'the client to drop the silent socket and register again', 10_000, { intervalMs: 10 });
    assert.equal(connections.length, 2);
    const silent = t - connections[0].at;
    assert.ok(silent >= 300, `reconnected after ${silent} ms of silence, before the 300 ms liveness timeout`);
    await c.close();
  });

  test('server pings keep it alive, and it answers each with pong', async () => {
    connections = [];
    script = { onFrame: registered };
    const c = make({ livenessTimeoutMs: 300 });
    await c.connect();
    const ws = connections[0].ws;
    const timer = setInterval(() => send(ws, { type: 'ping' }), 100);
    // Seven pongs: pings 100 ms apart for at least 600 ms, twice the 300 ms liveness timeout.
    const pongs = (): number => connections[0].frames.filter((f) => f.type === 'pong').length;
    try {
      await waitFor(() => pongs() >= 7 || connections.length > 1, 'seven pongs on the first connection', 10_000, { intervalMs: 10 });
    } finally {
      clearInterval(timer);
    }
    assert.equal(connections.length, 1, 'no reconnect while pinged');
    assert.ok(pongs() >= 7);
    await c.close();
  });

  test('a request in flight when the connection drops is sent again after re-register', async () => {
    connections = [];
    script = {
      onFrame(ws, m, i) {
        registered(ws, m);
        if (m.type === 'discover_peers' && i === 0) ws.terminate();
        if (m.type === 'discover_peers' && i > 0) send(ws, { type: 'peer_list', peers: [{ peer_id: 'w2', role: 'worker', metadata: { tags: [], properties: {} } }], request_id: m.request_id });
      },
    };
    const c = make();
    await c.connect();
    const peers = await c.discover({ role: 'worker' }, { signal: AbortSignal.timeout(3000) });
    assert.deepEqual(peers.map((p) => p.peer_id), ['w2']);
    assert.equal(connections.length, 2);
    await c.close();
  });

  test('requests honour their signal and timeout; bad filters are refused before sending', async () => {
    connections = [];
    script = { onFrame: registered }; // never answers discover
    const c = make({ requestTimeoutMs: 200 });
    await c.connect();
    await assert.rejects(c.discover({}), (e) => isAppError(e, 'timeout'));
    await assert.rejects(c.discover({}, { signal: AbortSignal.abort() }), (e) => isAppError(e, 'aborted'));
    await assert.rejects(c.discover({ properties: { x: { $regex: '.*' } } } as never), (e) => isSignalingError(e, 'bad_message'));
    assert.equal(connections[0].frames.filter((f) => f.type === 'discover_peers').length, 1, 'only the timed-out one went out');
    await c.close();
  });

  test('replaced by another connection with the same peer id (close 4000): stops with duplicate_peer instead of fighting', async () => {
    connections = [];
    script = {
      onFrame(ws, m) {
        registered(ws, m);
        if (m.type === 'register') setTimeout(() => ws.close(4000, 'replaced by a newer connection of the same peer id'), 50);
      },
    };
    const c = make();
    const closed = new Promise<Error | undefined>((resolve) => c.onClosed(resolve));
    await c.connect();
    const reason = await closed;
    assert.ok(isSignalingError(reason, 'duplicate_peer'));
    assert.equal(c.state, 'closed');
    await assert.rejects(c.discover({}), (e) => isSignalingError(e, 'duplicate_peer'));
    assert.equal(connections.length, 1);
  });

  test('invalid frames from the server are ignored; valid relays become typed events', async () => {
    connections = [];
    script = { onFrame: registered };
    const c = make();
    await c.connect();
    const got: string[] = [];
    c.onMessage((m) => got.push(m.type));
    const offer = new Promise((resolve) => c.onOffer(resolve));
    const ws = connections[0].ws;
    ws.send('not json');
    send(ws, { type: 'offer', sender: 'bad id!', target: 'w1', sdp: 'x' });
    send(ws, { type: 'launch_missiles' });
    send(ws, { type: 'offer', sender: 'c1', target: 'w1', sdp: 'v=0' });
    assert.deepEqual(await offer, { type: 'offer', sender: 'c1', target: 'w1', sdp: 'v=0' });
    assert.deepEqual(got, ['offer']);
    await c.close();
  });
});
