import { z } from 'zod';

/**
 * Signaling WebSocket messages, shaped like sleap-rtc's (facts.md section 1) so that a
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

/** Client -> server. */
export const signalingClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('register'), peer_id: peerId, role: peerRole, room_id: roomIdSchema, token: z.string().min(1), metadata: peerMetadata.default({ tags: [], properties: {} }) }),
  z.object({ type: z.literal('discover_peers'), filters: peerFilters.default({}) }),
  z.object({ type: z.literal('update_metadata'), metadata: z.object({ tags: z.array(z.string()).optional(), properties: z.record(z.string(), z.union([scalar, z.array(scalar)])).optional() }) }),
  z.object({ type: z.literal('peer_message'), from_peer_id: peerId, to_peer_id: peerId, payload: z.object({ app_message_type: z.string().min(1) }).passthrough() }),
  z.object({ type: z.literal('offer'), sender: peerId, target: peerId, sdp }),
  z.object({ type: z.literal('answer'), sender: peerId, target: peerId, sdp }),
  z.object({ type: z.literal('candidate'), sender: peerId, target: peerId, candidate: z.object({ candidate: z.string(), sdpMid: z.string().nullish(), sdpMLineIndex: z.number().nullish() }).passthrough().nullable() }),
  z.object({ type: z.literal('ping') }),
  z.object({ type: z.literal('pong') }),
]);
export type SignalingClientMessage = z.infer<typeof signalingClientMessage>;

export const peerInfo = z.object({ peer_id: peerId, role: peerRole, metadata: peerMetadata });
export const signalingErrorCode = z.enum(['bad_message', 'unauthorized', 'not_registered', 'unknown_peer', 'other_room', 'duplicate_peer', 'worker_busy', 'rate_limited', 'internal']);

/** Server -> client. Relayed `peer_message`, `offer`, `answer` and `candidate` keep their client shape. */
export const signalingServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('registered'), peer_id: peerId, room_id: roomIdSchema }),
  z.object({ type: z.literal('peer_list'), peers: z.array(peerInfo) }),
  z.object({ type: z.literal('metadata_updated'), metadata: peerMetadata }),
  z.object({ type: z.literal('peer_message'), from_peer_id: peerId, to_peer_id: peerId, payload: z.object({ app_message_type: z.string() }).passthrough() }),
  z.object({ type: z.literal('offer'), sender: peerId, target: peerId, sdp }),
  z.object({ type: z.literal('answer'), sender: peerId, target: peerId, sdp }),
  z.object({ type: z.literal('candidate'), sender: peerId, target: peerId, candidate: z.unknown() }),
  z.object({ type: z.literal('ping') }),
  z.object({ type: z.literal('pong') }),
  z.object({ type: z.literal('peer_joined'), peer: peerInfo }),
  z.object({ type: z.literal('peer_left'), peer_id: peerId }),
  z.object({ type: z.literal('error'), code: signalingErrorCode, reason: z.string(), message: z.string() }),
]);
export type SignalingServerMessage = z.infer<typeof signalingServerMessage>;
