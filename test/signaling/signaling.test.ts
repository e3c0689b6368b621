import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isSignalingError } from '../../src/core/signaling/SignalingError.js';
import { SignalingClient } from '../../src/core/signaling/SignalingClient.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { holdsFor, waitFor } from '../support/wait.js';
import {
  ALLOWED_ORIGIN,
  clientOptions,
  PEER_TIMEOUT_S,
  PING_INTERVAL_S,
  rawSocket,
  spawnPeer,
  startSignalingServer,
  upgradeStatus,
  waitEvent,
  type PeerProc,
  type SignalingServerProc,
} from './setup.js';

const GPU1_META = { tags: ['gpu', 'a100'], properties: { gpu_memory_mb: 40960, gpu_model: 'A100', status: 'available' } };

describe('signaling in `sleap-rtc server` (real processes)', () => {
  let store: EmbeddedStoreTarget;
  let srv: SignalingServerProc;
  /** A worker in its own process, registered with its token in `register` as sleap-rtc does. */
  let gpu1: PeerProc;
  const clients: SignalingClient[] = [];
  const procs: PeerProc[] = [];

  const client = async (peerId: string, extra: Parameters<typeof clientOptions>[2] = {}): Promise<SignalingClient> => {
    const c = new SignalingClient(clientOptions(srv, peerId, extra));
    clients.push(c);
    await c.connect({ signal: AbortSignal.timeout(10_000) });
    return c;
  };
  const ids = (peers: { peer_id: string }[]): string[] => peers.map((p) => p.peer_id).sort();

  before(async () => {
    store = await startEmbeddedStore();
    srv = await startSignalingServer(store);
    gpu1 = await spawnPeer(clientOptions(srv, 'gpu-1', { role: 'worker', tokenIn: 'message', metadata: GPU1_META }));
    procs.push(gpu1);
  });
  after(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(procs.map((p) => p.kill('SIGKILL')));
    await srv?.stop();
    await store?.stop();
  });

  test('register, then discover_peers with $gte, tags (any) and status equality, scoped to the room', async () => {
    const small = await client('w-small', { role: 'worker', metadata: { tags: ['gpu'], properties: { gpu_memory_mb: 8192, status: 'available' } } });
    const busy = await client('w-busy', { role: 'worker', metadata: { tags: ['cpu'], properties: { gpu_memory_mb: 24576, status: 'busy' } } });
    const c = await client('c-discover');
    const stranger = await client('s-discover', { room: 'other' });

    assert.deepEqual(ids(await c.discover({ role: 'worker', properties: { gpu_memory_mb: { $gte: 16000 } } })), ['gpu-1', 'w-busy']);
    assert.deepEqual(ids(await c.discover({ role: 'worker', tags: ['a100', 'cpu'] })), ['gpu-1', 'w-busy']);
    assert.deepEqual(ids(await c.discover({ role: 'worker', properties: { status: 'available' } })), ['gpu-1', 'w-small']);
    assert.deepEqual(ids(await c.discover({ properties: { status: { $eq: 'busy' }, gpu_memory_mb: { $lte: 30000 } } })), ['w-busy']);
    const [gpu] = await c.discover({ tags: ['a100'] });
    assert.deepEqual(gpu, { peer_id: 'gpu-1', role: 'worker', metadata: GPU1_META });
    assert.deepEqual(await stranger.discover({}), [], 'another room sees none of lab\'s peers');

    await Promise.all([small.close(), busy.close()]);
  });

  test('update_metadata merges (properties kept, tags replaced) and discover sees the merged metadata', async () => {
    const w = await client('w-merge', { role: 'worker', metadata: { tags: ['gpu'], properties: { gpu_memory_mb: 12288, status: 'available' } } });
    const c = await client('c-merge');
    const merged = await w.updateMetadata({ tags: ['gpu', 'rtx'], properties: { status: 'busy' } });
    assert.deepEqual(merged, { tags: ['gpu', 'rtx'], properties: { gpu_memory_mb: 12288, status: 'busy' } });
    assert.deepEqual(w.metadata, merged);
    assert.deepEqual(await c.discover({ tags: ['rtx'], properties: { status: 'busy', gpu_memory_mb: { $gte: 12288 } } }), [{ peer_id: 'w-merge', role: 'worker', metadata: merged }]);
    await assert.rejects(w.updateMetadata({ tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }), (e) => isSignalingError(e, 'bad_message'));
    await w.close();
  });

  test('peer_message is routed to a worker process in the room and refused across rooms with unknown_peer', async () => {
    const c = await client('c-jobs');
    const stranger = await client('s-jobs', { room: 'other' });

    const reply = waitEvent(c, 'peer_message', (m) => m.from_peer_id === 'gpu-1' && m.payload.job_id === 'job-1');
    await c.sendPeerMessage('gpu-1', { app_message_type: 'job_request', job_id: 'job-1', config: { trainer: 'builtin' } });
    const resp = await reply;
    assert.deepEqual(resp.payload, { app_message_type: 'job_response', job_id: 'job-1', accepted: true });
    const got = await gpu1.waitLine((l) => l.event === 'peer_message' && (l.payload as { job_id?: string }).job_id === 'job-1');
    assert.deepEqual(got.payload, { app_message_type: 'job_request', job_id: 'job-1', config: { trainer: 'builtin' } }, 'the payload arrives unread and whole');

    const refused = waitEvent(stranger, 'server_error');
    await stranger.sendPeerMessage('gpu-1', { app_message_type: 'job_request', job_id: 'job-x-room' });
    const err = await refused;
    assert.equal(err.signalingCode, 'unknown_peer');
    assert.equal(err.peerId, 'gpu-1');
    const unknown = waitEvent(c, 'server_error');
    await c.sendPeerMessage('no-such-peer', { app_message_type: 'job_request', job_id: 'job-nobody' });
    assert.equal((await unknown).signalingCode, 'unknown_peer', 'an unknown id and a peer of another room answer the same');

    // A marker sent after the refused one arrives; the refused one never did.
    await c.sendPeerMessage('gpu-1', { app_message_type: 'job_request', job_id: 'job-marker' });
    await gpu1.waitLine((l) => l.event === 'peer_message' && (l.payload as { job_id?: string }).job_id === 'job-marker');
    assert.equal(gpu1.lines.filter((l) => (l.payload as { job_id?: string } | undefined)?.job_id === 'job-x-room').length, 0);
  });

  test('offer, answer and candidate are relayed between processes', async () => {
    const c = await client('c-rtc');
    const answered = waitEvent(c, 'answer', (m) => m.sender === 'gpu-1');
    await c.sendOffer('gpu-1', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n');
    const answer = await answered;
    assert.deepEqual(answer, { type: 'answer', sender: 'gpu-1', target: 'c-rtc', sdp: 'answer:v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n' });

    const cand = { candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
    const echoed = waitEvent(c, 'candidate', (m) => m.sender === 'gpu-1');
    await c.sendCandidate('gpu-1', cand);
    assert.deepEqual(await echoed, { type: 'candidate', sender: 'gpu-1', target: 'c-rtc', candidate: cand });
  });

  test('bad frames (non-JSON, unknown type, bad fields, binary, oversize) get coded errors and the socket stays usable', async () => {
    const { ws, next } = await rawSocket(srv, { authorization: `Bearer ${srv.rooms.lab}` });
    try {
      ws.send(JSON.stringify({ type: 'discover_peers', request_id: 'early' }));
      assert.deepEqual(await next(), { type: 'error', code: 'not_registered', reason: 'not_registered', message: 'send "register" before "discover_peers"', request_id: 'early' });
      ws.send(JSON.stringify({ type: 'register', peer_id: 'raw-1', role: 'client', room_id: 'lab', request_id: 'r' }));
      assert.equal((await next()).type, 'registered');

      const cases: [string | Buffer, string][] = [
        ['{"type": "register", oops', 'invalid_json'],
        [JSON.stringify({ type: 'shutdown', request_id: 'u1' }), 'unknown_type'],
        [JSON.stringify({ type: 'discover_peers', filters: { properties: { x: { $regex: '.*' } } } }), 'invalid_fields'],
        [Buffer.from([1, 2, 3]), 'binary_frame'],
        [JSON.stringify({ type: 'peer_message', from_peer_id: 'raw-1', to_peer_id: 'gpu-1', payload: { app_message_type: 'x', blob: 'A'.repeat(300 * 1024) } }), 'too_large'],
      ];
      for (const [frame, reason] of cases) {
        ws.send(frame);
        const e = await next();
        assert.equal(e.type, 'error', JSON.stringify(e));
        assert.equal((e as { code: string }).code, 'bad_message');
        assert.equal((e as { reason: string }).reason, reason);
        assert.equal(typeof (e as { message: string }).message, 'string');
      }
      ws.send(JSON.stringify({ type: 'discover_peers', filters: { tags: ['a100'] }, request_id: 'after' }));
      const list = await next();
      assert.equal(list.type, 'peer_list');
      assert.equal((list as { request_id?: string }).request_id, 'after');
      assert.equal(ws.readyState, ws.OPEN);
    } finally {
      ws.terminate();
    }
  });

  test('a flood of frames is rate limited with a coded error; the socket recovers', async () => {
    const { ws, next } = await rawSocket(srv, { authorization: `Bearer ${srv.rooms.lab}` });
    try {
      ws.send(JSON.stringify({ type: 'register', peer_id: 'raw-flood', role: 'client', room_id: 'lab' }));
      assert.equal((await next()).type, 'registered');
      for (let i = 0; i < 300; i++) ws.send('{"type":"pong"}');
      const e = await next();
      assert.equal((e as { code: string }).code, 'rate_limited');
      // Frames are dropped until the budget refills (50 a second): ping until one is answered.
      let n = 0;
      const pong = await waitFor(
        async () => {
          const id = `p${++n}`;
          ws.send(JSON.stringify({ type: 'ping', request_id: id }));
          return next((m) => m.type === 'pong' && (m as { request_id?: string }).request_id === id, 250).catch(() => undefined);
        },
        'a ping answered once the rate limit lets frames through again',
        10_000,
        { intervalMs: 1 },
      );
      assert.deepEqual(pong, { type: 'pong', request_id: `p${n}` });
    } finally {
      ws.terminate();
    }
  });

  test('a wrong token is refused (header: HTTP 401; register: error unauthorized) and the client does not retry', async () => {
    const byHeader = new SignalingClient(clientOptions(srv, 'c-bad-header', { token: 'x'.repeat(32) }));
    clients.push(byHeader);
    await assert.rejects(byHeader.connect({ signal: AbortSignal.timeout(5000) }), (e) => isSignalingError(e, 'unauthorized'));
    assert.equal(byHeader.state, 'closed');

    const byMessage = new SignalingClient(clientOptions(srv, 'c-bad-msg', { token: 'y'.repeat(32), tokenIn: 'message' }));
    clients.push(byMessage);
    await assert.rejects(byMessage.connect({ signal: AbortSignal.timeout(5000) }), (e) => isSignalingError(e, 'unauthorized'));

    const wrongRoom = new SignalingClient(clientOptions(srv, 'c-wrong-room', { token: srv.rooms.other, tokenIn: 'message' }));
    clients.push(wrongRoom);
    await assert.rejects(wrongRoom.connect({ signal: AbortSignal.timeout(5000) }), (e) => isSignalingError(e, 'unauthorized') && e.reason === 'wrong_room');
  });

  test('browser upgrades are refused unless their Origin is allowed; native clients send none', async () => {
    const auth = { authorization: `Bearer ${srv.rooms.lab}` };
    assert.equal(await upgradeStatus(srv, '/ws', { ...auth, origin: 'http://evil.localhost' }), 403);
    assert.equal(await upgradeStatus(srv, '/ws', { ...auth, origin: ALLOWED_ORIGIN }), 101);
    assert.equal(await upgradeStatus(srv, '/ws', auth), 101);
    assert.equal(await upgradeStatus(srv, '/elsewhere', auth), 404);
  });

  test('a SIGKILLed peer process leaves: its room gets peer_left', async () => {
    const c = await client('c-watch-kill');
    const doomed = await spawnPeer(clientOptions(srv, 'doomed', { role: 'worker' }));
    procs.push(doomed);
    assert.deepEqual(ids(await c.discover({ role: 'worker', tags: [] })).includes('doomed'), true);
    const left = waitEvent(c, 'peer_left', (m) => m.peer_id === 'doomed', 5000);
    await doomed.kill('SIGKILL');
    assert.deepEqual(await left, { type: 'peer_left', peer_id: 'doomed', reason: 'closed' });
    assert.equal(ids(await c.discover({})).includes('doomed'), false);
  });

  test('a frozen peer (SIGSTOP) misses the ping deadline and is dropped; resumed, it re-registers under the same id', async () => {
    const c = await client('c-watch-freeze');
    const frozen = await spawnPeer(clientOptions(srv, 'frozen', { role: 'worker', metadata: { tags: ['gpu'], properties: { status: 'available' } } }));
    procs.push(frozen);
    let dropped = false;
    const left = waitEvent(c, 'peer_left', (m) => m.peer_id === 'frozen', 10_000);
    void left.then(() => (dropped = true), () => undefined);
    frozen.child.kill('SIGSTOP');
    try {
      // Not before its deadline: it was last heard at the ping before SIGSTOP, up to one interval
      // earlier, so it stays registered for at least PEER_TIMEOUT_S - PING_INTERVAL_S.
      await holdsFor(() => !dropped, 'the frozen peer stays registered until its ping deadline', (PEER_TIMEOUT_S - PING_INTERVAL_S) * 1000, { intervalMs: 50 });
      // Then dropped, within the wait's bound.
      assert.deepEqual(await left, { type: 'peer_left', peer_id: 'frozen', reason: 'timeout' });
    } finally {
      frozen.child.kill('SIGCONT');
    }
    const back = await waitEvent(c, 'peer_joined', (m) => m.peer.peer_id === 'frozen', 10_000);
    assert.deepEqual(back.peer.metadata, { tags: ['gpu'], properties: { status: 'available' } });
  });

  // Last: it replaces the server process.
  test('server restart: clients and a worker process reconnect and re-register with the same ids and current metadata within 10 s', async () => {
    const c = await client('c-restart');
    const w = await client('w-restart', { role: 'worker', metadata: { tags: ['gpu'], properties: { gpu_memory_mb: 16384, status: 'available' } } });
    await w.updateMetadata({ properties: { status: 'busy', job_id: 'job-7' } });
    const gpu1Registrations = gpu1.lines.filter((l) => l.event === 'registered').length;

    const cBack = waitEvent(c, 'registered', () => true, 10_000);
    const wBack = waitEvent(w, 'registered', () => true, 10_000);
    // "Within 10 s" is the bound of each wait (registered events, the worker process's line).
    await srv.killAndRestart();
    const [cReg, wReg] = await Promise.all([cBack, wBack]);
    await gpu1.waitLine((l) => l.event === 'registered' && gpu1.lines.filter((x) => x.event === 'registered').length > gpu1Registrations, 10_000);
    assert.equal(cReg.peer_id, 'c-restart');
    assert.deepEqual(wReg.metadata, { tags: ['gpu'], properties: { gpu_memory_mb: 16384, status: 'busy', job_id: 'job-7' } });

    const peers = await c.discover({ role: 'worker' });
    assert.deepEqual(peers.find((p) => p.peer_id === 'w-restart')?.metadata, { tags: ['gpu'], properties: { gpu_memory_mb: 16384, status: 'busy', job_id: 'job-7' } });
    assert.deepEqual(peers.find((p) => p.peer_id === 'gpu-1')?.metadata, GPU1_META);
    // Routing works again through the new server.
    const reply = waitEvent(c, 'peer_message', (m) => m.payload.job_id === 'job-after-restart');
    await c.sendPeerMessage('gpu-1', { app_message_type: 'job_request', job_id: 'job-after-restart' });
    await reply;
  });
});
