import WebSocket, { type RawData } from 'ws';
import { Emitter, rethrow, type Subscribe } from '../Emitter.js';
import { AppError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  peerMetadata,
  signalingClientMessage,
  signalingServerMessage,
  type PeerFilters,
  type PeerMetadata,
  type SignalingClientMessage,
  type SignalingServerMessage,
} from '../schemas/signaling.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from '../backoff.js';
import { encodeFrame, messageTypes, parseFrame } from './frames.js';
import { abortError, PendingRequests } from './PendingRequests.js';
import { SignalingError } from './SignalingError.js';

export type SignalingClientState = 'idle' | 'connecting' | 'registered' | 'reconnecting' | 'closed';
type ServerMsg<T extends SignalingServerMessage['type']> = Extract<SignalingServerMessage, { type: T }>;
type ClientMsg<T extends SignalingClientMessage['type']> = Extract<SignalingClientMessage, { type: T }>;
export type PeerInfo = ServerMsg<'peer_list'>['peers'][number];
export type MetadataPatch = ClientMsg<'update_metadata'>['metadata'];
export type IceCandidate = ClientMsg<'candidate'>['candidate'];

/** What each of the client's events carries (`onMessage` is `message`, `onPeerLeft` is `peer_left`...). */
export interface SignalingClientEvents {
  /** Every validated frame from the server, before the typed events below. */
  message: SignalingServerMessage;
  registered: ServerMsg<'registered'>;
  peer_message: ServerMsg<'peer_message'>;
  offer: ServerMsg<'offer'>;
  answer: ServerMsg<'answer'>;
  candidate: ServerMsg<'candidate'>;
  peer_joined: ServerMsg<'peer_joined'>;
  peer_left: ServerMsg<'peer_left'>;
  /** A coded `error` frame that answered no pending request (e.g. a refused relay). */
  server_error: SignalingError;
  state: SignalingClientState;
  /** The client stopped for good: `undefined` after close(), else why (bad token, peer id taken over). */
  closed: Error | undefined;
}

export interface SignalingClientOptions {
  /** The server's base URL (`http://host:port`, `/ws` is added) or the WebSocket URL itself. */
  url: string;
  peerId: string;
  role: 'worker' | 'client';
  roomId: string;
  token: string;
  metadata?: { tags?: string[]; properties?: PeerMetadata['properties'] };
  /** `header` (default): `Authorization: Bearer` on the upgrade; `message`: in `register`, as sleap-rtc does. */
  tokenIn?: 'header' | 'message';
  /** Reconnect when nothing (frame or ping) was heard for this long; sleap-rtc uses 90 s. */
  livenessTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** How long discover/updateMetadata wait for their answer, across reconnects. */
  requestTimeoutMs?: number;
  /** WebSocket handshake timeout. */
  connectTimeoutMs?: number;
  log?: Logger;
}

const SERVER_TYPES = messageTypes(signalingServerMessage);
const MAX_SERVER_FRAME = 4 * 1024 * 1024;

/**
 * A peer of the signaling server (worker or client). `connect()` registers; after any drop it
 * reconnects with backoff and registers again with the same peer id and its current metadata;
 * requests made meanwhile wait for the new registration. Every frame is validated both ways.
 */
