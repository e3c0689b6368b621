import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { AppError } from '../core/errors.js';

/**
 * GET /docs: the API's reference (Swagger UI from the swagger-ui-dist package) on /openapi.json,
 * offline: every file is served by the agent, and the CSP lets the page load and call nothing
 * else. No token to read it (like /openapi.json); "Try it out" needs the token (Authorize).
 */

/** The files the page loads (the build copies these into dist/docs/ and dist/bundled/docs/). */
export const DOCS_FILES = { swagger: ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE', 'NOTICE'], ours: ['init.js'] } as const;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // Swagger UI (React) sets style attributes on its elements.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sleap-rtc agent API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

/**
 * Where the files are. From the sources (tsx: tests, `npm start` before a build) the package's
 * own folder and src/agent/docs/; built, `docs/` beside the chunks folder this module was bundled
 * into (dist/chunks/ -> dist/docs/, dist/bundled/chunks/ -> dist/bundled/docs/).
 */
function fileDirs(): { swagger: string; ours: string } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { swagger: dirname(createRequire(here).resolve('swagger-ui-dist/package.json')), ours: fileURLToPath(new URL('./docs/', here)) };
  }
  const built = fileURLToPath(new URL('../docs/', here));
  return { swagger: built, ours: built };
}

export function docsRoutes(): Router {
  const dirs = fileDirs();
  const files = new Map<string, string>([...DOCS_FILES.swagger.map((f) => [f, join(dirs.swagger, f)] as const), ...DOCS_FILES.ours.map((f) => [f, join(dirs.ours, f)] as const)]);
  const r = express.Router();
  const headers = (res: express.Response) => res.set({ 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cross-origin-resource-policy': 'same-origin' });
  r.get('/docs', (_req, res) => void headers(res).set('cache-control', 'no-store').type('html').send(PAGE));
  r.get('/docs/:file', (req, res, next) => {
    const path = files.get(req.params.file);
    if (!path) return next(new AppError('not_found', `no file ${req.params.file} in /docs: the page is GET /docs`));
    if (!existsSync(path)) return next(new AppError('internal', `the docs file ${path} is missing from this installation (node scripts/build.mjs copies them)`));
    // LICENSE and NOTICE are plain text; the rest by extension.
    if (!req.params.file.includes('.')) res.type('text/plain');
    headers(res).sendFile(path, { maxAge: 0 });
  });
  return r;
}
