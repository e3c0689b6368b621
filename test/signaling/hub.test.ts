import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SignalingClientMessage, SignalingServerMessage } from '../../src/core/schemas/signaling.js';
import { signalingClientMessage } from '../../src/core/schemas/signaling.js';
import { SignalingError } from '../../src/core/signaling/SignalingError.js';
import { CLOSE_REPLACED, SignalingHub, type HubConnection } from '../../src/server/signaling/SignalingHub.js';

const TOKENS: Record<string, string> = { 'lab-token': 'lab', 'other-token': 'other' };

class FakeConn implements HubConnection {
  sent: SignalingServerMessage[] = [];
  closedWith?: { code: number; reason: string };
  terminated = false;
  probes = 0;
  send(msg: SignalingServerMessage): void {
    this.sent.push(structuredClone(msg));
  }
  probe(): void {
    this.probes++;
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }
  terminate(): void {
    this.terminated = true;
  }
  of<T extends SignalingServerMessage['type']>(type: T): Extract<SignalingServerMessage, { type: T }>[] {
    return this.sent.filter((m): m is Extract<SignalingServerMessage, { type: T }> => m.type === type);
  }
  last(): SignalingServerMessage | undefined {
    return this.sent.at(-1);
  }
}

function setup(): { hub: SignalingHub; clock: { t: number }; connect(headerRoom?: string): FakeConn; say(c: FakeConn, raw: unknown): void } {
  const clock = { t: 1_000_000 };
  const hub = new SignalingHub({
    roomOfToken: (t) => {
      const room = TOKENS[t];
      if (!room) throw new SignalingError('unauthorized', 'unknown room token');
      return room;
    },
    peerTimeoutMs: 1000,
    registerTimeoutMs: 5000,
    now: () => clock.t,
  });
  return {
    hub,
    clock,
    connect(headerRoom?: string) {
      const c = new FakeConn();
      hub.open(c, { headerRoom });
      return c;
    },
    // Frames go through the schema as the transport does, so defaults apply.
    say(c: FakeConn, raw: unknown) {
      hub.receive(c, signalingClientMessage.parse(raw) as SignalingClientMessage);
    },
  };
}

function register(h: ReturnType<typeof setup>, peerId: string, opts: { role?: 'worker' | 'client'; room?: string; token?: string; metadata?: unknown } = {}): FakeConn {
  const c = h.connect();
  const room = opts.room ?? 'lab';
  h.say(c, { type: 'register', peer_id: peerId, role: opts.role ?? 'worker', room_id: room, token: opts.token ?? `${room}-token`, ...(opts.metadata ? { metadata: opts.metadata } : {}) });
  assert.equal(c.of('registered').length, 1, JSON.stringify(c.sent));
  return c;
}

