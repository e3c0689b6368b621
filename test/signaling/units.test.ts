import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signalingClientMessage, signalingServerMessage } from '../../src/core/schemas/signaling.js';
import { encodeFrame, messageTypes, parseFrame } from '../../src/core/signaling/frames.js';
import { signalingUrl } from '../../src/core/signaling/SignalingClient.js';
import { SignalingError } from '../../src/core/signaling/SignalingError.js';
import { mergeMetadata } from '../../src/server/signaling/filters.js';
import { TokenBucket } from '../../src/server/signaling/TokenBucket.js';

const TYPES = messageTypes(signalingClientMessage);
const parse = (data: string | Buffer, isBinary = false, max = 1024) => parseFrame(signalingClientMessage, TYPES, data, isBinary, max);
const reasonOf = (r: ReturnType<typeof parse>): string => (r.ok ? 'ok' : r.error.reason);

test('parseFrame gives every bad frame a bad_message reason and keeps the request id when it can', () => {
  assert.equal(reasonOf(parse('{not json')), 'invalid_json');
  assert.equal(reasonOf(parse('[1,2]')), 'invalid_json');
  assert.equal(reasonOf(parse('{"request_id":"a"}')), 'missing_type');
  assert.equal(reasonOf(parse('{"type":"register"}', true)), 'binary_frame');
  assert.equal(reasonOf(parse(JSON.stringify({ type: 'ping', pad: 'x'.repeat(2000) }))), 'too_large');
  const unknown = parse('{"type":"shutdown","request_id":"q7"}');
  assert.ok(!unknown.ok);
  assert.equal(unknown.error.reason, 'unknown_type');
  assert.equal(unknown.error.signalingCode, 'bad_message');
  assert.equal(unknown.error.requestId, 'q7');
  const fields = parse('{"type":"discover_peers","filters":{"properties":{"x":{"$regex":".*"}}},"request_id":"q8"}');
  assert.ok(!fields.ok);
  assert.equal(fields.error.reason, 'invalid_fields');
  assert.equal(fields.error.requestId, 'q8');
  assert.match(fields.error.message, /^invalid discover_peers: filters\.properties\.x/);
  const ok = parse(Buffer.from('{"type":"discover_peers"}'));
  assert.deepEqual(ok, { ok: true, msg: { type: 'discover_peers', filters: {} } });
});

test('encodeFrame refuses a server frame that breaks its schema', () => {
  assert.throws(() => encodeFrame(signalingServerMessage, { type: 'peer_left', peer_id: 'has space' }), (e: unknown) => e instanceof SignalingError && e.signalingCode === 'internal');
  assert.equal(encodeFrame(signalingServerMessage, { type: 'peer_left', peer_id: 'w1', reason: 'timeout' }), '{"type":"peer_left","peer_id":"w1","reason":"timeout"}');
});

test('an error frame round-trips through SignalingError', () => {
  const frame = new SignalingError('unknown_peer', 'no peer "w9" in this room', { peerId: 'w9' }).toFrame('r1');
  assert.ok(signalingServerMessage.safeParse(frame).success);
  const back = SignalingError.fromFrame(frame);
  assert.equal(back.signalingCode, 'unknown_peer');
  assert.equal(back.code, 'not_found');
  assert.equal(back.peerId, 'w9');
  assert.equal(back.requestId, 'r1');
});

test('update_metadata merge refuses a result outside the metadata limits', () => {
  const tags = Array.from({ length: 64 }, (_, i) => `t${i}`);
  assert.throws(() => mergeMetadata({ tags: [], properties: {} }, { tags: [...tags, 'one-too-many'] }), (e: unknown) => e instanceof SignalingError && e.signalingCode === 'bad_message');
  assert.deepEqual(mergeMetadata({ tags: ['a'], properties: { x: 1 } }, {}), { tags: ['a'], properties: { x: 1 } });
});

test('token bucket: a burst, then the refill rate', () => {
  let t = 0;
  const b = new TokenBucket(10, 3, () => t);
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
  t += 100;
  assert.deepEqual([b.take(), b.take()], [true, false]);
});

test('signalingUrl turns a server base URL into its /ws endpoint', () => {
  assert.equal(signalingUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/ws');
  assert.equal(signalingUrl('https://sig.lab.org/'), 'wss://sig.lab.org/ws');
  assert.equal(signalingUrl('ws://127.0.0.1:1/custom'), 'ws://127.0.0.1:1/custom');
  assert.throws(() => signalingUrl('ftp://x'), /http\(s\) or ws\(s\)/);
});
