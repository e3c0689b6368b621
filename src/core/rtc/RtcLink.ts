import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { dataChannelMessage, MAX_CHUNK_BYTES, type DataChannelMessage } from '../schemas/datachannel.js';
import type { DataType } from '../transport.js';
import { Emitter } from '../Emitter.js';
import { assertWebRtcSized, fileSize, type FileData } from './fileChunks.js';
import { FileReceiver, type FileFailure, type IncomingFile, type ReceivedFile } from './FileReceiver.js';
import { FileSender, type SentFile } from './FileSender.js';
import { Heartbeat } from './Heartbeat.js';
import { parseLinkConfig, peerConfig, type RtcLinkConfig, type RtcLinkConfigInput } from './linkConfig.js';
import { SendGate } from './SendGate.js';
import { Negotiator } from './Negotiator.js';
import type { RtcSignal } from './signal.js';

export type RtcRole = 'offerer' | 'answerer';
export type LinkState = 'new' | 'connecting' | 'open' | 'closed';
export type CloseReason = 'closed' | 'dead' | 'failed';
type Internal = 'heartbeat' | 'file_begin' | 'file_end' | 'file_ack';
/** Messages the application sees; heartbeats and file_* frames are the link's own. */
export type AppMessage = Exclude<DataChannelMessage, { type: Internal }>;
export type OutgoingMessage = Exclude<z.input<typeof dataChannelMessage>, { type: Exclude<Internal, 'heartbeat'> }>;
export interface InvalidMessage {
  reason: string;
  excerpt: string;
}
export interface RtcLinkOptions {
  role: RtcRole;
  signal: RtcSignal;
  config?: RtcLinkConfigInput;
  log?: Logger;
}
export interface RtcLinkStats {
  state: LinkState;
  setupMs?: number;
  framesSent: number;
  framesReceived: number;
  invalidMessages: number;
  /** Remote candidates that arrived before the remote description and waited for it. */
  candidatesBuffered: number;
  bufferedAmount: number;
}

/** Most we wait, on close(), for the peer to confirm the channel reset (usually a few ms). */
const CHANNEL_CLOSE_GRACE_MS = 1000;

/**
 * One RTCPeerConnection (werift) with one ordered, reliable DataChannel, independent of how
 * signaling travels. JSON frames are validated both ways with `dataChannelMessage`; binary
 * frames carry file chunks (FileSender / FileReceiver); a heartbeat declares the peer dead after
 * `deadAfterMs` of silence. Every way of ending (close(), dead, failed, the channel or connection
 * closing) goes through one idempotent `finish`, which fires onClose exactly once.
 */
export class RtcLink {
  readonly role: RtcRole;
  readonly config: RtcLinkConfig;
  private readonly log: Logger;
  private readonly pc: RTCPeerConnection;
  private readonly negotiator: Negotiator;
  private dc: RTCDataChannel | undefined;
  private _state: LinkState = 'new';
  private _closeReason: CloseReason | undefined;
  private readonly life = new AbortController();
  private readonly subs: Array<() => void> = [];
  private negotiating = false;
  private startedAt = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private sender: FileSender | undefined;
  private closed: Promise<void> | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly receiver: FileReceiver;
  private readonly counters = { framesSent: 0, framesReceived: 0, invalidMessages: 0, setupMs: undefined as number | undefined };

  private readonly listenerError = (e: unknown): void => this.log.error('an RTC link listener threw', { error: e instanceof Error ? e.message : String(e) });
  private readonly openE = new Emitter<{ setupMs: number }>(this.listenerError);
  private readonly messageE = new Emitter<AppMessage>(this.listenerError);
  private readonly invalidE = new Emitter<InvalidMessage>(this.listenerError);
  private readonly closeE = new Emitter<CloseReason>(this.listenerError);
  private readonly fileBeginE = new Emitter<IncomingFile>(this.listenerError);
  private readonly fileE = new Emitter<ReceivedFile>(this.listenerError);
  private readonly fileErrorE = new Emitter<FileFailure>(this.listenerError);
  readonly onOpen = this.openE.event;
  /** A validated application message from the peer. */
  readonly onMessage = this.messageE.event;
  /** A frame from the peer that was not a valid message: dropped, the link goes on. */
  readonly onInvalid = this.invalidE.event;
  readonly onClose = this.closeE.event;
  readonly onFileBegin = this.fileBeginE.event;
  /** A file arrived complete, its size and SHA-256 checked (the peer got file_ack ok). */
  readonly onFile = this.fileE.event;
  /** An incoming file was refused (the peer got file_ack ok:false) or cut off by close. */
  readonly onFileError = this.fileErrorE.event;

