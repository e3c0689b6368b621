import { silentLogger, type Logger } from '../../core/log.js';
import type { PeerMetadata, SignalingClientMessage, SignalingServerMessage } from '../../core/schemas/signaling.js';
import { SignalingError } from '../../core/signaling/SignalingError.js';
import { matchesFilters, mergeMetadata } from './filters.js';

/** One client connection as the hub sees it: the transport (wsServer) implements it. */
export interface HubConnection {
  /** Sends one server message (the transport validates and serialises it). */
  send(msg: SignalingServerMessage): void;
  /** A transport-level liveness probe (WebSocket ping), when the transport has one. */
  probe?(): void;
  /** Closes politely (close handshake). */
  close(code: number, reason: string): void;
  /** Drops the connection at once: for peers that stopped answering. */
  terminate(): void;
}

export interface HubOptions {
  /** Room of a room token; throws an `unauthorized` SignalingError for an unknown token. */
  roomOfToken(token: string): string;
  /** A connection not heard from (any frame, pong or transport pong) for this long is dropped. */
  peerTimeoutMs: number;
  /** A connection that has not registered after this long is closed. */
  registerTimeoutMs: number;
  now?: () => number;
  log?: Logger;
}

interface Peer {
  peerId: string;
  role: 'worker' | 'client';
  metadata: PeerMetadata;
  conn: HubConnection;
}

interface ConnState {
  openedAt: number;
  lastHeard: number;
  /** Room proven by the upgrade's `Authorization: Bearer` header, if it had one. */
  headerRoom?: string;
  peer?: { room: string; peerId: string };
}

/** WebSocket close codes the hub uses (4000-4999 are for applications). */
export const CLOSE_REPLACED = 4000;
export const CLOSE_TIMEOUT = 4001;
export const CLOSE_POLICY = 1008;
export const CLOSE_GOING_AWAY = 1001;

type Relay = Extract<SignalingClientMessage, { type: 'peer_message' | 'offer' | 'answer' | 'candidate' }>;

/**
 * Rooms, peers and routing, without sockets. The transport calls `open`, `receive` (validated
 * frames only), `heard`, `closed` and, on a timer, `sweep`; the hub answers through each
 * connection's `send`/`close`/`terminate`.
 *
 * Peer ids are scoped to a room. A relay to a peer that is not in the sender's room is refused
 * with `unknown_peer`, whether the id is unknown or registered in another room, so a token
 * holder learns nothing about other rooms.
 */
