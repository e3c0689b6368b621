import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { MAX_CHUNK_BYTES } from '../../src/core/schemas/datachannel.js';
import { assertWebRtcSized, chunksOf, fileSize } from '../../src/core/rtc/fileChunks.js';
import { FileReceiver, type FileAck } from '../../src/core/rtc/FileReceiver.js';
import { Heartbeat } from '../../src/core/rtc/Heartbeat.js';
import { LOOPBACK_ICE, parseLinkConfig, peerConfig, RtcLink } from '../../src/core/rtc/index.js';
import { SendGate } from '../../src/core/rtc/SendGate.js';
import { pseudoRandom, sha256, streamOf } from './fixtures/content.js';

const KiB = 1024;

describe('link configuration', () => {
  test('defaults: no ICE servers, 1 s heartbeat, dead after 5 s, 1 MiB queue', () => {
    const c = parseLinkConfig();
    assert.deepEqual(c.iceServers, []);
    assert.equal(c.loopbackOnly, false);
    assert.equal(c.heartbeatIntervalMs, 1000);
    assert.equal(c.deadAfterMs, 5000);
    assert.equal(c.maxQueuedBytes, 1024 * KiB);
  });

  test('the werift config always names its ICE servers, so werift never falls back to its public STUN default', () => {
    assert.deepEqual(peerConfig(parseLinkConfig()), { iceServers: [] });
    const servers = [{ urls: 'stun:stun.example.internal:3478' }];
    assert.deepEqual(peerConfig(parseLinkConfig({ iceServers: servers })).iceServers, servers);
  });

  test('loopbackOnly applies the measured loopback settings', () => {
    assert.deepEqual(peerConfig(parseLinkConfig({ loopbackOnly: true })), {
      iceServers: [],
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
    });
    assert.deepEqual(LOOPBACK_ICE.iceAdditionalHostAddresses, ['127.0.0.1']);
  });

  test('an impossible config is refused with config_invalid', () => {
    assert.throws(() => parseLinkConfig({ heartbeatIntervalMs: 5000, deadAfterMs: 5000 }), (e) => isAppError(e, 'config_invalid') && /deadAfterMs/.test(e.message));
    assert.throws(() => parseLinkConfig({ maxQueuedBytes: 1000 }), (e) => isAppError(e, 'config_invalid'));
  });
});

describe('Heartbeat', () => {
  test('beats every interval, any frame keeps the peer alive, silence for deadAfterMs kills it once', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let now = 0;
    const sent: number[] = [];
    const dead: number[] = [];
    const hb = new Heartbeat({ intervalMs: 1000, deadAfterMs: 5000, now: () => now, send: (ts) => sent.push(ts), onDead: (ms) => dead.push(ms) });
    const advance = (ms: number): void => {
      for (let i = 0; i < ms / 1000; i++) {
        now += 1000;
        t.mock.timers.tick(1000);
      }
    };
    hb.start();
    assert.deepEqual(sent, [0]);
    advance(3000);
    hb.heard();
    advance(4000);
    assert.deepEqual(dead, [], 'heard 4 s ago: alive');
    assert.equal(sent.length, 8);
    advance(1000);
    assert.deepEqual(dead, [5000]);
    assert.equal(hb.running, false);
    advance(5000);
    assert.equal(dead.length, 1, 'declared dead once');
    assert.equal(sent.length, 8, 'no beats after death');
  });
});

