import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../core/errors.js';

/**
 * The local API's guards (docs/facts.md §6: Jupyter's token, MLflow's Host allow-list,
 * the Ray CVEs): a Host header that names this agent (DNS rebinding: a page on evil.example
 * resolving to 127.0.0.1 sends `Host: evil.example`), no browser Origin outside the allow-list,
 * and the bearer token on every /api route, taken from the Authorization header only (never a
 * cookie, which a browser adds by itself, nor the query string, which ends up in logs and history).
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

/**
 * `allowed` plus the agent's own origins (its /docs page calls the API from there: a browser
 * sends Origin on a same-origin POST or DELETE). Only the agent serves on its port, so its own
 * origin is no foreign page.
 */
export function originGuard(allowed: string[], port: () => number): RequestHandler {
  return (req, _res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.includes(origin) && !ownOrigins(port()).includes(origin)) return next(new AppError('forbidden', `Origin "${origin.slice(0, 100)}" is not allowed to call the agent (see --allowed-origins)`));
    next();
  };
}

const ownOrigins = (p: number) => [`http://127.0.0.1:${p}`, `http://localhost:${p}`, `http://[::1]:${p}`];

/**
 * Fetch metadata: a browser marks what another site's page made it send (Sec-Fetch-Site
 * cross-site or same-site: a link, a form, an <img>, a <script src>, which carry no Origin on a
 * GET). Refused unless the request's Origin is allow-listed, so a foreign page cannot even open
 * /docs or /health. Typed URLs and bookmarks are `none`, the agent's own pages `same-origin`;
 * clients that are not browsers send no such header.
 */
export function fetchSiteGuard(allowed: string[]): RequestHandler {
  return (req, _res, next) => {
    const site = req.headers['sec-fetch-site'];
    if ((site === 'cross-site' || site === 'same-site') && !(req.headers.origin !== undefined && allowed.includes(req.headers.origin))) {
      return next(new AppError('forbidden', `a request another site's page made the browser send (Sec-Fetch-Site: ${site}) is refused: open the agent's URL directly, or allow the page's origin with --allowed-origins`));
    }
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
