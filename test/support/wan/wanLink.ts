// An emulated WAN on this machine: a userspace TCP proxy (node:net, one upstream connection per
// client connection) that adds what the kernel here cannot (docs/facts.md §7: no netem): one-way
// delay each direction, a rate cap per connection (as on long-haul paths, where one TCP flow gets
// a fraction of the link), a cap across all connections, resets every N ms or after N bytes,
// random stalls per connection, and link drops. Bytes are never reordered, lost or altered.
//
// The aggregate cap is in userspace too, not tbf: tbf works here, but only shapes traffic that
// crosses an interface, so either the S3 server or every client (aws cli, rclone, boto3, the
// engine) would have to run inside a network namespace behind a veth, started as root with
// `ip netns exec`; the userspace cap runs unprivileged wherever the tests run, next to the
// per-connection caps it composes with (see pacer.ts). Not emulated: TCP slow start and loss
// (a new connection gets its full share at once; the one handshake round trip is added).
//
// One link can front several upstreams (S3 and the backend), sharing its caps and faults.
import net, { type AddressInfo, type Socket } from 'node:net';
import { Pacer } from './pacer.js';

export interface WanOptions {
  /** Round-trip time added: half of it on each direction. Default 0. */
  rttMs: number;
  /** Bytes per second per connection, each direction. Default none. */
  perConnectionBps?: number;
  /** Bytes per second across every connection of the link, each direction. Default none. */
  aggregateBps?: number;
  /** Reset (RST) each connection this long after it opened. */
  resetEveryMs?: number;
  /** Reset each connection once this many bytes crossed it (both directions). */
  resetAfterBytes?: number;
  /** Random stalls: each connection stops moving bytes for `forMs`, on average every `meanEveryMs`. */
  stalls?: { meanEveryMs: number; forMs: number };
  random?: () => number;
}

export interface WanStats {
  /** Connections accepted so far. */
  opened: number;
  /** Open right now, and the most open at once. */
  open: number;
  peakOpen: number;
  /** Connections this link reset (resetEvery/After, drops with reset). */
  resets: number;
  stalls: number;
  /** Bytes delivered client -> server, and server -> client. */
  bytesUp: number;
  bytesDown: number;
}

export interface WanPort {
  /** http://127.0.0.1:<port>: where clients connect instead of the upstream. */
  url: string;
  port: number;
}

export interface WanLink {
  readonly options: WanOptions;
  /** Changes the emulation for connections open and to come. */
  set(o: Partial<WanOptions>): void;
  /** Listens on a free loopback port and forwards each connection to `upstream` (http://host:port). */
  forward(upstream: string): Promise<WanPort>;
  /** Nothing moves on any connection for `ms` (connections stay open). */
  stall(ms: number): void;
  /**
   * The link is down for `ms`. 'hold' (default): open connections stop moving and new ones wait
   * (as TCP retransmits through an outage); 'reset': open connections are reset and new ones too.
   */
  drop(ms: number, mode?: 'hold' | 'reset'): void;
  /** Ends a drop now (a benchmark disarming its faults between runs). */
  undrop(): void;
  readonly stats: WanStats;
  /** The link-wide rate limits (aggregateBps), for other traffic that shares the link (udpLink.ts). */
  readonly shared: { up: Pacer; down: Pacer };
  close(): Promise<void>;
}

/** Bytes read ahead of the emulated link per direction before the sender is paused. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** The unit the pacers book: one socket read at most. */
const SLICE = 64 * 1024;

interface LinkState {
  o: WanOptions;
  up: Pacer;
  down: Pacer;
  stalledUntil: number;
  downUntil: number;
  stats: WanStats;
}

/**
 * One direction of one connection: bytes read from `src` wait their turn at the pacers
 * (`shaping`), then travel the one-way delay (`wire`), then are written to `dst`, in order.
 */
class Lane {
  private shaping: Buffer[] = [];
  private wire: { buf: Buffer; due: number }[] = [];
  private buffered = 0;
  private pacing = false;
  private deliverTimer?: NodeJS.Timeout;
  private paceTimer?: NodeJS.Timeout;
  private ended = false;
  private readonly pacer: Pacer;
  /** Nothing leaves before this (handshake, stalls of this connection). */
  holdUntil = 0;

