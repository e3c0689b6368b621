import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { MAX_CHUNK_BYTES } from '../../src/core/schemas/datachannel.js';
import { pseudoRandom, sha256, streamOf, yamlLike } from './fixtures/content.js';
import { connectPair, type Pair } from './fixtures/PeerProcess.js';
import { ms, nextMessage, pct, ping, pingDuring } from './fixtures/ping.js';

/**
 * A real werift peer in a child process (test/rtc/fixtures/peer.ts) against an RtcLink in this
 * process, on loopback with no ICE servers. The test side answers; the relay delivers the peer's
 * first candidate before its offer, so the answerer has to buffer it. Timings are reported as
 * diagnostics, never asserted.
 */
const config = { loopbackOnly: true };
const NINE_MB = 9_000_000;


describe('RtcLink between two processes (werift, loopback, no ICE servers)', () => {
  let pair: Pair;
  before(async () => {
    pair = await connectPair({ localRole: 'answerer', config, candidatesFirst: true });
  });
  after(async () => {
    await pair?.link.close();
    await pair?.peer.kill();
  });

  test('opens, after buffering a candidate that arrived before the offer', (t) => {
    const s = pair.link.stats();
    assert.equal(s.state, 'open');
    assert.deepEqual(pair.link.config.iceServers, []);
    assert.ok(s.candidatesBuffered >= 1, 'the early candidate was held until the remote description was set');
    t.diagnostic(`setup (signaling start -> both channels open, separate processes): ${ms(pair.setupMs)}; this side's offer -> open: ${ms(s.setupMs!)}`);
  });

  test('JSON both ways, validated on receipt', async (t) => {
    const rtts = [];
    for (let i = 0; i < 20; i++) rtts.push(await ping(pair.link));
    const cmd = await pair.peer.next('message', 5000, (e) => (e.msg as { type: string }).type === 'command');
    assert.equal((cmd.msg as { command: string }).command, 'pause');

    const progress = nextMessage(pair.link, (m) => m.type === 'progress');
    pair.peer.send({ t: 'send', msg: { type: 'progress', job_id: 'job-1', seq: 7, t: 1.5, data: { event: 'epoch_end', epoch: 2, logs: { 'train/loss': 0.25 } } } });
    assert.deepEqual(await progress, { type: 'progress', job_id: 'job-1', seq: 7, t: 1.5, data: { event: 'epoch_end', epoch: 2, logs: { 'train/loss': 0.25 } } });

    const hello = nextMessage(pair.link, (m) => m.type === 'hello');
    pair.peer.send({ t: 'send', msg: { type: 'hello', job_id: 'job-1' } });
    assert.deepEqual(await hello, { type: 'hello', job_id: 'job-1', after_seq: 0 }, 'what arrives is the parsed message, defaults applied');

    assert.throws(() => pair.link.sendJson({ type: 'status', job_id: 'bad id!', seq: 0, status: 'running', t: 0 } as never), (e) => isAppError(e, 'bad_request'));
    assert.throws(() => pair.link.sendJson({ type: 'job_failed', job_id: 'j', seq: 1, error: { code: 'x', message: 'y'.repeat(MAX_CHUNK_BYTES) } }), (e) => isAppError(e, 'too_large'));
    t.diagnostic(`JSON round trip on an idle link over 20 pings: p50 ${ms(pct(rtts, 50))}, p99 ${ms(pct(rtts, 99))}`);
  });

  test('an invalid message from the peer is dropped and reported; the link survives', async () => {
    const invalid: string[] = [];
    const off = pair.link.onInvalid((i) => invalid.push(i.reason));
    const before = pair.link.stats().invalidMessages;
    pair.peer.send({ t: 'raw', text: 'this is not JSON' });
    pair.peer.send({ t: 'raw', text: '{"type":"launch_missiles"}' });
    pair.peer.send({ t: 'raw', text: '{"type":"command","job_id":"job-1","command_id":"c9","command":"explode"}' });
    pair.peer.send({ t: 'raw', base64: Buffer.from('stray keep-alive bytes').toString('base64') });
    await ping(pair.link);
    off();
    assert.equal(invalid.length, 3);
    assert.match(invalid[0], /not JSON/);
    assert.match(invalid[2], /command/);
    assert.equal(pair.link.stats().invalidMessages - before, 3);
    assert.equal(pair.link.state, 'open');
  });

  test('a 200 KB YAML-like config arrives intact with a matching SHA-256, both ways', async () => {
    const yaml = yamlLike(200_000);
    const sent = await pair.link.sendFile('training_config.yaml', yaml, 'config');
    assert.equal(sent.sha256, sha256(yaml));
    const got = await pair.peer.next('file', 10_000, (e) => e.name === 'training_config.yaml');
    assert.deepEqual([got.size, got.sha256, got.actual, got.kind], [200_000, sha256(yaml), sha256(yaml), 'config']);

    const arrived = new Promise<Buffer>((resolve) => pair.link.onFile((f) => f.name === 'initial_config.yaml' && resolve(f.bytes)));
    pair.peer.send({ t: 'sendFile', name: 'initial_config.yaml', kind: 'config', size: 200_000, content: 'yaml', stream: true });
    assert.ok((await arrived).equals(yaml));
    assert.equal((await pair.peer.next('sent', 10_000, (e) => e.name === 'initial_config.yaml')).ok, true);
  });

  test('a ~9 MB file arrives intact while JSON pings keep being answered (backpressure, this side sending)', async (t) => {
    const data = pseudoRandom(NINE_MB, 9);
    const expected = sha256(data);
    let maxQueued = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const sending = pair.link.sendFile('frames.bin', data, 'inference_results');
    const rtts = await pingDuring(pair.link, sending, 20, () => (maxQueued = Math.max(maxQueued, pair.link.stats().bufferedAmount)));
    const sent = await sending;
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const got = await pair.peer.next('file', 10_000, (e) => e.name === 'frames.bin');
    assert.equal(sent.sha256, expected);
    assert.equal(got.actual, expected);
    assert.ok(rtts.length >= 1, 'pings went out during the transfer and all were answered');
    assert.ok(maxQueued <= pair.link.config.maxQueuedBytes + MAX_CHUNK_BYTES, `queue stayed bounded (max seen ${maxQueued})`);
    t.diagnostic(`9 MB this side -> peer: ${(NINE_MB / 1e6 / secs).toFixed(1)} MB/s (${secs.toFixed(2)} s to the peer's ack, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} CPU-s in this process, load ${loadavg()[0].toFixed(1)}); ${rtts.length} pings during it: p50 ${ms(pct(rtts, 50))}, p99 ${ms(pct(rtts, 99))}, max ${ms(Math.max(...rtts))}; max queued ${(maxQueued / 1024).toFixed(0)} KiB`);
  });

  test('the peer sending a ~9 MB file still answers commands in between', async (t) => {
    const done = pair.peer.next('sent', 30_000, (e) => e.name === 'model_preview.bin');
    const arrived = new Promise<string>((resolve) => pair.link.onFile((f) => f.name === 'model_preview.bin' && resolve(sha256(f.bytes))));
    const t0 = performance.now();
    pair.peer.send({ t: 'sendFile', name: 'model_preview.bin', kind: 'visualization', size: NINE_MB, content: 'random', seed: 5 });
    const rtts = await pingDuring(pair.link, arrived, 20);
    const secs = (performance.now() - t0) / 1000;
    assert.equal(await arrived, sha256(pseudoRandom(NINE_MB, 5)));
    assert.equal((await done).ok, true);
    assert.ok(rtts.length >= 1);
    t.diagnostic(`9 MB peer -> this side: ${(NINE_MB / 1e6 / secs).toFixed(1)} MB/s; ${rtts.length} pings whose acks queue behind the peer's chunks: p50 ${ms(pct(rtts, 50))}, p99 ${ms(pct(rtts, 99))}`);
  });

  test('a corrupted transfer is refused with file_ack ok:false', async () => {
    const refused = new Promise<{ code: string; error: string }>((resolve) => pair.link.onFileError((f) => f.name === 'corrupt.bin' && resolve(f)));
    pair.peer.send({ t: 'sendFile', name: 'corrupt.bin', kind: 'config', size: 200_000, content: 'random', seed: 11, corrupt: true });
    const r = await refused;
    assert.equal(r.code, 'checksum_mismatch');
    assert.match(r.error, /SHA-256 mismatch/);
    const sent = await pair.peer.next('sent', 10_000, (e) => e.name === 'corrupt.bin');
    assert.deepEqual([sent.ok, sent.code], [false, 'checksum_mismatch'], 'the sender learns it from the file_ack');
    await ping(pair.link);
  });

  test('a transfer aborted half-way ends cleanly on both sides and the next file goes through', async () => {
    const ctl = new AbortController();
    const sending = pair.link.sendFile('cancelled.bin', pseudoRandom(6_000_000, 4), 'visualization', { signal: ctl.signal });
    await pair.peer.next('fileBegin', 10_000, (e) => e.name === 'cancelled.bin');
    ctl.abort();
    await assert.rejects(sending, (e) => isAppError(e, 'aborted'));
    const cut = await pair.peer.next('fileError', 10_000, (e) => e.name === 'cancelled.bin');
    assert.match(cut.error as string, /incomplete: got \d+ of 6000000 bytes/, 'file_end told the peer to free what it had');
    const yaml = yamlLike(50_000);
    assert.equal((await pair.link.sendFile('next.yaml', yaml, 'config')).sha256, sha256(yaml));
  });

  test('a file above the WebRTC limit is refused before anything is read or sent', async () => {
    let pulled = false;
    async function* model(): AsyncGenerator<Buffer> {
      pulled = true;
      yield Buffer.alloc(1);
    }
    await assert.rejects(pair.link.sendFile('best.ckpt', model(), 'model', { size: 10_000_001 }), (e) => isAppError(e, 'too_large') && e.details?.transport === 'S3');
    await assert.rejects(pair.link.sendFile('best.ckpt', streamOf(Buffer.alloc(0)), 'model', {}), (e) => isAppError(e, 'bad_request'));
    await ping(pair.link);
    assert.equal(pulled, false);
    // Counted by name: an earlier test's file_begin line can still be on its way from the peer's
    // stdout (it does not follow the DataChannel's order), so a count taken at the start raced it.
    assert.deepEqual(pair.peer.all('fileBegin').filter((e) => e.name === 'best.ckpt'), [], 'the peer saw no file_begin');
  });

  test('close() is idempotent, closes the peer at once and leaves nothing usable', async () => {
    await Promise.all([pair.link.close(), pair.link.close()]);
    await pair.link.close();
    assert.deepEqual(pair.closes, ['closed']);
    assert.equal((await pair.peer.next('close', 4000)).reason, 'closed', 'the channel close reached the peer before its heartbeat would have (5 s)');
    assert.throws(() => pair.link.sendJson({ type: 'heartbeat', t: 1 }), (e) => isAppError(e, 'aborted'));
    await assert.rejects(pair.link.sendFile('a.yaml', Buffer.alloc(1), 'config'), (e) => isAppError(e, 'aborted'));
  });
});
