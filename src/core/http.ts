import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { bytes } from './bytes.js';
import type { z } from 'zod';
import { AppError, isAppError } from './errors.js';
import type { Logger } from './log.js';

/** Parses a request body (or query) with its schema; the error names every bad field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues
    .map((i) => {
      const at = i.path.join('.');
      // A strict object's extra keys: named as fields (with where they are), not "Unrecognized key".
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${at ? `${at}.` : ''}${k}: unknown field, not taken here`).join('; ');
      return `${at || '(body)'}: ${i.message}`;
    })
    .join('; ');
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
    else if (bodyErr?.type === 'entity.too.large') e = tooLarge(err as { length?: number; limit?: number });
    else e = new AppError('internal', 'internal error', { cause: err });
    if (e.status >= 500) log.error('request failed', { method: req.method, path: req.path, code: e.code, error: String((e.cause as Error | undefined)?.message ?? e.message) });
    const message = e.code === 'internal' ? `internal error: see the ${service} log` : e.message;
    const allow = e.code === 'method_not_allowed' ? e.details?.allow : undefined;
    if (Array.isArray(allow)) res.set('allow', allow.join(', '));
    res.status(e.status).json({ error: { code: e.code, message, ...(e.details ? { details: e.details } : {}) } });
  };
}

function tooLarge(err: { length?: number; limit?: number }): AppError {
  const size = typeof err.length === 'number' ? ` (${bytes(err.length)})` : '';
  const limit = typeof err.limit === 'number' ? `: this API takes at most ${bytes(err.limit)}` : '';
  return new AppError('too_large', `the request body is too large${size}${limit}; send a file by its path, not its contents`);
}

/**
 * JSON request bodies, at most `limitBytes`. A body of another type is refused with 415 naming
 * the header: express.json leaves such a body unparsed, and the route then failed on a missing
 * field ("path: expected string, received undefined"), which sent users looking in the wrong place.
 */
export function jsonBodies(limitBytes: number): RequestHandler[] {
  const refuseOthers: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody || req.is('application/json')) return next();
    const got = req.headers['content-type'] ? `it was sent as ${req.headers['content-type']}` : 'it was sent without a Content-Type';
    next(new AppError('unsupported_media_type', `the request body must be JSON with the header Content-Type: application/json; ${got}`));
  };
  return [refuseOthers, express.json({ limit: limitBytes })];
}

const VERBS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * 405 with `Allow` for a path the API serves, asked with a method it does not serve there (else
 * such a request fell through to "no route", as if the path were wrong). The paths and methods
 * come from the API's OpenAPI document (`/api/jobs/{id}` templates), which lists every route.
 */
export function methodNotAllowed(paths: Record<string, Partial<Record<string, unknown>>>): RequestHandler {
  const routes = Object.entries(paths).map(([template, item]) => {
    const pattern = template
      .split('/')
      .map((seg) => (/^\{[^}]+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const methods = VERBS.filter((v) => item[v] !== undefined).map((v) => v.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    return { re: new RegExp(`^${pattern}/?$`), methods };
  });
  return (req, _res, next) => {
    const route = routes.find((r) => r.re.test(req.path));
    if (!route || route.methods.includes(req.method)) return next();
    next(new AppError('method_not_allowed', `${req.path} takes ${route.methods.filter((m) => m !== 'HEAD').join(', ')}, not ${req.method}`, { details: { allow: route.methods } }));
  };
}
