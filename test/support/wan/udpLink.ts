// The emulated WAN for UDP (WebRTC), beside wanLink.ts for TCP: a userspace relay on loopback that
// stands in front of a peer's ICE host candidate, like a NAT on a long-haul path. Each datagram is
// delayed by half the round trip each way and paced per flow and direction (a flow is one remote
// source); a datagram that would wait longer than `queueMs` behind the pacer is dropped, as a
// router's tail-drop queue does (SCTP's congestion control, inside the DataChannel, reacts to
// that loss). `drop(ms)` discards every datagram for that long; `reset()` forgets every mapping
// as a NAT or firewall flushing its sessions does: the flows' datagrams are discarded from then on,
// so only a new ICE negotiation (new local ports) gets through again.
//
// Time is Date.now(), as in wanLink.ts, so that a pacer shared with a TCP link agrees on it.
//
// Peers are pointed at a front by rewriting the candidates that signaling carries (rewrite()).
// Hand-written because no package does this: the one candidate, toxiproxy, is TCP only and not in
// Debian, and `netem` is absent from this kernel (docs/facts.md §7).
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { Pacer } from './pacer.js';

export interface UdpWanOptions {
  /** Round-trip time added: half of it each direction. */
  rttMs: number;
  /** Bytes per second per flow, each direction. Default none. */
  perFlowBps?: number;
  /** Longest wait behind the pacer before a datagram is dropped. Default 100 ms. */
  queueMs?: number;
  /** Each flow is reset (see reset()) this long after its first datagram. */
  resetEveryMs?: number;
}

/**
 * Link-wide limits shared with other traffic (a TCP WanLink's `shared`), per front: datagrams
 * toward the fronted peer book `toPeer`, its replies `fromPeer`, besides their flow's own pacer.
 * For a peer on the far side of the link that is {toPeer: shared.up, fromPeer: shared.down}.
 */
export interface SharedPacers {
  toPeer: Pacer;
  fromPeer: Pacer;
}

export interface UdpWanStats {
  /** Datagram payload bytes delivered toward the fronted peers, and from them. */
  bytesIn: number;
  bytesOut: number;
  /** Datagrams dropped: by a full queue, a drop() window, a reset flow. */
  queueDrops: number;
  outageDrops: number;
  resetDrops: number;
  resets: number;
}

interface Flow {
  /** The socket that talks to the fronted peer for this remote source. */
  sock: Socket;
  toPeer: Pacer;
  fromPeer: Pacer;
  /** Set by reset(): everything of this flow is discarded. */
  dead: boolean;
  createdAt: number;
}

interface Front {
  sock: Socket;
  bound: Promise<void>;
  shared?: SharedPacers;
  target: { address: string; port: number };
  flows: Map<string, Flow>;
}

/** Bursts of datagrams (SCTP sends its window at once) overflow the default socket buffers here. */
function bigBuffers(sock: Socket): void {
  try {
    // The kernel caps these at net.core.rmem_max / wmem_max for an unprivileged process.
    sock.setRecvBufferSize(4 * 1024 * 1024);
    sock.setSendBufferSize(4 * 1024 * 1024);
  } catch {
    // keep the defaults
  }
}

/** Delivers callbacks at increasing times with one timer (each flow direction is in order). */
class DelayLine {
  private readonly q: Array<{ at: number; fn: () => void }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  push(at: number, fn: () => void): void {
    this.q.push({ at, fn });
    // Times from different flows interleave: keep the queue sorted (appends are nearly always last).
    let i = this.q.length - 1;
    for (; i > 0 && this.q[i - 1]!.at > this.q[i]!.at; i--) [this.q[i - 1], this.q[i]] = [this.q[i]!, this.q[i - 1]!];
    // A new head is due before the one the timer waits for: the timer must be set again.
    if (i === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.q.length = 0;
  }

  private arm(): void {
    if (this.timer || this.q.length === 0) return;
    this.timer = setTimeout(() => this.run(), Math.max(0, this.q[0]!.at - Date.now()));
  }

  private run(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.q.length > 0 && this.q[0]!.at <= now) this.q.shift()!.fn();
    this.arm();
  }
}

export class UdpWan {
  readonly stats: UdpWanStats = { bytesIn: 0, bytesOut: 0, queueDrops: 0, outageDrops: 0, resetDrops: 0, resets: 0 };
  private readonly fronts = new Map<string, Front>();
  private readonly line = new DelayLine();
  private downUntil = 0;
  private closed = false;

  constructor(readonly options: UdpWanOptions) {}

