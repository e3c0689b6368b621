/**
 * One side of `chunked-rtc`, the seed's "current architecture", for comparison only (never the
 * product's data path, which picks S3 or its own checked file frames by `chooseTransport`): a
 * whole dataset over one ordered, reliable werift DataChannel in 64 KiB chunks with backpressure,
 * then its SHA-256; no checkpoint, so a link that dies means starting over (the driver,
 * ChunkedRtc.ts, does that with a new pair of processes). Death is noticed as the product's
 * links notice it: heartbeats every second, silence for `deadAfterMs` (Heartbeat.ts).
 *
 * A child process: argv[2] JSON {role: 'sender'|'receiver', file?, deadAfterMs}; signaling comes
 * on stdin and goes out on stdout as JSON lines, with events: open, progress {bytes}, done
 * {ok, sha256, bytes}, dead {silentMs}.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import { silentLogger } from '../../src/core/log.js';
import { Heartbeat } from '../../src/core/rtc/Heartbeat.js';
import { peerConfig } from '../../src/core/rtc/linkConfig.js';
import { Negotiator } from '../../src/core/rtc/Negotiator.js';
import { SendGate } from '../../src/core/rtc/SendGate.js';

const CHUNK = 64 * 1024;
const QUEUED = 1024 * 1024;

const args = JSON.parse(process.argv[2] ?? '{}') as { role: 'sender' | 'receiver'; file?: string; deadAfterMs?: number };
const out = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');
const life = new AbortController();
const pc = new RTCPeerConnection(peerConfig({ iceServers: [], loopbackOnly: true }));
const negotiator = new Negotiator(
  pc,
  { sendOffer: (sdp) => out({ t: 'offer', sdp }), sendAnswer: (sdp) => out({ t: 'answer', sdp }), sendCandidate: (candidate) => out({ t: 'candidate', candidate }) },
  { log: silentLogger, isClosed: () => life.signal.aborted, fail: (e) => end({ t: 'failed', error: e.message }) },
);

function end(event: object): void {
  if (life.signal.aborted) return;
  out(event);
  life.abort();
  // Exit without a graceful close: the driver kills the pair anyway, and a close would wait on a
  // peer that may be gone.
  setImmediate(() => process.exit(0));
}

function watch(dc: RTCDataChannel): Heartbeat {
  const hb = new Heartbeat({
    intervalMs: 1000,
    deadAfterMs: args.deadAfterMs ?? 5000,
    send: () => {
      if (dc.readyState === 'open') dc.send(JSON.stringify({ type: 'heartbeat' }));
    },
    onDead: (silentMs) => end({ t: 'dead', silentMs }),
  });
  hb.start();
  return hb;
}

async function send(dc: RTCDataChannel, hb: Heartbeat): Promise<void> {
  const gate = new SendGate(dc, QUEUED);
  const hash = createHash('sha256');
  let bytes = 0;
  let lastReport = 0;
  dc.send(JSON.stringify({ type: 'begin' }));
  for await (const chunk of createReadStream(args.file!, { highWaterMark: CHUNK })) {
    const b = chunk as Buffer;
    await gate.ready(b.length, undefined, life.signal);
    dc.send(b);
    hash.update(b);
    bytes += b.length;
    if (bytes - lastReport >= 16 * CHUNK) {
      lastReport = bytes;
      out({ t: 'progress', bytes });
    }
  }
  const sha256 = hash.digest('hex');
  dc.send(JSON.stringify({ type: 'end', sha256, bytes }));
  out({ t: 'sent', bytes, sha256 });
  dc.onMessage.subscribe((m) => {
    if (typeof m !== 'string') return;
    const msg = JSON.parse(m) as { type: string; ok?: boolean };
    if (msg.type === 'ack') {
      hb.stop();
      end({ t: 'done', ok: msg.ok === true, sha256, bytes });
    }
  });
}

function receive(dc: RTCDataChannel, hb: Heartbeat): void {
  let hash = createHash('sha256');
  let bytes = 0;
  dc.onMessage.subscribe((m) => {
    hb.heard();
    if (typeof m !== 'string') {
      hash.update(m);
      bytes += m.length;
      return;
    }
    const msg = JSON.parse(m) as { type: string; sha256?: string; bytes?: number };
    if (msg.type === 'begin') {
      hash = createHash('sha256');
      bytes = 0;
    } else if (msg.type === 'end') {
      const sha256 = hash.digest('hex');
      const ok = sha256 === msg.sha256 && bytes === msg.bytes;
      dc.send(JSON.stringify({ type: 'ack', ok }));
      // Let the ack leave before the process goes.
      setTimeout(() => end({ t: 'done', ok, sha256, bytes }), 500);
    }
  });
}

// No open channel in this time: the attempt failed (the driver starts another).
const connectTimer = setTimeout(() => end({ t: 'failed', error: 'the channel did not open within 15 s' }), 15_000);

function opened(dc: RTCDataChannel): void {
  clearTimeout(connectTimer);
  out({ t: 'open' });
  const hb = watch(dc);
  if (args.role === 'receiver') return receive(dc, hb);
  dc.onMessage.subscribe(() => hb.heard());
  send(dc, hb).catch((e: unknown) => end({ t: 'failed', error: e instanceof Error ? e.message : String(e) }));
}

function attach(dc: RTCDataChannel): void {
  if (dc.readyState === 'open') opened(dc);
  else dc.stateChanged.subscribe((s) => s === 'open' && opened(dc));
}

pc.connectionStateChange.subscribe((s) => {
  if (s === 'failed' || s === 'closed') end({ t: 'dead', state: s });
});
if (args.role === 'receiver') pc.onDataChannel.subscribe(attach);

// Signaling steps one at a time, in arrival order.
let chain = Promise.resolve();
const lines = createInterface({ input: process.stdin });
// The driver gone (its end of stdin closed): nobody reads this side any more.
lines.on('close', () => process.exit(0));
lines.on('line', (line) => {
  const m = JSON.parse(line) as { t: string; sdp?: string; candidate?: unknown };
  const step = (): Promise<void> =>
    m.t === 'start' ? (attach(pc.createDataChannel('chunked-rtc', { ordered: true })), negotiator.offer())
    : m.t === 'offer' ? negotiator.answer(m.sdp!)
    : m.t === 'answer' ? negotiator.accept(m.sdp!)
    : m.t === 'candidate' ? negotiator.candidate(m.candidate)
    : Promise.resolve();
  chain = chain.then(step).catch((e: unknown) => end({ t: 'failed', error: e instanceof Error ? e.message : String(e) }));
});
out({ t: 'ready' });