export class SignalingHub {
  private readonly conns = new Map<HubConnection, ConnState>();
  private readonly rooms = new Map<string, Map<string, Peer>>();
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: HubOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLogger;
  }

  open(conn: HubConnection, opts: { headerRoom?: string } = {}): void {
    const t = this.now();
    this.conns.set(conn, { openedAt: t, lastHeard: t, headerRoom: opts.headerRoom });
  }

  /** Anything arrived from the connection (a frame, even a bad one, or a transport pong). */
  heard(conn: HubConnection): void {
    const st = this.conns.get(conn);
    if (st) st.lastHeard = this.now();
  }

  /** Answers a frame the transport could not accept (bad JSON, too large, rate limited). */
  reject(conn: HubConnection, err: SignalingError): void {
    if (this.conns.has(conn)) conn.send(err.toFrame());
  }

  receive(conn: HubConnection, msg: SignalingClientMessage): void {
    const st = this.conns.get(conn);
    if (!st) return;
    st.lastHeard = this.now();
    try {
      this.dispatch(conn, st, msg);
    } catch (e) {
      const err = e instanceof SignalingError ? e : new SignalingError('internal', 'the signaling server failed to handle the message', { cause: e });
      if (!(e instanceof SignalingError)) this.log.error('signaling handler failed', { type: msg.type, error: String(e) });
      conn.send(err.toFrame(msg.request_id));
      if (err.signalingCode === 'unauthorized') this.drop(conn, CLOSE_POLICY, 'unauthorized');
    }
  }

  /** The transport closed (either side). */
  closed(conn: HubConnection): void {
    const st = this.conns.get(conn);
    if (!st) return;
    this.conns.delete(conn);
    this.leave(st, 'closed');
  }

  /**
   * Liveness, run every ping interval: drops connections silent for longer than the peer
   * timeout (their room gets `peer_left`) and unregistered ones past the register timeout;
   * pings the rest (an app-level `ping` frame, as sleap-rtc, and a transport probe).
   */
  sweep(): void {
    const t = this.now();
    for (const [conn, st] of [...this.conns]) {
      if (t - st.lastHeard > this.opts.peerTimeoutMs) {
        this.log.info('peer missed the liveness deadline', { peer_id: st.peer?.peerId, room: st.peer?.room, silent_ms: t - st.lastHeard });
        this.conns.delete(conn);
        this.leave(st, 'timeout');
        conn.terminate();
      } else if (!st.peer && t - st.openedAt > this.opts.registerTimeoutMs) {
        conn.send(new SignalingError('not_registered', `register within ${this.opts.registerTimeoutMs} ms of connecting`, { reason: 'register_timeout' }).toFrame());
        this.drop(conn, CLOSE_POLICY, 'register timeout');
      } else {
        conn.send({ type: 'ping' });
        conn.probe?.();
      }
    }
  }

  /** Closes every connection (server shutdown); peers are forgotten without `peer_left`. */
  closeAll(): void {
    for (const conn of [...this.conns.keys()]) conn.close(CLOSE_GOING_AWAY, 'server shutting down');
    this.conns.clear();
    this.rooms.clear();
  }

  /** The peers of a room (for tests and diagnostics). */
  peersOf(room: string): { peer_id: string; role: string; metadata: PeerMetadata }[] {
    return [...(this.rooms.get(room)?.values() ?? [])].map((p) => this.info(p));
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  private dispatch(conn: HubConnection, st: ConnState, msg: SignalingClientMessage): void {
    if (msg.type === 'register') return this.register(conn, st, msg);
    if (msg.type === 'ping') return conn.send({ type: 'pong', ...(msg.request_id ? { request_id: msg.request_id } : {}) });
    if (msg.type === 'pong') return;
    const self = st.peer && this.rooms.get(st.peer.room)?.get(st.peer.peerId);
    if (!st.peer || !self || self.conn !== conn) throw new SignalingError('not_registered', `send "register" before "${msg.type}"`);
    const room = this.rooms.get(st.peer.room)!;
    switch (msg.type) {
      case 'discover_peers': {
        const peers = [...room.values()].filter((p) => p !== self && matchesFilters(p, msg.filters)).map((p) => this.info(p));
        return conn.send({ type: 'peer_list', peers, ...(msg.request_id ? { request_id: msg.request_id } : {}) });
      }
      case 'update_metadata':
        self.metadata = mergeMetadata(self.metadata, msg.metadata);
        return conn.send({ type: 'metadata_updated', metadata: self.metadata, ...(msg.request_id ? { request_id: msg.request_id } : {}) });
      default:
        return this.relay(self, room, msg);
    }
  }

  private register(conn: HubConnection, st: ConnState, msg: Extract<SignalingClientMessage, { type: 'register' }>): void {
    let room = st.headerRoom;
    if (msg.token !== undefined) {
      const tokenRoom = this.opts.roomOfToken(msg.token);
      if (room !== undefined && room !== tokenRoom) throw new SignalingError('unauthorized', 'the token in "register" and the Authorization header are for different rooms');
      room = tokenRoom;
    }
    if (room === undefined) throw new SignalingError('unauthorized', 'missing room token: put "token" in "register" or send "Authorization: Bearer <room token>" with the upgrade', { reason: 'missing_token' });
    if (room !== msg.room_id) throw new SignalingError('unauthorized', `this token does not open room "${msg.room_id}"`, { reason: 'wrong_room' });
    if (st.peer && (st.peer.room !== room || st.peer.peerId !== msg.peer_id)) {
      throw new SignalingError('bad_message', `this connection is registered as "${st.peer.peerId}"; open a new connection for another peer id`, { reason: 'already_registered' });
    }

    let peers = this.rooms.get(room);
    if (!peers) this.rooms.set(room, (peers = new Map()));
    const existing = peers.get(msg.peer_id);
    if (existing && existing.conn !== conn) {
      // A reconnect: the newer socket wins and the old one is closed without peer_left.
      const old = this.conns.get(existing.conn);
      if (old) old.peer = undefined;
      this.conns.delete(existing.conn);
      existing.conn.close(CLOSE_REPLACED, 'replaced by a newer connection of the same peer id');
      this.log.info('peer reconnected; old connection closed', { peer_id: msg.peer_id, room });
    }
    const peer: Peer = { peerId: msg.peer_id, role: msg.role, metadata: msg.metadata ?? existing?.metadata ?? { tags: [], properties: {} }, conn };
    peers.set(peer.peerId, peer);
    st.peer = { room, peerId: peer.peerId };
    conn.send({ type: 'registered', peer_id: peer.peerId, room_id: room, metadata: peer.metadata, ...(msg.request_id ? { request_id: msg.request_id } : {}) });
    this.broadcast(peers, peer, { type: 'peer_joined', peer: this.info(peer) });
    this.log.info('peer registered', { peer_id: peer.peerId, role: peer.role, room, rejoined: existing !== undefined });
  }

  private relay(self: Peer, room: Map<string, Peer>, msg: Relay): void {
    const to = msg.type === 'peer_message' ? msg.to_peer_id : msg.target;
    const from = msg.type === 'peer_message' ? msg.from_peer_id : msg.sender;
    if (from !== self.peerId) throw new SignalingError('bad_message', `"${msg.type}" must name this connection's peer id "${self.peerId}" as its sender`, { reason: 'sender_mismatch' });
    const target = room.get(to);
    if (!target) throw new SignalingError('unknown_peer', `no peer "${to}" in this room`, { peerId: to });
    switch (msg.type) {
      case 'peer_message':
        return target.conn.send({ type: 'peer_message', from_peer_id: from, to_peer_id: to, payload: msg.payload });
      case 'offer':
      case 'answer':
        return target.conn.send({ type: msg.type, sender: from, target: to, sdp: msg.sdp });
      case 'candidate':
        return target.conn.send({ type: 'candidate', sender: from, target: to, candidate: msg.candidate });
    }
  }

  private leave(st: ConnState, reason: 'closed' | 'timeout'): void {
    if (!st.peer) return;
    const { room, peerId } = st.peer;
    st.peer = undefined;
    const peers = this.rooms.get(room);
    const peer = peers?.get(peerId);
    if (!peers || !peer) return;
    peers.delete(peerId);
    if (peers.size === 0) this.rooms.delete(room);
    else this.broadcast(peers, undefined, { type: 'peer_left', peer_id: peerId, reason });
    this.log.info('peer left', { peer_id: peerId, room, reason });
  }

  private drop(conn: HubConnection, code: number, reason: string): void {
    const st = this.conns.get(conn);
    this.conns.delete(conn);
    if (st) this.leave(st, 'closed');
    conn.close(code, reason);
  }

  private broadcast(peers: Map<string, Peer>, except: Peer | undefined, msg: SignalingServerMessage): void {
    for (const p of peers.values()) if (p !== except) p.conn.send(msg);
  }

  private info(p: Peer): { peer_id: string; role: 'worker' | 'client'; metadata: PeerMetadata } {
    return { peer_id: p.peerId, role: p.role, metadata: p.metadata };
  }
}