describe('file chunking and the transport limit', () => {
  test('bytes in memory become <= 64 KiB chunks without copying', async () => {
    const data = pseudoRandom(200_000);
    const parts: Buffer[] = [];
    for await (const c of chunksOf(data)) parts.push(c);
    assert.deepEqual(parts.map((p) => p.length), [65536, 65536, 65536, 3392]);
    assert.equal(parts[0].buffer, data.buffer);
    assert.equal(sha256(Buffer.concat(parts)), sha256(data));
  });

  test('a stream of uneven pieces is re-cut into full 64 KiB chunks', async () => {
    async function* uneven(): AsyncGenerator<Uint8Array | string> {
      yield Buffer.from([1]);
      yield pseudoRandom(70_000, 7);
      yield 'abc';
      yield new Uint8Array(200_000);
    }
    const parts: Buffer[] = [];
    for await (const c of chunksOf(uneven())) parts.push(c);
    const total = 1 + 70_000 + 3 + 200_000;
    assert.ok(parts.slice(0, -1).every((p) => p.length === MAX_CHUNK_BYTES));
    assert.equal(parts.reduce((n, p) => n + p.length, 0), total);
    assert.equal(Buffer.concat(parts).subarray(70_001, 70_004).toString(), 'abc');
  });

  test('chooseTransport decides: a 10,000,001-byte model goes by S3, the same size of config may use WebRTC', () => {
    assert.throws(() => assertWebRtcSized('best.ckpt', 10_000_001, 'model'), (e) => isAppError(e, 'too_large') && e.details?.transport === 'S3' && /S3/.test(e.message));
    assert.throws(() => assertWebRtcSized('big.yaml', 100_000_001, 'config'), (e) => isAppError(e, 'too_large'));
    assertWebRtcSized('best.ckpt', 9_999_999, 'model');
    assertWebRtcSized('notes.json', 10_000_001, 'config');
  });

  test('a stream needs its size declared', () => {
    assert.throws(() => fileSize('x', streamOf(Buffer.alloc(1)), undefined), (e) => isAppError(e, 'bad_request'));
    assert.throws(() => fileSize('x', Buffer.alloc(3), 4), (e) => isAppError(e, 'bad_request'));
    assert.equal(fileSize('x', Buffer.alloc(3), undefined), 3);
  });
});

describe('FileReceiver', () => {
  function receiver() {
    const acks: FileAck[] = [];
    const files: { name: string; bytes: Buffer }[] = [];
    const errors: { name: string; code: string; error: string }[] = [];
    const stray: string[] = [];
    const r = new FileReceiver({ reply: (a) => acks.push(a), onFile: (f) => files.push(f), onError: (f) => errors.push(f), onStray: (w) => stray.push(w) });
    return { r, acks, files, errors, stray };
  }
  const data = pseudoRandom(150_000, 3);
  const begin = (id: string, size = data.length, kind = 'config') => ({ type: 'file_begin' as const, transfer_id: id, name: `${id}.bin`, size, kind });
  const end = (id: string, sha = sha256(data)) => ({ type: 'file_end' as const, transfer_id: id, sha256: sha });

  test('checks size and SHA-256, then answers ok and hands over the bytes', () => {
    const { r, acks, files } = receiver();
    r.begin(begin('a'));
    for (let o = 0; o < data.length; o += MAX_CHUNK_BYTES) r.chunk(data.subarray(o, o + MAX_CHUNK_BYTES));
    r.end(end('a'));
    assert.deepEqual(acks, [{ type: 'file_ack', transfer_id: 'a', ok: true }]);
    assert.equal(sha256(files[0].bytes), sha256(data));
  });

  test('a flipped byte is refused with checksum_mismatch', () => {
    const { r, acks, files, errors } = receiver();
    const bad = Buffer.from(data);
    bad[1234] ^= 1;
    r.begin(begin('b'));
    r.chunk(bad);
    r.end(end('b'));
    assert.equal(acks[0].ok, false);
    assert.match(acks[0].error!, /^checksum_mismatch: SHA-256 mismatch/);
    assert.equal(files.length, 0);
    assert.equal(errors[0].code, 'checksum_mismatch');
  });

  test('more bytes than announced are refused at once; short transfers at file_end', () => {
    const { r, acks } = receiver();
    r.begin(begin('c', 10));
    r.chunk(Buffer.alloc(11));
    assert.match(acks[0].error!, /more bytes than announced/);
    r.end(end('c'));
    assert.equal(acks.length, 1, 'a refused transfer is answered once');
    r.begin(begin('d', 10));
    r.chunk(Buffer.alloc(4));
    r.end(end('d', sha256(Buffer.alloc(4))));
    assert.match(acks[1].error!, /incomplete: got 4 of 10 bytes/);
  });

  test('a file too large for WebRTC is refused on file_begin and its chunks are dropped', () => {
    const { r, acks, stray } = receiver();
    r.begin(begin('e', 10_000_001, 'model'));
    assert.match(acks[0].error!, /^too_large: /);
    r.chunk(Buffer.alloc(MAX_CHUNK_BYTES));
    r.end(end('e'));
    assert.equal(acks.length, 1);
    assert.deepEqual(stray, []);
  });

  test('stray frames, superseded transfers and a close mid-transfer are reported', () => {
    const { r, acks, errors, stray } = receiver();
    r.chunk(Buffer.alloc(5));
    r.end(end('nope'));
    assert.equal(stray.length, 2);
    assert.match(acks[0].error!, /^not_found: /);
    r.begin(begin('f'));
    r.begin(begin('g'));
    assert.match(acks[1].error!, /^aborted: superseded/);
    r.dispose('dead');
    assert.deepEqual(errors.map((e) => [e.name, e.code]), [['f.bin', 'aborted'], ['g.bin', 'aborted']]);
  });
});

