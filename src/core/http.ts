import type { ErrorRequestHandler, Request } from 'express';
import type { z } from 'zod';
import { AppError, isAppError } from './errors.js';
import type { Logger } from './log.js';

/** Parses a request body (or query) with its schema; the error names every bad field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw new AppError('bad_request', `invalid ${what}: ${problems}`);
}

export function bodyOf(req: Request): unknown {
  return req.body ?? {};
}

/** One error middleware per HTTP service: AppError codes to status; 5xx details stay in `service`'s log, not the reply. */
export function errorMiddleware(log: Logger, service: string): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let e: AppError;
    const bodyErr = err as { type?: string; status?: number; message?: string };
    if (isAppError(err)) e = err;
    else if (bodyErr?.type === 'entity.parse.failed') e = new AppError('bad_request', `the request body is not valid JSON: ${bodyErr.message}`);
    else if (bodyErr?.type === 'entity.too.large') e = new AppError('too_large', 'the request body is too large');
    else e = new AppError('internal', 'internal error', { cause: err });
    if (e.status >= 500) log.error('request failed', { method: req.method, path: req.path, code: e.code, error: String((e.cause as Error | undefined)?.message ?? e.message) });
    const message = e.code === 'internal' ? `internal error: see the ${service} log` : e.message;
    res.status(e.status).json({ error: { code: e.code, message, ...(e.details ? { details: e.details } : {}) } });
  };
}