  constructor(
    private readonly link: LinkState,
    private readonly conn: Connection,
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly dir: 'up' | 'down',
  ) {
    this.pacer = new Pacer(link.o.perConnectionBps);
    src.on('data', (b: Buffer) => this.push(b));
    src.on('end', () => {
      this.ended = true;
      this.maybeEnd();
    });
    dst.on('drain', () => this.deliver());
  }

  setRate(bps: number | undefined): void {
    this.pacer.bytesPerSecond = bps;
  }

  private push(b: Buffer): void {
    this.shaping.push(b);
    this.buffered += b.length;
    if (this.buffered > HIGH_WATER) this.src.pause();
    this.pace();
  }

  /** Books the next slice at the pacers and schedules it to leave when they say. */
  pace(): void {
    if (this.pacing || this.conn.closed) return;
    const head = this.shaping[0];
    if (!head) return this.maybeEnd();
    const now = Date.now();
    const hold = Math.max(this.holdUntil, this.link.stalledUntil, this.link.downUntil);
    if (hold > now) return this.after(hold - now);
    const slice = head.length <= SLICE ? head : head.subarray(0, SLICE);
    if (slice === head) this.shaping.shift();
    else this.shaping[0] = head.subarray(SLICE);
    const shared = this.dir === 'up' ? this.link.up : this.link.down;
    const leaves = Math.max(this.pacer.book(now, slice.length), shared.book(now, slice.length));
    this.wire.push({ buf: slice, due: leaves + this.link.o.rttMs / 2 });
    this.conn.moved(slice.length);
    this.scheduleDelivery();
    if (leaves > now) this.after(leaves - now);
    else this.pace();
  }

  private after(ms: number): void {
    this.pacing = true;
    this.paceTimer = setTimeout(() => {
      this.pacing = false;
      this.pace();
    }, ms);
  }

  private scheduleDelivery(): void {
    if (this.deliverTimer || this.wire.length === 0) return;
    const wait = this.wire[0].due - Date.now();
    if (wait <= 0) return this.deliver();
    this.deliverTimer = setTimeout(() => {
      this.deliverTimer = undefined;
      this.deliver();
    }, wait);
  }

  /** Writes every slice whose delay has passed, in order; stops when `dst` pushes back. */
  private deliver(): void {
    if (this.conn.closed) return;
    const now = Date.now();
    while (this.wire.length > 0 && this.wire[0].due <= now) {
      if (this.dst.writableNeedDrain) return;
      const { buf } = this.wire.shift()!;
      this.buffered -= buf.length;
      if (this.dir === 'up') this.link.stats.bytesUp += buf.length;
      else this.link.stats.bytesDown += buf.length;
      this.dst.write(buf);
      if (this.buffered < LOW_WATER && this.src.isPaused()) this.src.resume();
    }
    this.scheduleDelivery();
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.ended && this.shaping.length === 0 && this.wire.length === 0 && !this.dst.writableEnded) this.dst.end();
  }

  clear(): void {
    clearTimeout(this.paceTimer);
    clearTimeout(this.deliverTimer);
  }
}