describe('SignalingHub', () => {
  test('register needs a token for the named room; a wrong one is refused with unauthorized and the socket closed', () => {
    const h = setup();
    const bad = h.connect();
    h.say(bad, { type: 'register', peer_id: 'w1', role: 'worker', room_id: 'lab', token: 'nope', request_id: 'r1' });
    assert.deepEqual(bad.last(), { type: 'error', code: 'unauthorized', reason: 'unauthorized', message: 'unknown room token', request_id: 'r1' });
    assert.equal(bad.closedWith?.code, 1008);

    const wrongRoom = h.connect();
    h.say(wrongRoom, { type: 'register', peer_id: 'w1', role: 'worker', room_id: 'lab', token: 'other-token' });
    assert.equal((wrongRoom.last() as { reason: string }).reason, 'wrong_room');

    const none = h.connect();
    h.say(none, { type: 'register', peer_id: 'w1', role: 'worker', room_id: 'lab' });
    assert.equal((none.last() as { reason: string }).reason, 'missing_token');

    // The room proven by the upgrade's Authorization header is enough.
    const viaHeader = h.connect('lab');
    h.say(viaHeader, { type: 'register', peer_id: 'w1', role: 'worker', room_id: 'lab', request_id: 'r2' });
    assert.deepEqual(viaHeader.last(), { type: 'registered', peer_id: 'w1', room_id: 'lab', metadata: { tags: [], properties: {} }, request_id: 'r2' });
    assert.deepEqual(h.hub.peersOf('lab').map((p) => p.peer_id), ['w1']);
  });

  test('messages before register are refused with not_registered', () => {
    const h = setup();
    const c = h.connect();
    h.say(c, { type: 'discover_peers', request_id: 'd1' });
    assert.deepEqual(c.last(), { type: 'error', code: 'not_registered', reason: 'not_registered', message: 'send "register" before "discover_peers"', request_id: 'd1' });
    assert.equal(c.closedWith, undefined);
  });

  test('discover_peers lists only the caller\'s room, without itself, filtered by role, tags (any) and properties', () => {
    const h = setup();
    register(h, 'w-big', { metadata: { tags: ['gpu', 'a100'], properties: { gpu_memory_mb: 40960, status: 'available', gpu_model: 'A100' } } });
    register(h, 'w-small', { metadata: { tags: ['gpu'], properties: { gpu_memory_mb: 8192, status: 'available' } } });
    register(h, 'w-busy', { metadata: { tags: ['cpu'], properties: { gpu_memory_mb: 24576, status: 'busy' } } });
    register(h, 'w-else', { room: 'other', metadata: { tags: ['gpu'], properties: { gpu_memory_mb: 99999, status: 'available' } } });
    const me = register(h, 'me', { role: 'client' });

    const ids = (filters: unknown): string[] => {
      h.say(me, { type: 'discover_peers', filters });
      const list = me.last() as Extract<SignalingServerMessage, { type: 'peer_list' }>;
      assert.equal(list.type, 'peer_list');
      return list.peers.map((p) => p.peer_id).sort();
    };
    assert.deepEqual(ids({}), ['w-big', 'w-busy', 'w-small']);
    assert.deepEqual(ids({ role: 'client' }), []);
    assert.deepEqual(ids({ role: 'worker', properties: { gpu_memory_mb: { $gte: 16000 } } }), ['w-big', 'w-busy']);
    assert.deepEqual(ids({ properties: { gpu_memory_mb: { $gte: 8192, $lte: 24576 } } }), ['w-busy', 'w-small']);
    assert.deepEqual(ids({ properties: { status: 'available' } }), ['w-big', 'w-small']);
    assert.deepEqual(ids({ properties: { status: { $eq: 'busy' } } }), ['w-busy']);
    assert.deepEqual(ids({ tags: ['a100', 'cpu'] }), ['w-big', 'w-busy']);
    assert.deepEqual(ids({ tags: [] }), ['w-big', 'w-busy', 'w-small']);
    assert.deepEqual(ids({ properties: { gpu_model: { $gte: 1 } } }), [], '$gte never matches a string');
    assert.deepEqual(ids({ properties: { missing: { $lte: 1 } } }), []);
    assert.deepEqual(ids({ properties: { gpu_model: {} } }), ['w-big'], '{} asks that the property exists');
    assert.deepEqual(ids({ tags: ['gpu'], properties: { status: 'available', gpu_memory_mb: { $gte: 10000 } } }), ['w-big']);
  });

  test('update_metadata replaces tags when given and merges properties; discover sees it', () => {
    const h = setup();
    const w = register(h, 'w1', { metadata: { tags: ['gpu'], properties: { status: 'available', gpu_memory_mb: 8192 } } });
    const c = register(h, 'c1', { role: 'client' });
    h.say(w, { type: 'update_metadata', metadata: { properties: { status: 'busy', job: 'j1' } }, request_id: 'u1' });
    assert.deepEqual(w.last(), { type: 'metadata_updated', metadata: { tags: ['gpu'], properties: { status: 'busy', gpu_memory_mb: 8192, job: 'j1' } }, request_id: 'u1' });
    h.say(w, { type: 'update_metadata', metadata: { tags: ['gpu', 'h100'] } });
    h.say(c, { type: 'discover_peers', filters: { tags: ['h100'], properties: { status: 'busy' } } });
    assert.deepEqual((c.last() as { peers: unknown }).peers, [{ peer_id: 'w1', role: 'worker', metadata: { tags: ['gpu', 'h100'], properties: { status: 'busy', gpu_memory_mb: 8192, job: 'j1' } } }]);
  });

  test('peer_message, offer, answer and candidate are relayed inside a room only; other rooms and unknown ids get the same unknown_peer', () => {
    const h = setup();
    const w = register(h, 'w1');
    const c = register(h, 'c1', { role: 'client' });
    const stranger = register(h, 's1', { room: 'other' });

    h.say(c, { type: 'peer_message', from_peer_id: 'c1', to_peer_id: 'w1', payload: { app_message_type: 'job_request', job_id: 'j1', extra: { deep: [1, 2] } } });
    assert.deepEqual(w.last(), { type: 'peer_message', from_peer_id: 'c1', to_peer_id: 'w1', payload: { app_message_type: 'job_request', job_id: 'j1', extra: { deep: [1, 2] } } });
    h.say(c, { type: 'offer', sender: 'c1', target: 'w1', sdp: 'v=0 offer' });
    assert.deepEqual(w.last(), { type: 'offer', sender: 'c1', target: 'w1', sdp: 'v=0 offer' });
    h.say(w, { type: 'answer', sender: 'w1', target: 'c1', sdp: 'v=0 answer' });
    assert.deepEqual(c.last(), { type: 'answer', sender: 'w1', target: 'c1', sdp: 'v=0 answer' });
    h.say(w, { type: 'candidate', sender: 'w1', target: 'c1', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
    assert.equal(c.last()?.type, 'candidate');

    const wBefore = w.sent.length;
    h.say(stranger, { type: 'peer_message', from_peer_id: 's1', to_peer_id: 'w1', payload: { app_message_type: 'job_request' }, request_id: 'x1' });
    const crossRoom = stranger.last();
    h.say(stranger, { type: 'offer', sender: 's1', target: 'nobody', sdp: 'v=0', request_id: 'x1' });
    const unknown = stranger.last();
    assert.deepEqual(crossRoom, { type: 'error', code: 'unknown_peer', reason: 'unknown_peer', message: 'no peer "w1" in this room', peer_id: 'w1', request_id: 'x1' });
    assert.deepEqual({ ...(unknown as object), peer_id: 'w1', message: '' }, { ...(crossRoom as object), message: '' }, 'a peer in another room looks exactly like an unknown one');
    assert.equal(w.sent.length, wBefore, 'nothing reached the other room');
  });

  test('a relay must name the connection\'s own peer id as its sender', () => {
    const h = setup();
    const w = register(h, 'w1');
    const c = register(h, 'c1', { role: 'client' });
    h.say(c, { type: 'peer_message', from_peer_id: 'w1', to_peer_id: 'w1', payload: { app_message_type: 'job_complete' } });
    assert.equal((c.last() as { reason: string }).reason, 'sender_mismatch');
    assert.equal(w.of('peer_message').length, 0);
  });

  test('peer_joined and peer_left are broadcast to the room only', () => {
    const h = setup();
    const c = register(h, 'c1', { role: 'client' });
    const stranger = register(h, 's1', { room: 'other' });
    const w = register(h, 'w1', { metadata: { tags: ['gpu'] } });
    assert.deepEqual(c.of('peer_joined'), [{ type: 'peer_joined', peer: { peer_id: 'w1', role: 'worker', metadata: { tags: ['gpu'], properties: {} } } }]);
    h.hub.closed(w);
    assert.deepEqual(c.of('peer_left'), [{ type: 'peer_left', peer_id: 'w1', reason: 'closed' }]);
    assert.equal(stranger.of('peer_joined').length + stranger.of('peer_left').length, 0);
    assert.deepEqual(h.hub.peersOf('lab').map((p) => p.peer_id), ['c1']);
  });

  test('a reconnect with the same peer id replaces the old socket without peer_left and keeps metadata when register has none', () => {
    const h = setup();
    const c = register(h, 'c1', { role: 'client' });
    const old = register(h, 'w1', { metadata: { tags: ['gpu'], properties: { status: 'available' } } });
    h.say(old, { type: 'update_metadata', metadata: { properties: { gpu_memory_mb: 24576 } } });

    const fresh = register(h, 'w1');
    assert.deepEqual(old.closedWith, { code: CLOSE_REPLACED, reason: 'replaced by a newer connection of the same peer id' });
    assert.deepEqual(fresh.of('registered')[0].metadata, { tags: ['gpu'], properties: { status: 'available', gpu_memory_mb: 24576 } });
    h.hub.closed(old); // the old socket's close event arrives later
    assert.equal(c.of('peer_left').length, 0);
    assert.equal(c.of('peer_joined').length, 2, 'the room hears the re-register');

    // Frames on the replaced socket are ignored; the new one routes.
    h.say(old, { type: 'peer_message', from_peer_id: 'w1', to_peer_id: 'c1', payload: { app_message_type: 'job_status' } });
    h.say(fresh, { type: 'peer_message', from_peer_id: 'w1', to_peer_id: 'c1', payload: { app_message_type: 'job_status' } });
    assert.equal(c.of('peer_message').length, 1);

    // A register that carries metadata (what the client holds) replaces it.
    const third = register(h, 'w1', { metadata: { tags: [], properties: { status: 'busy' } } });
    assert.deepEqual(third.of('registered')[0].metadata, { tags: [], properties: { status: 'busy' } });
  });

  test('a registered connection cannot switch to another peer id', () => {
    const h = setup();
    const c = register(h, 'c1', { role: 'client' });
    h.say(c, { type: 'register', peer_id: 'c2', role: 'client', room_id: 'lab', token: 'lab-token' });
    assert.equal((c.last() as { reason: string }).reason, 'already_registered');
    assert.deepEqual(h.hub.peersOf('lab').map((p) => p.peer_id), ['c1']);
  });

  test('sweep pings live peers and drops silent ones past the deadline with peer_left reason timeout', () => {
    const h = setup();
    const c = register(h, 'c1', { role: 'client' });
    const w = register(h, 'w1');
    const lurker = h.connect();
    h.clock.t += 600;
    h.hub.sweep();
    assert.equal(c.of('ping').length, 1);
    assert.equal(w.probes, 1);
    h.hub.heard(c); // c answers (a pong or a WebSocket pong)
    h.clock.t += 600; // w has been silent 1200 ms > 1000 ms
    h.hub.sweep();
    assert.equal(w.terminated, true);
    assert.deepEqual(c.of('peer_left'), [{ type: 'peer_left', peer_id: 'w1', reason: 'timeout' }]);
    assert.equal(lurker.terminated, true, 'a silent unregistered socket is dropped too');
    assert.equal(c.terminated, false);
    assert.deepEqual(h.hub.peersOf('lab').map((p) => p.peer_id), ['c1']);
  });

  test('a connection that never registers is closed after the register timeout even if it keeps talking', () => {
    const h = setup();
    const c = h.connect();
    for (let i = 0; i < 6; i++) {
      h.clock.t += 900;
      h.say(c, { type: 'ping' });
      h.hub.sweep();
    }
    assert.equal(c.closedWith?.code, 1008);
    assert.ok(c.of('error').some((e) => e.reason === 'register_timeout'));
  });
});