describe('SendGate', () => {
  function channel(buffered: number) {
    const subs = new Set<() => void>();
    return {
      bufferedAmount: buffered,
      bufferedAmountLowThreshold: 0,
      bufferedAmountLow: { subscribe: (fn: () => void) => (subs.add(fn), { unSubscribe: () => void subs.delete(fn) }) },
      drainTo(n: number) {
        this.bufferedAmount = n;
        for (const fn of [...subs]) fn();
      },
      subs,
    };
  }

  test('waits while the queue is full and goes on at the low-water mark', async () => {
    const dc = channel(1000 * KiB);
    const gate = new SendGate(dc, 1024 * KiB);
    assert.equal(dc.bufferedAmountLowThreshold, 512 * KiB);
    let passed = false;
    const p = gate.ready(64 * KiB, undefined, new AbortController().signal).then(() => (passed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(passed, false);
    dc.drainTo(500 * KiB);
    await p;
    assert.equal(dc.subs.size, 0, 'unsubscribed');
    await gate.ready(64 * KiB, undefined, new AbortController().signal);
  });

  test('an abort or the link closing ends the wait with an AppError', async () => {
    const dc = channel(2000 * KiB);
    const gate = new SendGate(dc, 1024 * KiB);
    const user = new AbortController();
    const p = gate.ready(64 * KiB, user.signal, new AbortController().signal);
    user.abort();
    await assert.rejects(p, (e) => isAppError(e, 'aborted'));
    const life = new AbortController();
    const q = gate.ready(64 * KiB, undefined, life.signal);
    life.abort();
    await assert.rejects(q, (e) => isAppError(e, 'aborted'));
    assert.equal(dc.subs.size, 0);
  });
});

describe('RtcLink without a peer', () => {
  const signal = { sendOffer: () => undefined, sendAnswer: () => undefined, sendCandidate: () => undefined };

  test('refuses misuse with clear AppErrors; close() is idempotent and fires onClose once', async () => {
    const link = new RtcLink({ role: 'answerer', signal, log: silentLogger });
    const closes: string[] = [];
    link.onClose((r) => closes.push(r));
    await assert.rejects(link.start(), (e) => isAppError(e, 'conflict'));
    await assert.rejects(link.sendFile('best.ckpt', Buffer.alloc(0), 'model', { size: 0 }), (e) => isAppError(e, 'conflict'), 'a small file waits for an open link');
    await assert.rejects(link.sendFile('best.ckpt', streamOf(Buffer.alloc(0)), 'model', { size: 10_000_001 }), (e) => isAppError(e, 'too_large'), 'the size check comes first');
    assert.throws(() => link.sendJson({ type: 'heartbeat', t: 1 }), (e) => isAppError(e, 'conflict'));
    assert.throws(() => link.sendJson({ type: 'file_ack', transfer_id: 'x', ok: true } as never), (e) => isAppError(e, 'bad_request'));
    assert.throws(() => link.sendJson({ type: 'command', job_id: 'j', command_id: 'c', command: 'explode' } as never), (e) => isAppError(e, 'bad_request'));
    await assert.rejects(link.handleCandidate({ candidate: 42 }), (e) => isAppError(e, 'bad_request'));
    await link.handleCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    assert.equal(link.stats().candidatesBuffered, 1, 'held until the offer arrives');
    await Promise.all([link.close(), link.close()]);
    await link.close();
    assert.deepEqual(closes, ['closed']);
    assert.equal(link.state, 'closed');
    await assert.rejects(link.waitOpen(), (e) => isAppError(e, 'aborted'));
  });

  test('with the default config an offer is made at once from host candidates (no STUN)', async () => {
    let sdp = '';
    const link = new RtcLink({ role: 'offerer', signal: { ...signal, sendOffer: (s) => void (sdp = s) }, log: silentLogger });
    await link.start();
    await link.close();
    // Host candidates only, and none from a STUN or TURN server: no server was asked, so nothing
    // could wait for one's gather timeout.
    assert.match(sdp, /a=candidate:.* typ host/);
    assert.doesNotMatch(sdp, /typ (srflx|relay)/);
  });
});