  /** A loopback address that forwards to `target` (a peer's host candidate). */
  async front(target: { address: string; port: number }, shared?: SharedPacers): Promise<{ address: string; port: number }> {
    const key = `${target.address}:${target.port}`;
    let front = this.fronts.get(key);
    if (!front) {
      const sock = dgram.createSocket('udp4');
      // In the map before the bind resolves: a second call for the same target waits for this one.
      front = { sock, target, flows: new Map(), bound: new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r())), ...(shared ? { shared } : {}) };
      const f = front;
      sock.on('message', (msg, from) => this.fromRemote(f, msg, from));
      sock.on('error', () => undefined); // ICMP-driven errors of a UDP socket: the datagram is lost, as on a WAN
      this.fronts.set(key, front);
      await front.bound;
      bigBuffers(sock);
    }
    await front.bound;
    return { address: '127.0.0.1', port: front.sock.address().port };
  }

  /**
   * Rewrites an ICE candidate line (`candidate:... udp <prio> <ip> <port> typ host ...`), or every
   * `a=candidate:` line of an SDP, to point at a front for it. Other candidates (TCP, IPv6,
   * mDNS names) are left as they are.
   */
  async rewrite(text: string, shared?: SharedPacers): Promise<string> {
    const re = /(candidate:\S+ \d+ )(\S+)( \d+ )(\S+) (\d+)( typ \S+)/gi;
    let out = '';
    let last = 0;
    for (const m of text.matchAll(re)) {
      const [all, head, proto, prio, ip, port, typ] = m;
      let replaced = all;
      // The relay speaks udp4: IPv6 and mDNS (.local) candidates are left as they are.
      if (proto!.toLowerCase() === 'udp' && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip!)) {
        const f = await this.front({ address: ip!, port: Number(port) }, shared);
        replaced = `${head}${proto}${prio}${f.address} ${f.port}${typ}`;
      }
      out += text.slice(last, m.index) + replaced;
      last = m.index! + all.length;
    }
    return out + text.slice(last);
  }

  /** Discards every datagram for `ms` (the flows survive if their peers wait long enough). */
  drop(ms: number): void {
    this.downUntil = Math.max(this.downUntil, Date.now() + ms);
  }

  /** Ends a drop now (a benchmark's fault disarmed between runs). */
  undrop(): void {
    this.downUntil = 0;
  }

  /** Forgets every flow, as a NAT flushing its sessions: their datagrams are discarded from now on. */
  reset(): void {
    this.stats.resets++;
    for (const f of this.fronts.values()) for (const flow of f.flows.values()) flow.dead = true;
  }

  set(o: Partial<UdpWanOptions>): void {
    Object.assign(this.options, o);
    for (const f of this.fronts.values()) for (const flow of f.flows.values()) flow.toPeer.bytesPerSecond = flow.fromPeer.bytesPerSecond = this.options.perFlowBps;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.line.clear();
    const socks = [...this.fronts.values()].flatMap((f) => [f.sock, ...[...f.flows.values()].map((x) => x.sock)]);
    this.fronts.clear();
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private fromRemote(front: Front, msg: Buffer, from: RemoteInfo): void {
    const key = `${from.address}:${from.port}`;
    let flow = front.flows.get(key);
    if (!flow) {
      const sock = dgram.createSocket('udp4');
      const created: Flow = { sock, toPeer: new Pacer(this.options.perFlowBps, 2), fromPeer: new Pacer(this.options.perFlowBps, 2), dead: false, createdAt: Date.now() };
      sock.on('message', (reply) => this.pass(created, created.fromPeer, front.shared?.fromPeer, reply, () => front.sock.send(reply, from.port, from.address), 'out'));
      sock.on('error', () => undefined);
      sock.bind(0, '127.0.0.1', () => bigBuffers(sock));
      front.flows.set(key, created);
      flow = created;
    }
    const f = flow;
    this.pass(f, f.toPeer, front.shared?.toPeer, msg, () => f.sock.send(msg, front.target.port, front.target.address), 'in');
  }

  private pass(flow: Flow, pacer: Pacer, shared: Pacer | undefined, msg: Buffer, deliver: () => void, dir: 'in' | 'out'): void {
    if (this.closed) return;
    const now = Date.now();
    const every = this.options.resetEveryMs;
    if (!flow.dead && every !== undefined && now - flow.createdAt >= every) {
      flow.dead = true;
      this.stats.resets++;
    }
    if (flow.dead) return void this.stats.resetDrops++;
    if (now < this.downUntil) return void this.stats.outageDrops++;
    const queueMs = this.options.queueMs ?? 100;
    if (Math.max(pacer.wouldWait(now), shared?.wouldWait(now) ?? 0) > queueMs) return void this.stats.queueDrops++;
    const left = Math.max(pacer.book(now, msg.length), shared?.book(now, msg.length) ?? now);
    this.line.push(left + this.options.rttMs / 2, () => {
      if (this.closed || flow.dead) return;
      if (dir === 'in') this.stats.bytesIn += msg.length;
      else this.stats.bytesOut += msg.length;
      try {
        deliver();
      } catch {
        // the socket closed meanwhile: the datagram is lost
      }
    });
  }
}
