import { z } from 'zod';

/**
 * Signaling WebSocket messages, shaped like sleap-rtc's (docs/facts.md §1) so that a
 * sleap-rtc developer recognises them. Every frame is one JSON object with a `type`.
 */
export const peerId = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'peer ids are 1-128 letters, digits, ".", "_", ":" or "-"');
export const roomIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'room ids are 1-64 letters, digits, ".", "_" or "-"');
export const peerRole = z.enum(['worker', 'client']);
export const workerStatus = z.enum(['available', 'reserved', 'busy', 'maintenance']);

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const peerMetadata = z.object({
  tags: z.array(z.string().max(64)).max(64).default([]),
  properties: z.record(z.string(), z.union([scalar, z.array(scalar)])).default({}),
});
export type PeerMetadata = z.infer<typeof peerMetadata>;

/** A property filter: a value for equality, or operators. */
export const propertyFilter = z.union([
  scalar,
  z.object({ $eq: scalar.optional(), $gte: z.number().optional(), $lte: z.number().optional() }).strict(),
]);
export const peerFilters = z.object({
  role: peerRole.optional(),
  /** Matches a peer that has ANY of these tags. */
  tags: z.array(z.string()).optional(),
  properties: z.record(z.string(), propertyFilter).optional(),
});
export type PeerFilters = z.infer<typeof peerFilters>;

const sdp = z.string().min(1).max(200_000);

/**
 * Optional correlation id (our extension of sleap-rtc's shapes): the server echoes it in the
 * reply to a request (`registered`, `peer_list`, `metadata_updated`, `pong`) and in an `error`
 * caused by that frame. Relayed frames are forwarded without it.
 */
export const requestId = z.string().min(1).max(64);
const rid = { request_id: requestId.optional() };
const propertyValue = z.union([scalar, z.array(scalar)]);

/** Client -> server. */
export const signalingClientMessage = z.discriminatedUnion('type', [
  /**
   * `token` may be left out when the upgrade request carried `Authorization: Bearer <token>`.
   * `metadata` left out on a re-register keeps what the server holds for that peer id.
   */
  z.object({ type: z.literal('register'), peer_id: peerId, role: peerRole, room_id: roomIdSchema, token: z.string().min(1).max(1024).optional(), metadata: peerMetadata.optional(), ...rid }),
  z.object({ type: z.literal('discover_peers'), filters: peerFilters.default({}), ...rid }),
  z.object({ type: z.literal('update_metadata'), metadata: z.object({ tags: z.array(z.string().max(64)).max(64).optional(), properties: z.record(z.string(), propertyValue).optional() }), ...rid }),
  z.object({ type: z.literal('peer_message'), from_peer_id: peerId, to_peer_id: peerId, payload: z.object({ app_message_type: z.string().min(1) }).passthrough(), ...rid }),
  z.object({ type: z.literal('offer'), sender: peerId, target: peerId, sdp, ...rid }),
  z.object({ type: z.literal('answer'), sender: peerId, target: peerId, sdp, ...rid }),
  z.object({ type: z.literal('candidate'), sender: peerId, target: peerId, candidate: z.object({ candidate: z.string(), sdpMid: z.string().nullish(), sdpMLineIndex: z.number().nullish() }).passthrough().nullable(), ...rid }),
  z.object({ type: z.literal('ping'), ...rid }),
  z.object({ type: z.literal('pong'), ...rid }),
]);
export type SignalingClientMessage = z.infer<typeof signalingClientMessage>;

export const peerInfo = z.object({ peer_id: peerId, role: peerRole, metadata: peerMetadata });
export const signalingErrorCode = z.enum(['bad_message', 'unauthorized', 'not_registered', 'unknown_peer', 'other_room', 'duplicate_peer', 'worker_busy', 'rate_limited', 'internal']);

export type SignalingErrorCode = z.infer<typeof signalingErrorCode>;
/** Why a peer left the room: its socket closed, or it missed the liveness deadline. */
export const peerLeftReason = z.enum(['closed', 'timeout']);

/** Server -> client. Relayed `peer_message`, `offer`, `answer` and `candidate` keep their client shape. */
export const signalingServerMessage = z.discriminatedUnion('type', [
  /** `metadata` is what the server now holds for the peer (kept from before when register had none). */
  z.object({ type: z.literal('registered'), peer_id: peerId, room_id: roomIdSchema, metadata: peerMetadata.optional(), ...rid }),
  z.object({ type: z.literal('peer_list'), peers: z.array(peerInfo), ...rid }),
  z.object({ type: z.literal('metadata_updated'), metadata: peerMetadata, ...rid }),
  z.object({ type: z.literal('peer_message'), from_peer_id: peerId, to_peer_id: peerId, payload: z.object({ app_message_type: z.string() }).passthrough() }),
  z.object({ type: z.literal('offer'), sender: peerId, target: peerId, sdp }),
  z.object({ type: z.literal('answer'), sender: peerId, target: peerId, sdp }),
  z.object({ type: z.literal('candidate'), sender: peerId, target: peerId, candidate: z.unknown() }),
  z.object({ type: z.literal('ping'), ...rid }),
  z.object({ type: z.literal('pong'), ...rid }),
  /** Also sent when a peer re-registers (reconnect), with its current metadata. */
  z.object({ type: z.literal('peer_joined'), peer: peerInfo }),
  z.object({ type: z.literal('peer_left'), peer_id: peerId, reason: peerLeftReason.optional() }),
  /**
   * `code` is what clients branch on; `reason` refines it (e.g. bad_message: invalid_json,
   * unknown_type, invalid_fields, too_large, binary_frame); `message` is for people.
   * `peer_id` names the peer a refused relay was addressed to.
   */
  z.object({ type: z.literal('error'), code: signalingErrorCode, reason: z.string(), message: z.string(), peer_id: peerId.optional(), ...rid }),
]);
export type SignalingServerMessage = z.infer<typeof signalingServerMessage>;