export class SignalingClient {
  // A listener's failure goes to the code that dispatched the frame, as it did with EventEmitter.
  private readonly events: { [K in keyof SignalingClientEvents]: Emitter<SignalingClientEvents[K]> } = {
    message: new Emitter(rethrow),
    registered: new Emitter(rethrow),
    peer_message: new Emitter(rethrow),
    offer: new Emitter(rethrow),
    answer: new Emitter(rethrow),
    candidate: new Emitter(rethrow),
    peer_joined: new Emitter(rethrow),
    peer_left: new Emitter(rethrow),
    server_error: new Emitter(rethrow),
    state: new Emitter(rethrow),
    closed: new Emitter(rethrow),
  };
  readonly onMessage: Subscribe<SignalingClientEvents['message']> = this.events.message.event;
  readonly onRegistered: Subscribe<SignalingClientEvents['registered']> = this.events.registered.event;
  readonly onPeerMessage: Subscribe<SignalingClientEvents['peer_message']> = this.events.peer_message.event;
  readonly onOffer: Subscribe<SignalingClientEvents['offer']> = this.events.offer.event;
  readonly onAnswer: Subscribe<SignalingClientEvents['answer']> = this.events.answer.event;
  readonly onCandidate: Subscribe<SignalingClientEvents['candidate']> = this.events.candidate.event;
  readonly onPeerJoined: Subscribe<SignalingClientEvents['peer_joined']> = this.events.peer_joined.event;
  readonly onPeerLeft: Subscribe<SignalingClientEvents['peer_left']> = this.events.peer_left.event;
  readonly onServerError: Subscribe<SignalingClientEvents['server_error']> = this.events.server_error.event;
  readonly onStateChange: Subscribe<SignalingClientEvents['state']> = this.events.state.event;
  readonly onClosed: Subscribe<SignalingClientEvents['closed']> = this.events.closed.event;
  private ws?: WebSocket;
  private st: SignalingClientState = 'idle';
  private meta: PeerMetadata;
  private seq = 0;
  private lastHeard = 0;
  private registerId?: string;
  private stopped?: Error;
  private reconnectTimer?: NodeJS.Timeout;
  private livenessTimer?: NodeJS.Timeout;
  private readonly url: string;
  /** Reconnect delays (core's schedule), reset once registered. */
  private readonly backoff: Backoff;
  private readonly pending = new PendingRequests<SignalingServerMessage>();
  private readonly waiters = new Set<(err?: Error) => void>();
  private readonly log: Logger;

  constructor(private readonly opts: SignalingClientOptions) {
    this.url = signalingUrl(opts.url);
    this.backoff = new Backoff({ ...DEFAULT_BACKOFF, ...opts.backoff });
    this.meta = peerMetadata.parse(opts.metadata ?? {});
    this.log = (opts.log ?? silentLogger).child('signaling', { peer_id: opts.peerId });
  }

  get state(): SignalingClientState {
    return this.st;
  }

  /** The metadata the server holds for this peer (sent again on every re-register). */
  get metadata(): PeerMetadata {
    return this.meta;
  }

