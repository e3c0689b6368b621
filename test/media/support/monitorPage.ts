/**
 * The Training Monitor's built bundle in real Chromium (playwright-core, Debian's /usr/bin/chromium),
 * in the HTML shell the extension uses (monitorHtml, so its CSP is enforced), served by a tiny
 * HTTP server on 127.0.0.1:0, with a stub `acquireVsCodeApi` that records what the webview posts.
 * The extension's messages are delivered with window.postMessage, as VS Code delivers them.
 * Used by the browser test and by bench/monitor.ts.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { monitorHtml } from '../../../src/core/monitor/html.js';
import type { ExtensionMessage } from '../../../src/core/monitor/protocol.js';
import { repoRoot } from '../../support/proc.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export interface MonitorPage {
  page: Page;
  url: string;
  /** Messages the webview posted so far (copies). */
  posted(): Promise<unknown[]>;
  /** Delivers extension -> webview messages, in order. */
  send(...messages: ExtensionMessage[]): Promise<void>;
  /** Errors thrown in the page and CSP violations, to assert none happened. */
  problems(): Promise<string[]>;
  /** The root element's data-* attributes. */
  data(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Builds media/dist/monitor.js when it is missing (npm test builds everything first anyway). */
export function ensureBundle(): string {
  const dist = join(repoRoot, 'media', 'dist');
  if (!existsSync(join(dist, 'monitor.js')) || !existsSync(join(dist, 'monitor.css'))) {
    const r = spawnSync(process.execPath, ['scripts/build.mjs', 'webviews'], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('node scripts/build.mjs webviews failed');
  }
  return dist;
}

/** A few of the variables VS Code sets on <html> for its default themes (it sets them all). */
const THEME_VARS: Record<string, Record<string, string>> = {
  'vscode-dark': { 'editor-background': '#1f1f1f', 'editor-foreground': '#cccccc', foreground: '#cccccc', descriptionForeground: '#9d9d9d', 'editorWidget-border': '#454545', 'button-background': '#0078d4', 'button-foreground': '#ffffff', 'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-green': '#89d185', 'charts-purple': '#b180d7', 'charts-red': '#f14c4c', 'charts-yellow': '#cca700' },
  'vscode-light': { 'editor-background': '#ffffff', 'editor-foreground': '#3b3b3b', foreground: '#3b3b3b', descriptionForeground: '#717171', 'editorWidget-border': '#c8c8c8', 'button-background': '#005fb8', 'button-foreground': '#ffffff', 'button-secondaryBackground': '#e5e5e5', 'button-secondaryForeground': '#3b3b3b', 'dropdown-background': '#ffffff', 'dropdown-foreground': '#3b3b3b', 'dropdown-border': '#cecece', 'panel-border': '#e5e5e5', 'charts-blue': '#1a85ff', 'charts-orange': '#d18616', 'charts-green': '#388a34', 'charts-purple': '#652d90', 'charts-red': '#e51400', 'charts-yellow': '#bf8803' },
  'vscode-high-contrast': { 'editor-background': '#000000', 'editor-foreground': '#ffffff', foreground: '#ffffff', descriptionForeground: '#ffffff', 'editorWidget-border': '#6fc3df', 'contrastBorder': '#6fc3df', 'button-background': '#000000', 'button-foreground': '#ffffff', 'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-green': '#89d185', 'charts-purple': '#b180d7', 'charts-red': '#f14c4c', 'charts-yellow': '#ffff00' },
};

function stubScript(state: unknown, bodyClass: string): string {
  const vars = Object.entries(THEME_VARS[bodyClass] ?? {}).map(([k, v]) => [`--vscode-${k}`, v]);
  return `'use strict';
for (const [k, v] of ${JSON.stringify(vars)}) document.documentElement.style.setProperty(k, v);
// tsx (esbuild keepNames) wraps named functions of page.evaluate callbacks in __name(): give it one.
window.__name = (f) => f;
window.__posted = [];
window.__problems = [];
window.__state = ${JSON.stringify(state ?? null)};
document.addEventListener('securitypolicyviolation', (e) => window.__problems.push('CSP ' + e.violatedDirective + ' ' + e.blockedURI));
window.addEventListener('error', (e) => window.__problems.push('error ' + e.message));
document.body.classList.add(${JSON.stringify(bodyClass)});
let acquired = false;
window.acquireVsCodeApi = () => {
  if (acquired) throw new Error('acquireVsCodeApi may be called once');
  acquired = true;
  return {
    postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
    getState: () => window.__state,
    setState: (s) => { window.__state = JSON.parse(JSON.stringify(s)); },
  };
};
`;
}

export async function openMonitorPage(opts: { width?: number; height?: number; state?: unknown; bodyClass?: string } = {}): Promise<MonitorPage> {
  const dist = ensureBundle();
  const dir = await mkdtemp(join(tmpdir(), 'sleap-monitor-'));
  let server: Server | undefined;
  let context: BrowserContext | undefined;
  try {
    const nonce = randomBytes(16).toString('base64');
    const files = new Map<string, { type: string; body: () => Promise<Buffer | string> }>([
      ['/stub.js', { type: 'text/javascript', body: async () => stubScript(opts.state, opts.bodyClass ?? 'vscode-dark') }],
      ['/dist/monitor.js', { type: 'text/javascript', body: () => readFile(join(dist, 'monitor.js')) }],
      ['/dist/monitor.css', { type: 'text/css', body: () => readFile(join(dist, 'monitor.css')) }],
    ]);
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const f = path === '/' ? { type: 'text/html', body: () => readFile(join(dir, 'index.html')) } : files.get(path);
      if (!f) {
        res.writeHead(404).end();
        return;
      }
      f.body().then(
        (b) => res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(b),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The extension's shell, with the stub loaded first under the same nonce (as VS Code injects its API).
    const html = monitorHtml({ cspSource: origin, nonce, scriptUri: `${origin}/dist/monitor.js`, styleUri: `${origin}/dist/monitor.css`, title: 'Training monitor' }).replace(
      '<script nonce=',
      `<script nonce="${nonce}" src="${origin}/stub.js"></script>\n<script nonce=`,
    );
    await writeFile(join(dir, 'index.html'), html);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: opts.width ?? 1200, height: opts.height ?? 800 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(`pageerror ${e.stack ?? e.message}`));
    await page.goto(`${origin}/`);
    const ctx = context;
    const srv = server;
    return {
      page,
      url: origin,
      posted: () => page.evaluate(() => (window as unknown as { __posted: unknown[] }).__posted.slice()),
      send: async (...messages) => {
        await page.evaluate((ms) => {
          for (const m of ms) window.postMessage(m, '*');
        }, messages);
      },
      problems: async () => [...pageErrors, ...(await page.evaluate(() => (window as unknown as { __problems: string[] }).__problems.slice()))],
      data: () => page.evaluate(() => ({ ...document.getElementById('monitor')!.dataset }) as Record<string, string>),
      close: async () => {
        try {
          await ctx.close();
        } finally {
          await new Promise<void>((resolve) => srv.close(() => resolve()));
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    await context?.close().catch(() => undefined);
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
