import { AppError, type ErrorCode } from '../errors.js';
import type { SignalingErrorCode, SignalingServerMessage } from '../schemas/signaling.js';

type ErrorFrame = Extract<SignalingServerMessage, { type: 'error' }>;

/** How a signaling error code maps onto the project's error codes (for HTTP layers and logs). */
const APP_CODE: Record<SignalingErrorCode, ErrorCode> = {
  bad_message: 'bad_request',
  unauthorized: 'unauthorized',
  not_registered: 'forbidden',
  unknown_peer: 'not_found',
  other_room: 'not_found',
  duplicate_peer: 'conflict',
  worker_busy: 'conflict',
  rate_limited: 'upstream_error',
  internal: 'upstream_error',
};

/**
 * A coded signaling error: thrown by the hub (and turned into an `error` frame) and raised by
 * the client from an `error` frame. Callers branch on `signalingCode`.
 */
export class SignalingError extends AppError {
  readonly signalingCode: SignalingErrorCode;
  readonly reason: string;
  readonly requestId?: string;
  readonly peerId?: string;

  constructor(code: SignalingErrorCode, message: string, opts: { reason?: string; requestId?: string; peerId?: string; cause?: unknown } = {}) {
    super(APP_CODE[code], message, { cause: opts.cause, details: { signaling_code: code, reason: opts.reason ?? code, ...(opts.peerId ? { peer_id: opts.peerId } : {}) } });
    this.name = 'SignalingError';
    this.signalingCode = code;
    this.reason = opts.reason ?? code;
    this.requestId = opts.requestId;
    this.peerId = opts.peerId;
  }

  /** The `error` frame for this error, answering the frame with `requestId` (if any). */
  toFrame(requestId = this.requestId): ErrorFrame {
    return {
      type: 'error',
      code: this.signalingCode,
      reason: this.reason,
      message: this.message,
      ...(this.peerId ? { peer_id: this.peerId } : {}),
      ...(requestId ? { request_id: requestId } : {}),
    };
  }

  static fromFrame(f: ErrorFrame): SignalingError {
    return new SignalingError(f.code, f.message, { reason: f.reason, requestId: f.request_id, peerId: f.peer_id });
  }
}

export function isSignalingError(e: unknown, code?: SignalingErrorCode): e is SignalingError {
  return e instanceof SignalingError && (code === undefined || e.signalingCode === code);
}
