import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { AppError, isAppError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import { signalingClientMessage, signalingServerMessage, type SignalingServerMessage } from '../../core/schemas/signaling.js';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, messageTypes, parseFrame } from '../../core/signaling/frames.js';
import { SignalingError } from '../../core/signaling/SignalingError.js';
import type { RoomAuth } from '../RoomAuth.js';
import { SignalingHub, type HubConnection } from './SignalingHub.js';
import { TokenBucket } from './TokenBucket.js';

export interface SignalingServerOptions {
  auth: RoomAuth;
  /** URL path of the WebSocket endpoint. */
  path?: string;
  /** Server `ping` (and WebSocket ping) period; sleap-rtc uses 30 s. */
  pingIntervalMs?: number;
  /** Silence after which a peer is dropped and its room told `peer_left`; default 2 ping intervals. */
  peerTimeoutMs?: number;
  registerTimeoutMs?: number;
  /** Frames above this are answered with `bad_message`/`too_large`; the socket stays open. */
  maxFrameBytes?: number;
  /** Frames above this close the socket (1009): the memory bound. */
  hardMaxFrameBytes?: number;
  /** Per-connection frame budget. */
  rateLimit?: { perSecond: number; burst: number };
  /** A connection whose unsent backlog exceeds this (a reader that stopped reading) is dropped. */
  maxBufferedBytes?: number;
  /** Browser origins allowed to connect; upgrades with any other Origin header get 403. */
  allowedOrigins?: readonly string[];
  log?: Logger;
}

export interface SignalingServer {
  hub: SignalingHub;
  close(): Promise<void>;
}

const CLIENT_TYPES = messageTypes(signalingClientMessage);

/**
 * Attaches the signaling WebSocket endpoint to an existing HTTP server. Every inbound frame is
 * validated with the signaling schemas (bad ones get a coded `error`, the socket stays usable),
 * every outbound frame too; the hub does the rooms and routing.
 */
export function attachSignaling(http: Server, opts: SignalingServerOptions): SignalingServer {
  const log = opts.log ?? silentLogger;
  const path = opts.path ?? '/ws';
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000;
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const rate = opts.rateLimit ?? { perSecond: 50, burst: 100 };
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const origins = new Set(opts.allowedOrigins ?? []);
  const peerTimeoutMs = opts.peerTimeoutMs ?? 2 * pingIntervalMs;
  if (peerTimeoutMs <= pingIntervalMs) throw new AppError('config_invalid', `peerTimeout (${peerTimeoutMs / 1000} s) must be longer than pingInterval (${pingIntervalMs / 1000} s), or every peer is dropped between two pings`);
  const hub = new SignalingHub({
    roomOfToken: (token) => roomOfToken(opts.auth, token),
    peerTimeoutMs,
    registerTimeoutMs: opts.registerTimeoutMs ?? 10_000,
    log,
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.hardMaxFrameBytes ?? 4 * maxFrameBytes, perMessageDeflate: false });
  const sockets = new Set<WebSocket>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== path) return refuse(socket, 404, 'Not Found');
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      log.warn('refused a WebSocket upgrade from a browser origin that is not allowed', { origin });
      return refuse(socket, 403, 'Forbidden');
    }
    let headerRoom: string | undefined;
    if (req.headers.authorization !== undefined) {
      try {
        headerRoom = opts.auth.roomOf(req.headers.authorization);
      } catch {
        return refuse(socket, 401, 'Unauthorized');
      }
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, headerRoom));
  };

  const accept = (ws: WebSocket, headerRoom: string | undefined): void => {
    sockets.add(ws);
    const bucket = new TokenBucket(rate.perSecond, rate.burst);
    let lastRateError = 0;
    const conn: HubConnection = {
      send(msg: SignalingServerMessage) {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > maxBuffered) {
          log.warn('dropping a connection that does not read its frames', { buffered: ws.bufferedAmount });
          ws.terminate();
          return;
        }
        let frame: string;
        try {
          frame = encodeFrame(signalingServerMessage, msg);
        } catch (e) {
          log.error('refused to send an invalid signaling frame', { type: msg.type, error: String(e) });
          return;
        }
        ws.send(frame);
      },
      probe: () => {
        if (ws.readyState === ws.OPEN) ws.ping();
      },
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
    };
    hub.open(conn, { headerRoom });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      hub.heard(conn);
      if (!bucket.take()) {
        const t = Date.now();
        if (t - lastRateError >= 1000) {
          lastRateError = t;
          hub.reject(conn, new SignalingError('rate_limited', `more than ${rate.perSecond} frames per second (burst ${rate.burst}); frames are being dropped`));
        }
        return;
      }
      const r = parseFrame(signalingClientMessage, CLIENT_TYPES, toBuffer(data), isBinary, maxFrameBytes);
      if (r.ok) hub.receive(conn, r.msg);
      else hub.reject(conn, r.error);
    });
    ws.on('pong', () => hub.heard(conn));
    ws.on('error', (e) => log.debug('signaling socket error', { error: e.message }));
    ws.on('close', () => {
      sockets.delete(ws);
      hub.closed(conn);
    });
  };

  http.on('upgrade', onUpgrade);
  const timer = setInterval(() => hub.sweep(), pingIntervalMs);
  timer.unref();
  log.info('signaling ready', { path, ping_interval_ms: pingIntervalMs });

  return {
    hub,
    async close() {
      clearInterval(timer);
      http.off('upgrade', onUpgrade);
      hub.closeAll();
      // Give peers a moment for the close handshake, then cut what is left.
      await new Promise<void>((resolve) => {
        if (sockets.size === 0) return resolve();
        const cut = setTimeout(() => {
          for (const ws of sockets) ws.terminate();
          resolve();
        }, 1000);
        let left = sockets.size;
        for (const ws of sockets)
          ws.once('close', () => {
            if (--left === 0) {
              clearTimeout(cut);
              resolve();
            }
          });
      });
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function roomOfToken(auth: RoomAuth, token: string): string {
  try {
    if (/\s/.test(token)) throw new SignalingError('unauthorized', 'unknown room token');
    return auth.roomOf(`Bearer ${token}`);
  } catch (e) {
    if (e instanceof SignalingError) throw e;
    throw new SignalingError('unauthorized', isAppError(e) ? e.message : 'unknown room token', { reason: 'unknown_token' });
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
