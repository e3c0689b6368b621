import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import type { Subscribe } from '../../src/core/Emitter.js';
import type { SignalingServerMessage } from '../../src/core/schemas/signaling.js';
import { SignalingClient, type SignalingClientEvents, type SignalingClientOptions } from '../../src/core/signaling/SignalingClient.js';
import { repoRoot, spawnCli, type Spawned } from '../support/proc.js';
import type { S3Target } from '../support/store.js';

/** The one setup of the signaling integration tests: a real `sleap-rtc server` process and its peers. */
export const PING_INTERVAL_S = 0.25;
export const PEER_TIMEOUT_S = 1;
export const ALLOWED_ORIGIN = 'http://allowed.localhost:5173';

export interface SignalingServerProc {
  url: string;
  port: number;
  rooms: { lab: string; other: string };
  proc: Spawned;
  /** SIGKILLs the server, then starts a new one on the same port with the same rooms. */
  killAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSignalingServer(store: S3Target): Promise<SignalingServerProc> {
  const bucket = `sig-${randomBytes(4).toString('hex')}`;
  const rooms = { lab: randomBytes(16).toString('hex'), other: randomBytes(16).toString('hex') };
  const launch = (port: number): Promise<Spawned> =>
    spawnCli(['server', '--port', String(port), '--bucket', bucket, '--create-bucket', '--s3-endpoint', store.endpoint, '--s3-region', store.region], {
      waitFor: /listening on (http:\/\/\S+)/,
      env: {
        SLEAP_RTC_CONFIG: '',
        SLEAP_RTC_S3_ACCESS_KEY: store.accessKeyId,
        SLEAP_RTC_S3_SECRET_KEY: store.secretAccessKey,
        SLEAP_RTC_ROOMS: `lab=${rooms.lab},other=${rooms.other}`,
        SLEAP_RTC_PING_INTERVAL: String(PING_INTERVAL_S),
        SLEAP_RTC_PEER_TIMEOUT: String(PEER_TIMEOUT_S),
        SLEAP_RTC_ALLOWED_ORIGINS: ALLOWED_ORIGIN,
      },
    });
  let proc = await launch(0);
  const url = proc.line[1];
  const port = Number(new URL(url).port);
  const srv: SignalingServerProc = {
    url,
    port,
    rooms,
    proc,
    async killAndRestart() {
      await proc.stop('SIGKILL');
      proc = await launch(port);
      srv.proc = proc;
    },
    async stop() {
      await proc.stop();
    },
  };
  return srv;
}

/** Client options for tests: short backoff and liveness so that reconnects take well under a second or two. */
export function clientOptions(srv: SignalingServerProc, peerId: string, extra: Partial<SignalingClientOptions> & { room?: 'lab' | 'other' } = {}): SignalingClientOptions {
  const { room = 'lab', ...rest } = extra;
  return { url: srv.url, peerId, role: 'client', roomId: room, token: srv.rooms[room], backoff: { initialMs: 100, maxMs: 1000 }, livenessTimeoutMs: 3000, requestTimeoutMs: 5000, ...rest };
}

/** Each event of a client, by its name. */
const subscribeTo: { [K in keyof SignalingClientEvents]: (c: SignalingClient) => Subscribe<SignalingClientEvents[K]> } = {
  message: (c) => c.onMessage,
  registered: (c) => c.onRegistered,
  peer_message: (c) => c.onPeerMessage,
  offer: (c) => c.onOffer,
  answer: (c) => c.onAnswer,
  candidate: (c) => c.onCandidate,
  peer_joined: (c) => c.onPeerJoined,
  peer_left: (c) => c.onPeerLeft,
  server_error: (c) => c.onServerError,
  state: (c) => c.onStateChange,
  closed: (c) => c.onClosed,
};

/** Resolves with the first `event` whose value satisfies `pred`; rejects after `ms`. */
export function waitEvent<K extends keyof SignalingClientEvents>(
  client: SignalingClient,
  event: K,
  pred: (value: SignalingClientEvents[K]) => boolean = () => true,
  ms = 5000,
): Promise<SignalingClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const off = subscribeTo[event](client)((value) => {
      if (!pred(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${String(event)} event within ${ms} ms`));
    }, ms);
  });
}

export interface PeerProc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  waitLine(pred: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs test/signaling/fixtures/peer.ts in its own process and waits until it has registered. */
export async function spawnPeer(opts: SignalingClientOptions): Promise<PeerProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/signaling/fixtures/peer.ts', JSON.stringify(opts)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const lines: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(JSON.parse(l) as Record<string, unknown>);
    for (const f of [...listeners]) f();
  });
  const waitLine = (pred: (l: Record<string, unknown>) => boolean, ms = 5000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = lines.find(pred);
        if (!hit) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`peer ${opts.peerId} printed no matching line within ${ms} ms; lines: ${JSON.stringify(lines)}; stderr: ${stderr}`));
      }, ms);
      listeners.add(check);
      check();
    });
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  await waitLine((l) => l.event === 'registered', 20_000);
  return { child, lines, waitLine, kill };
}

/** A bare WebSocket for frames SignalingClient would never send. */
export async function rawSocket(srv: SignalingServerProc, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; next(pred?: (m: SignalingServerMessage) => boolean, ms?: number): Promise<SignalingServerMessage> }> {
  const ws = new WebSocket(srv.url.replace(/^http/, 'ws') + '/ws', { headers });
  const inbox: SignalingServerMessage[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (d: Buffer) => {
    inbox.push(JSON.parse(d.toString()) as SignalingServerMessage);
    for (const f of [...listeners]) f();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (pred: (m: SignalingServerMessage) => boolean = (m) => m.type !== 'ping', ms = 3000): Promise<SignalingServerMessage> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const i = inbox.findIndex(pred);
        if (i < 0) return;
        const [m] = inbox.splice(i, 1);
        listeners.delete(check);
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no matching frame within ${ms} ms; inbox: ${JSON.stringify(inbox.filter((m) => m.type !== 'ping'))}`));
      }, ms);
      listeners.add(check);
      check();
    });
  return { ws, next };
}

/** The HTTP status with which the server refuses (or 101 accepts) an upgrade. */
export function upgradeStatus(srv: SignalingServerProc, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.url.replace(/^http/, 'ws') + path, { headers });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (e) => (e.message.includes('closed before') ? undefined : reject(e)));
  });
}
