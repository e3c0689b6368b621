import type { z } from 'zod';
import { requestId as requestIdSchema } from '../schemas/signaling.js';
import { SignalingError } from './SignalingError.js';

/** Frames above this many bytes are refused with a coded error (the socket stays open). */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024;

/** A discriminated union of `{type: literal}` objects, as the signaling schemas are. */
type TypedUnion<T> = z.ZodType<T> & { options: readonly { shape: { type: { value: unknown } } }[] };

/** The `type` values a signaling schema accepts. */
export function messageTypes(schema: TypedUnion<unknown>): ReadonlySet<string> {
  return new Set(schema.options.map((o) => String(o.shape.type.value)));
}

export type FrameResult<T> = { ok: true; msg: T } | { ok: false; error: SignalingError };

/**
 * Decodes and validates one WebSocket frame against a signaling schema. Every failure is a
 * coded `bad_message` error whose `reason` says what was wrong; the `request_id` of a frame that
 * parsed as JSON is kept so that the reply can be matched to its request.
 */
export function parseFrame<T>(schema: TypedUnion<T>, types: ReadonlySet<string>, data: Buffer | string, isBinary: boolean, maxBytes = DEFAULT_MAX_FRAME_BYTES): FrameResult<T> {
  const fail = (reason: string, message: string, rid?: string): FrameResult<T> => ({ ok: false, error: new SignalingError('bad_message', message, { reason, requestId: rid }) });
  if (isBinary) return fail('binary_frame', 'signaling frames are JSON text; binary frames are not accepted');
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > maxBytes) return fail('too_large', `frame of ${size} bytes is larger than the limit of ${maxBytes} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return fail('invalid_json', 'frame is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('invalid_json', 'frame must be a JSON object with a "type"');
  const obj = raw as Record<string, unknown>;
  const rid = requestIdSchema.safeParse(obj.request_id).success ? (obj.request_id as string) : undefined;
  if (typeof obj.type !== 'string') return fail('missing_type', 'frame has no string "type"', rid);
  if (!types.has(obj.type)) return fail('unknown_type', `unknown message type "${obj.type.slice(0, 40)}"; expected one of ${[...types].join(', ')}`, rid);
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    return fail('invalid_fields', `invalid ${obj.type}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match its schema'}`, rid);
  }
  return { ok: true, msg: r.data };
}

/**
 * Validates an outgoing message and serialises it. A server frame that fails its schema is a bug
 * (`internal`); a client frame built from caller input is the caller's mistake (`bad_message`).
 */
export function encodeFrame<T>(schema: z.ZodType<T>, msg: T, code: 'internal' | 'bad_message' = 'internal'): string {
  const r = schema.safeParse(msg);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new SignalingError(code, `refusing to send an invalid ${(msg as { type?: string }).type ?? 'frame'}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'schema mismatch'}`, { reason: 'invalid_outgoing' });
  }
  return JSON.stringify(r.data);
}