  constructor(opts: RtcLinkOptions) {
    this.role = opts.role;
    this.config = parseLinkConfig(opts.config);
    this.log = (opts.log ?? createLogger('rtc')).child(this.role);
    this.pc = new RTCPeerConnection(peerConfig(this.config));
    this.heartbeat = new Heartbeat({
      intervalMs: this.config.heartbeatIntervalMs,
      deadAfterMs: this.config.deadAfterMs,
      send: (t) => this.trySend(JSON.stringify({ type: 'heartbeat', t })),
      onDead: (silentMs) => {
        this.log.warn('peer silent: declaring it dead', { silent_ms: silentMs });
        this.finish('dead');
      },
    });
    this.receiver = new FileReceiver({
      reply: (ack) => this.trySend(JSON.stringify(ack)),
      onBegin: (f) => this.fileBeginE.fire(f),
      onFile: (f) => this.fileE.fire(f),
      onError: (f) => {
        this.log.warn('incoming file failed', { transfer_id: f.transferId, name: f.name, code: f.code, error: f.error });
        this.fileErrorE.fire(f);
      },
      onStray: (what) => this.log.warn('dropped a stray file frame', { what }),
    });
    this.negotiator = new Negotiator(this.pc, opts.signal, { log: this.log, isClosed: () => this._state === 'closed', fail: () => this.finish('failed') });
    this.sub(
      this.pc.connectionStateChange.subscribe((s) => {
        this.log.debug('connection state', { state: s });
        if (s === 'failed' || s === 'closed') this.finish(s);
      }),
    );
    if (this.role === 'answerer') this.sub(this.pc.onDataChannel.subscribe((ch) => (this.dc ? ch.close() : this.attach(ch))));
  }

  get state(): LinkState {
    return this._state;
  }
  get closeReason(): CloseReason | undefined {
    return this._closeReason;
  }

  /** Offerer: creates the channel and sends the offer. */
  async start(): Promise<void> {
    this.beginNegotiation('offerer', 'start');
    this.attach(this.pc.createDataChannel(this.config.label, { ordered: true }));
    await this.negotiator.offer();
  }

  /** Answerer: applies the peer's offer and sends the answer. */
  async handleOffer(sdp: string): Promise<void> {
    this.beginNegotiation('answerer', 'handleOffer');
    await this.negotiator.answer(sdp);
  }

  /** Offerer: applies the peer's answer. */
  async handleAnswer(sdp: string): Promise<void> {
    if (this.role !== 'offerer' || !this.negotiating || this.negotiator.hasRemoteDescription) throw new AppError('conflict', `handleAnswer: unexpected answer for the ${this.role} in state ${this._state}`);
    await this.negotiator.accept(sdp);
  }

  /** A remote ICE candidate; held until the remote description is set. null/empty ends candidates. */
  async handleCandidate(candidate: unknown): Promise<void> {
    await this.negotiator.candidate(candidate);
  }

  /** Resolves when the channel is open; rejects if the link closes first. */
  waitOpen(): Promise<void> {
    if (this._state === 'open') return Promise.resolve();
    if (this._state === 'closed') return Promise.reject(new AppError('aborted', `the RTC link is closed (${this._closeReason})`));
    return new Promise((resolve, reject) => {
      const offs = [
        this.onOpen(() => (offs.forEach((f) => f()), resolve())),
        this.onClose((r) => (offs.forEach((f) => f()), reject(new AppError('aborted', `the RTC link closed (${r}) before it opened`)))),
      ];
    });
  }

  /** Validates and sends one JSON message at once (never behind the file queue's gate). */
  sendJson(msg: OutgoingMessage): void {
    const type = (msg as { type?: unknown }).type;
    if (type === 'file_begin' || type === 'file_end' || type === 'file_ack') throw new AppError('bad_request', `${type} is sent by sendFile, not sendJson`);
    const r = dataChannelMessage.safeParse(msg);
    if (!r.success) throw new AppError('bad_request', `invalid DataChannel message: ${r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ')}`);
    const text = JSON.stringify(r.data);
    if (Buffer.byteLength(text) > MAX_CHUNK_BYTES) throw new AppError('too_large', `a DataChannel message is limited to ${MAX_CHUNK_BYTES} bytes of JSON`);
    this.assertOpen();
    this.sendFrame(text);
  }

  /**
   * Sends a small file: refused at once (AppError too_large) unless chooseTransport routes it over
   * WebRTC; resolves when the peer confirmed size and SHA-256. A stream needs `size`.
   */
  async sendFile(name: string, data: FileData, kind: DataType, opts: { signal?: AbortSignal; size?: number } = {}): Promise<SentFile> {
    const size = fileSize(name, data, opts.size);
    assertWebRtcSized(name, size, kind);
    this.assertOpen();
    return this.sender!.send(name, data, size, kind, opts.signal);
  }

  stats(): RtcLinkStats {
    const { setupMs, ...c } = this.counters;
    return { state: this._state, ...(setupMs === undefined ? {} : { setupMs }), ...c, candidatesBuffered: this.negotiator.buffered, bufferedAmount: this.dc?.bufferedAmount ?? 0 };
  }

  /** Closes the channel and the connection; idempotent; resolves when werift has shut down. */
  close(): Promise<void> {
    this.finish('closed');
    return this.closed!;
  }