class Connection {
  closed = false;
  private movedBytes = 0;
  private readonly lanes: Lane[];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly link: LinkState,
    private readonly client: Socket,
    private readonly server: Socket,
    private readonly onClose: (c: Connection) => void,
  ) {
    const up = new Lane(link, this, client, server, 'up');
    // The TCP handshake's round trip, which the loopback accept skipped.
    up.holdUntil = Date.now() + link.o.rttMs;
    this.lanes = [up, new Lane(link, this, server, client, 'down')];
    const close = (): void => this.close(false);
    for (const s of [client, server]) {
      s.on('error', close);
      s.on('close', close);
    }
    if (link.o.resetEveryMs !== undefined) this.timers.push(setTimeout(() => this.close(true), link.o.resetEveryMs));
    if (link.o.stalls) this.nextStall();
  }

  setRate(bps: number | undefined): void {
    for (const l of this.lanes) l.setRate(bps);
  }

  /** Holds both directions of this connection for `ms`. */
  stall(ms: number): void {
    const until = Date.now() + ms;
    for (const l of this.lanes) l.holdUntil = Math.max(l.holdUntil, until);
    this.timers.push(setTimeout(() => this.lanes.forEach((l) => l.pace()), ms));
  }

  private nextStall(): void {
    const s = this.link.o.stalls;
    if (!s || this.closed) return;
    const r = (this.link.o.random ?? Math.random)();
    const inMs = -Math.log(1 - r) * s.meanEveryMs;
    this.timers.push(
      setTimeout(() => {
        if (this.closed) return;
        this.link.stats.stalls++;
        this.stall(s.forMs);
        this.nextStall();
      }, inMs),
    );
  }

  moved(n: number): void {
    this.movedBytes += n;
    const max = this.link.o.resetAfterBytes;
    if (max !== undefined && this.movedBytes >= max) setImmediate(() => this.close(true));
  }

  close(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (reset) this.link.stats.resets++;
    for (const t of this.timers) clearTimeout(t);
    for (const l of this.lanes) l.clear();
    for (const s of [this.client, this.server]) {
      if (reset && !s.destroyed && typeof s.resetAndDestroy === 'function' && s.readyState === 'open') s.resetAndDestroy();
      else s.destroy();
    }
    this.onClose(this);
  }

  wake(): void {
    for (const l of this.lanes) l.pace();
  }
}

export function startWan(options: WanOptions): WanLink {
  const o: WanOptions = { ...options };
  const stats: WanStats = { opened: 0, open: 0, peakOpen: 0, resets: 0, stalls: 0, bytesUp: 0, bytesDown: 0 };
  const link: LinkState = { o, up: new Pacer(o.aggregateBps), down: new Pacer(o.aggregateBps), stalledUntil: 0, downUntil: 0, stats };
  const conns = new Set<Connection>();
  const servers: net.Server[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  let refuseUntil = 0;

  const accept = (client: Socket, upstream: URL): void => {
    if (Date.now() < refuseUntil) {
      stats.resets++;
      client.resetAndDestroy();
      return;
    }
    const wait = link.downUntil - Date.now();
    if (wait > 0) {
      // The link is down: the connection waits, as a SYN retransmitted until the link is back.
      client.pause();
      later(wait, () => (client.destroyed ? undefined : accept(client, upstream)));
      return;
    }
    stats.opened++;
    stats.open++;
    stats.peakOpen = Math.max(stats.peakOpen, stats.open);
    client.setNoDelay(true);
    const server = net.connect({ host: upstream.hostname, port: Number(upstream.port), noDelay: true });
    const c = new Connection(link, client, server, (x) => {
      conns.delete(x);
      stats.open--;
    });
    conns.add(c);
    client.resume();
  };

  return {
    options: o,
    stats,
    shared: { up: link.up, down: link.down },
    set(p) {
      Object.assign(o, p);
      if ('aggregateBps' in p) {
        link.up.bytesPerSecond = o.aggregateBps;
        link.down.bytesPerSecond = o.aggregateBps;
      }
      if ('perConnectionBps' in p) for (const c of conns) c.setRate(o.perConnectionBps);
    },
    async forward(upstream) {
      const u = new URL(upstream);
      const srv = net.createServer({ pauseOnConnect: true }, (client) => accept(client, u));
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      const port = (srv.address() as AddressInfo).port;
      return { url: `http://127.0.0.1:${port}`, port };
    },
    stall(ms) {
      link.stalledUntil = Math.max(link.stalledUntil, Date.now() + ms);
      later(ms, () => conns.forEach((c) => c.wake()));
    },
    drop(ms, mode = 'hold') {
      if (mode === 'reset') {
        refuseUntil = Date.now() + ms;
        for (const c of [...conns]) c.close(true);
        return;
      }
      link.downUntil = Math.max(link.downUntil, Date.now() + ms);
      later(ms, () => conns.forEach((c) => c.wake()));
    },
    undrop() {
      refuseUntil = 0;
      link.downUntil = 0;
      conns.forEach((c) => c.wake());
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const c of [...conns]) c.close(false);
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
