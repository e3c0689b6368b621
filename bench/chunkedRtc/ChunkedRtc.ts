/**
 * The driver of `chunked-rtc` (peer.ts): a sender and a receiver process per attempt, their
 * signaling relayed here with every candidate rewritten to a front of the emulated UDP WAN
 * (test/support/wan/udpLink.ts), so that all their datagrams cross it. When the link dies the pair
 * is killed and the next attempt starts over from the first byte, as the seed's current
 * architecture does; it stops at success or at the time limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { UdpWan } from '../../test/support/wan/udpLink.js';

const peerScript = fileURLToPath(new URL('./peer.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ChunkedRtcResult {
  ok: boolean;
  /** Attempts started (1 when nothing went wrong). */
  attempts: number;
  ms: number;
  /** Payload bytes the senders put into the channel, over all attempts. */
  payloadBytes: number;
  /** Why the last attempt ended when not ok. */
  reason?: string;
}

export interface ChunkedRtcOptions {
  file: string;
  size: number;
  wan: UdpWan;
  timeLimitMs: number;
  deadAfterMs?: number;
  /** Payload bytes sent so far in this attempt (about every MiB). */
  onProgress?(attemptBytes: number, attempt: number): void;
}

type Line = { t: string; [k: string]: unknown };

class Peer {
  readonly child: ChildProcess;
  private readonly handlers: Array<(l: Line) => void> = [];
  readonly exited: Promise<number | null>;

  constructor(args: object) {
    this.child = spawn(process.execPath, ['--import', 'tsx', peerScript, JSON.stringify(args)], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (s) => {
      const l = JSON.parse(s) as Line;
      for (const h of this.handlers) h(l);
    });
    // 'close', not 'exit': the last lines (a `done`) may still be unread when the process exits.
    this.exited = new Promise((r) => this.child.once('close', (code) => r(code)));
  }

  on(h: (l: Line) => void): void {
    this.handlers.push(h);
  }

  send(l: object): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.stdin!.write(JSON.stringify(l) + '\n');
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Relays one peer's signaling to the other, candidates pointed at the WAN, in arrival order. */
function relay(from: Peer, to: Peer, wan: UdpWan): void {
  let chain = Promise.resolve();
  from.on((l) => {
    if (l.t !== 'offer' && l.t !== 'answer' && l.t !== 'candidate') return;
    chain = chain
      .then(async () => {
      if (l.t === 'candidate') {
        const c = l.candidate as { candidate: string };
        to.send({ t: 'candidate', candidate: { ...c, candidate: await wan.rewrite(c.candidate) } });
      } else to.send({ t: l.t, sdp: await wan.rewrite(l.sdp as string) });
      })
      // A candidate that cannot be rewritten is lost, as on a real path; the others still go.
      .catch(() => undefined);
  });
}

async function attempt(o: ChunkedRtcOptions, n: number, deadline: number): Promise<{ ok: boolean; bytes: number; reason?: string }> {
  const receiver = new Peer({ role: 'receiver', deadAfterMs: o.deadAfterMs });
  const sender = new Peer({ role: 'sender', file: o.file, deadAfterMs: o.deadAfterMs });
  relay(sender, receiver, o.wan);
  relay(receiver, sender, o.wan);
  let bytes = 0;
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, bytes, reason: 'time limit' }), Math.max(0, deadline - performance.now()));
      const finish = (r: { ok: boolean; bytes: number; reason?: string }): void => {
        clearTimeout(timer);
        resolve(r);
      };
      sender.on((l) => {
        if (l.t === 'progress' || l.t === 'sent') {
          bytes = l.bytes as number;
          o.onProgress?.(bytes, n);
        } else if (l.t === 'done') finish({ ok: l.ok === true, bytes, ...(l.ok === true ? {} : { reason: 'checksum mismatch' }) });
        else if (l.t === 'dead' || l.t === 'failed') finish({ ok: false, bytes, reason: `sender: ${l.t}` });
      });
      receiver.on((l) => {
        if (l.t === 'dead' || l.t === 'failed') finish({ ok: false, bytes, reason: `receiver: ${l.t}` });
      });
      void sender.exited.then(() => finish({ ok: false, bytes, reason: 'sender exited' }));
      let started = false;
      const start = (l: Line): void => {
        if (l.t === 'ready' && !started) {
          started = true;
          // the receiver is spawned first; start once the sender is up too
          sender.send({ t: 'start' });
        }
      };
      sender.on(start);
    });
  } finally {
    await Promise.all([sender.kill(), receiver.kill()]);
  }
}

/** Sends `file` by chunked-rtc until it arrives whole or the time limit passes. */
export async function sendChunkedRtc(o: ChunkedRtcOptions): Promise<ChunkedRtcResult> {
  const t0 = performance.now();
  const deadline = t0 + o.timeLimitMs;
  let payloadBytes = 0;
  for (let n = 1; ; n++) {
    const r = await attempt(o, n, deadline);
    payloadBytes += r.bytes;
    if (r.ok) return { ok: true, attempts: n, ms: performance.now() - t0, payloadBytes };
    if (performance.now() >= deadline || r.reason === 'checksum mismatch') return { ok: false, attempts: n, ms: performance.now() - t0, payloadBytes, reason: r.reason };
  }
}
