import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../core/errors.js';

/**
 * The local API's guards (docs/facts.md §6: Jupyter's token, MLflow's Host allow-list,
 * the Ray CVEs): a Host header that names this agent (DNS rebinding: a page on evil.example
 * resolving to 127.0.0.1 sends `Host: evil.example`), no browser Origin outside the allow-list,
 * and the bearer token on every /api route.
 */
export function hostGuard(port: () => number): RequestHandler {
  return (req, _res, next) => {
    const host = (req.headers.host ?? '').toLowerCase();
    const p = port();
    const ok = [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`];
    if (!ok.includes(host)) return next(new AppError('forbidden', `Host "${host.slice(0, 100)}" is not allowed: call the agent as http://127.0.0.1:${p}`));
    next();
  };
}

export function originGuard(allowed: string[]): RequestHandler {
  return (req, _res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.includes(origin)) return next(new AppError('forbidden', `Origin "${origin.slice(0, 100)}" is not allowed to call the agent (see --allowed-origins)`));
    next();
  };
}

export function tokenGuard(token: string, tokenFile: string): RequestHandler {
  const want = Buffer.from(`Bearer ${token}`);
  return (req, _res, next) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return next(new AppError('unauthorized', `missing or wrong token: send "Authorization: Bearer <token>" with the token in ${tokenFile}`));
    }
    next();
  };
}