  /** Connects and registers; keeps retrying with backoff until registered, refused, aborted or closed. */
  async connect(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.st === 'idle') {
      this.setState('connecting');
      const period = Math.max(20, Math.min(1000, (this.opts.livenessTimeoutMs ?? 90_000) / 4));
      this.livenessTimer = setInterval(() => this.checkLiveness(), period);
      this.livenessTimer.unref();
      this.open();
    }
    await this.whenRegistered(opts.signal);
  }

  async discover(filters: PeerFilters = {}, opts: { signal?: AbortSignal } = {}): Promise<PeerInfo[]> {
    const msg = await this.request({ type: 'discover_peers', filters }, 'peer_list', opts.signal);
    return (msg as ServerMsg<'peer_list'>).peers;
  }

  /** Tags are replaced when given, properties merged; returns the metadata the server now holds. */
  async updateMetadata(patch: MetadataPatch, opts: { signal?: AbortSignal } = {}): Promise<PeerMetadata> {
    const msg = (await this.request({ type: 'update_metadata', metadata: patch }, 'metadata_updated', opts.signal)) as ServerMsg<'metadata_updated'>;
    this.meta = msg.metadata;
    return msg.metadata;
  }

  /** Routed by the server to a peer of the same room; a refusal arrives as a `server_error` event. */
  sendPeerMessage(to: string, payload: ClientMsg<'peer_message'>['payload'], opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.relay({ type: 'peer_message', from_peer_id: this.opts.peerId, to_peer_id: to, payload }, opts.signal);
  }

  sendOffer(target: string, sdp: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.relay({ type: 'offer', sender: this.opts.peerId, target, sdp }, opts.signal);
  }

  sendAnswer(target: string, sdp: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.relay({ type: 'answer', sender: this.opts.peerId, target, sdp }, opts.signal);
  }

  sendCandidate(target: string, candidate: IceCandidate, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.relay({ type: 'candidate', sender: this.opts.peerId, target, candidate }, opts.signal);
  }

  /** Stops for good: closes the socket (bounded wait), rejects whatever is waiting. */
  async close(): Promise<void> {
    if (this.st === 'closed') return;
    const ws = this.ws;
    this.stop(undefined);
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(cut);
        resolve();
      });
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client closing');
      else ws.terminate();
    });
  }

  private open(): void {
    const headers: Record<string, string> = this.opts.tokenIn === 'message' ? {} : { authorization: `Bearer ${this.opts.token}` };
    const ws = new WebSocket(this.url, { headers, handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000, maxPayload: MAX_SERVER_FRAME, perMessageDeflate: false });
    this.ws = ws;
    let httpStatus: number | undefined;
    ws.on('unexpected-response', (_req, res) => {
      httpStatus = res.statusCode;
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      this.registerId = this.nextId();
      const reg: ClientMsg<'register'> = { type: 'register', peer_id: this.opts.peerId, role: this.opts.role, room_id: this.opts.roomId, metadata: this.meta, request_id: this.registerId };
      if (this.opts.tokenIn === 'message') reg.token = this.opts.token;
      try {
        ws.send(encodeFrame(signalingClientMessage, reg, 'bad_message'));
      } catch (e) {
        this.stop(e as Error);
        ws.terminate();
      }
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const r = parseFrame(signalingServerMessage, SERVER_TYPES, buf, isBinary, MAX_SERVER_FRAME);
      if (r.ok) this.dispatch(ws, r.msg);
      else this.log.warn('ignored an invalid frame from the server', { reason: r.error.reason, error: r.error.message });
    });
    ws.on('ping', () => {
      if (ws === this.ws) this.lastHeard = Date.now();
    });
    ws.on('error', (e) => this.log.debug('signaling socket error', { error: e.message }));
    ws.on('close', (code) => {
      if (ws !== this.ws) return;
      this.ws = undefined;
      this.onDrop(code, httpStatus);
    });
  }

  private onDrop(code: number, httpStatus: number | undefined): void {
    if (this.st === 'closed') return;
    if (httpStatus === 401) return this.stop(new SignalingError('unauthorized', 'the signaling server refused the room token (HTTP 401)'));
    if (httpStatus === 403) return this.stop(new SignalingError('unauthorized', 'the signaling server refused this connection (HTTP 403, origin not allowed)', { reason: 'origin' }));
    if (code === 4000) return this.stop(new SignalingError('duplicate_peer', `another connection registered as "${this.opts.peerId}" and replaced this one`));
    const delay = this.backoff.next();
    this.log.info('signaling connection lost; reconnecting', { code, http_status: httpStatus, delay_ms: delay });
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.st !== 'closed') this.open();
    }, delay);
  }

  private dispatch(ws: WebSocket, msg: SignalingServerMessage): void {
    this.events.message.fire(msg);
    switch (msg.type) {
      case 'registered':
        if (msg.request_id !== undefined && msg.request_id !== this.registerId) return;
        if (msg.metadata) this.meta = msg.metadata;
        this.backoff.reset();
        this.setState('registered');
        for (const w of [...this.waiters]) w();
        this.flush();
        this.events.registered.fire(msg);
        return;
      case 'ping':
        ws.send(encodeFrame(signalingClientMessage, { type: 'pong' }));
        return;
      case 'pong':
        return;
      case 'peer_list':
      case 'metadata_updated':
        this.pending.answer(msg.request_id, msg.type, msg);
        return;
      case 'error': {
        const err = SignalingError.fromFrame(msg);
        if (msg.request_id !== undefined && msg.request_id === this.registerId && this.st !== 'registered') {
          // A refused register is not fixed by retrying (bad token, bad peer id): stop.
          if (msg.code === 'unauthorized' || msg.code === 'bad_message') return this.stop(err);
          ws.terminate();
          return;
        }
        if (!this.pending.fail(msg.request_id, err)) this.events.server_error.fire(err);
        return;
      }
      default:
        // peer_message, offer, answer, candidate, peer_joined, peer_left: an event of the same name.
        (this.events[msg.type] as Emitter<typeof msg>).fire(msg);
    }
  }

  private request(msg: ClientMsg<'discover_peers'> | ClientMsg<'update_metadata'>, expect: 'peer_list' | 'metadata_updated', signal?: AbortSignal): Promise<SignalingServerMessage> {
    this.assertUsable(signal);
    const id = this.nextId();
    const frame = encodeFrame(signalingClientMessage, { ...msg, request_id: id }, 'bad_message');
    const answer = this.pending.add(id, frame, expect, { timeoutMs: this.opts.requestTimeoutMs ?? 15_000, what: msg.type, signal });
    this.flush();
    return answer;
  }

  private async relay(msg: ClientMsg<'peer_message' | 'offer' | 'answer' | 'candidate'>, signal?: AbortSignal): Promise<void> {
    const frame = encodeFrame(signalingClientMessage, msg, 'bad_message');
    await this.whenRegistered(signal);
    const ws = this.ws!;
    await new Promise<void>((resolve, reject) =>
      ws.send(frame, (err) => (err ? reject(new AppError('upstream_error', `signaling connection lost while sending ${msg.type}`, { cause: err })) : resolve())),
    );
  }

  /** Sends pending requests that the current socket has not carried yet (after each register). */
  private flush(): void {
    const ws = this.ws;
    if (this.st !== 'registered' || !ws || ws.readyState !== WebSocket.OPEN) return;
    for (const frame of this.pending.unsent(ws)) ws.send(frame);
  }

  private whenRegistered(signal?: AbortSignal): Promise<void> {
    this.assertUsable(signal);
    if (this.st === 'registered' && this.ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => done(abortError(signal!));
      const done = (err?: Error): void => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private assertUsable(signal?: AbortSignal): void {
    if (signal?.aborted) throw abortError(signal);
    if (this.stopped) throw this.stopped;
    if (this.st === 'closed') throw new AppError('aborted', 'the signaling client is closed');
    if (this.st === 'idle') throw new AppError('bad_request', 'call connect() before using the signaling client');
  }

  private checkLiveness(): void {
    const ws = this.ws;
    const limit = this.opts.livenessTimeoutMs ?? 90_000;
    if (!ws || ws.readyState !== WebSocket.OPEN || Date.now() - this.lastHeard <= limit) return;
    this.log.warn('nothing heard from the signaling server; reconnecting', { silent_ms: Date.now() - this.lastHeard });
    ws.terminate();
  }

  private stop(reason: Error | undefined): void {
    if (this.st === 'closed') return;
    this.stopped = reason;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearInterval(this.livenessTimer);
    const err = reason ?? new AppError('aborted', 'the signaling client was closed');
    for (const w of [...this.waiters]) w(err);
    this.pending.rejectAll(err);
    const ws = this.ws;
    this.ws = undefined;
    if (reason && ws) ws.terminate();
    if (reason) this.log.warn('signaling client stopped', { error: reason.message });
    this.events.closed.fire(reason);
  }

  private setState(s: SignalingClientState): void {
    if (this.st === s) return;
    this.st = s;
    this.events.state.fire(s);
  }

  private nextId(): string {
    return `${this.opts.peerId.slice(0, 40)}-${++this.seq}`;
  }
}

/** `http(s)://host:port[/path]` or `ws(s)://...`; an empty path becomes `/ws`. */
export function signalingUrl(u: string): string {
  const url = new URL(u);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new AppError('config_invalid', `signaling URL must be http(s) or ws(s), not ${url.protocol}`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/ws';
  return url.toString();
}
