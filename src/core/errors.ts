/**
 * One error type for the whole project. `code` is what callers branch on and what crosses
 * process boundaries; `message` says what was wrong and what to do about it.
 */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'port_in_use'
  | 'config_invalid'
  | 'storage_error'
  | 'upstream_error'
  | 'upload_not_found'
  | 'checksum_mismatch'
  | 'source_changed'
  | 'aborted'
  | 'timeout'
  | 'unknown_worker'
  | 'no_worker'
  | 'job_finished'
  | 'unavailable'
  | 'disk_full'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  too_large: 413,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  port_in_use: 409,
  config_invalid: 400,
  storage_error: 502,
  upstream_error: 502,
  upload_not_found: 404,
  checksum_mismatch: 422,
  source_changed: 409,
  aborted: 499,
  timeout: 504,
  unknown_worker: 404,
  no_worker: 503,
  job_finished: 409,
  unavailable: 503,
  disk_full: 507,
  internal: 500,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = opts.details;
  }

  get status(): number {
    return STATUS[this.code];
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isAppError(e: unknown, code?: ErrorCode): e is AppError {
  return e instanceof AppError && (code === undefined || e.code === code);
}

/** Wraps anything thrown into an AppError, keeping the original as `cause`. */
export function toAppError(e: unknown, fallback: ErrorCode = 'internal'): AppError {
  if (e instanceof AppError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new AppError(fallback, msg, { cause: e });
}