  /** The one place frames leave (a seam for test fixtures that tamper with them). */
  protected sendFrame(data: string | Buffer): void {
    if (!this.dc || this.dc.readyState !== 'open') throw new AppError('aborted', `the RTC link is not open (${this._state})`);
    try {
      this.dc.send(data);
    } catch (e) {
      throw new AppError('upstream_error', `DataChannel send failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.counters.framesSent++;
  }

  private trySend(text: string): void {
    try {
      this.sendFrame(text);
    } catch (e) {
      this.log.debug('could not send a link frame', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  private beginNegotiation(role: RtcRole, what: string): void {
    if (this.role !== role) throw new AppError('conflict', `${what} is for the ${role}; this link is the ${this.role}`);
    if (this.negotiating || this._state !== 'new') throw new AppError('conflict', `${what}: this link already negotiated (state ${this._state})`);
    this.negotiating = true;
    this._state = 'connecting';
    this.startedAt = performance.now();
    this.connectTimer = setTimeout(() => {
      this.log.warn('channel did not open in time', { timeout_ms: this.config.connectTimeoutMs });
      this.finish('failed');
    }, this.config.connectTimeoutMs);
  }

  private attach(dc: RTCDataChannel): void {
    this.dc = dc;
    this.sub(dc.onMessage.subscribe((data) => this.receive(data)));
    this.sub(
      dc.stateChanged.subscribe((s) => {
        if (s === 'open') this.channelOpen();
        else if (s === 'closed') this.finish('closed');
      }),
    );
    if (dc.readyState === 'open') this.channelOpen();
  }

  private channelOpen(): void {
    if (this._state !== 'connecting' || !this.dc) return;
    this._state = 'open';
    clearTimeout(this.connectTimer);
    const setupMs = performance.now() - this.startedAt;
    this.counters.setupMs = setupMs;
    const gate = new SendGate(this.dc, this.config.maxQueuedBytes);
    this.sender = new FileSender({ sendFrame: (d) => this.sendFrame(d), gate, life: this.life.signal, ackTimeoutMs: this.config.fileAckTimeoutMs, log: this.log });
    this.heartbeat.start();
    this.log.info('channel open', { setup_ms: Math.round(setupMs) });
    this.openE.fire({ setupMs });
  }

  private receive(data: string | Buffer): void {
    if (this._state === 'closed') return;
    this.heartbeat.heard();
    this.counters.framesReceived++;
    if (typeof data !== 'string') return this.receiver.chunk(data);
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return this.invalid('not JSON', data);
    }
    const r = dataChannelMessage.safeParse(json);
    if (!r.success) return this.invalid(r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '), data);
    const msg = r.data;
    switch (msg.type) {
      case 'heartbeat':
        return;
      case 'file_begin':
        return this.receiver.begin(msg);
      case 'file_end':
        return this.receiver.end(msg);
      case 'file_ack':
        return this.sender?.handleAck(msg);
      default:
        this.messageE.fire(msg);
    }
  }

  private invalid(reason: string, text: string): void {
    this.counters.invalidMessages++;
    const excerpt = text.length > 200 ? `${text.slice(0, 200)}...` : text;
    this.log.warn('dropped an invalid DataChannel message', { reason, excerpt });
    this.invalidE.fire({ reason, excerpt });
  }

  private assertOpen(): void {
    if (this._state !== 'open' || !this.sender) throw new AppError(this._state === 'closed' ? 'aborted' : 'conflict', `the RTC link is not open (${this._closeReason ?? this._state})`);
  }

  private sub(s: { unSubscribe(): void }): void {
    this.subs.push(() => s.unSubscribe());
  }

  /**
   * Closing the channel first sends an SCTP stream reset, which closes the peer's channel at once
   * (a bare pc.close() reaches the peer only through its heartbeat, after deadAfterMs); give it a
   * moment to go out, then close the connection.
   */
  private async shutdown(dc: RTCDataChannel | undefined): Promise<void> {
    if (dc && dc.readyState === 'open') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, CHANNEL_CLOSE_GRACE_MS);
        const sub = dc.stateChanged.subscribe((s) => s === 'closed' && done());
        function done(): void {
          clearTimeout(timer);
          sub.unSubscribe();
          resolve();
        }
        try {
          dc.close();
        } catch {
          done();
        }
      });
    }
    await this.pc.close().catch((e: unknown) => this.log.debug('closing the connection failed', { error: String(e) }));
  }

  private finish(reason: CloseReason): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this._closeReason = reason;
    clearTimeout(this.connectTimer);
    this.heartbeat.stop();
    this.life.abort(new AppError('aborted', `the RTC link closed (${reason})`));
    this.receiver.dispose(reason);
    this.sender?.dispose();
    for (const off of this.subs.splice(0)) off();
    this.negotiator.dispose();
    this.closed = this.shutdown(reason === 'closed' ? this.dc : undefined);
    this.log.info('link closed', { reason });
    this.closeE.fire(reason);
    for (const e of [this.openE, this.messageE, this.invalidE, this.closeE, this.fileBeginE, this.fileE, this.fileErrorE]) e.dispose();
  }
}
