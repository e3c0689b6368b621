// The runner's side of the bridge: an HTTP server on 127.0.0.1 that lets a test running inside the
// extension host (which has no handle on the browser) take screenshots, read webviews and press
// keys. Its URL reaches the extension host as $SLEAP_RTC_TEST_BRIDGE through code-server's
// environment. Protocol: bridgeProtocol.ts; client: test/extension/suite/bridge.ts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { BridgeRoute, BridgeRoutes } from './bridgeProtocol.js';
import { describeWebviews, waitForWebview } from './webviewFrames.js';

export interface Bridge {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The page requests act on; until then they answer 503. */
  attach(page: Page): void;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 1_000_000) throw new HttpError(413, 'request body over 1 MB');
  }
  try {
    const v: unknown = body ? JSON.parse(body) : {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new HttpError(400, `body is not a JSON object: ${(e as Error).message}`);
  }
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `${name} must be a non-empty string`);
  return v;
}

/** Waits until `selector` is visible and, if it contains an input, holds the keyboard focus. */
export async function waitFocused(page: Page, selector: string, timeout: number): Promise<void> {
  await page.waitForSelector(selector, { state: 'visible', timeout });
  await page.waitForFunction(
    (sel) => {
      const el = document.querySelector(sel);
      return el !== null && (el.querySelector('input, textarea') === null || el.contains(document.activeElement));
    },
    selector,
    { timeout },
  );
}

export async function startBridge(opts: { artifactsDir: string; log?: (line: string) => void }): Promise<Bridge> {
  let page: Page | undefined;
  const log = opts.log ?? (() => undefined);

  type Handler = (body: Record<string, unknown>, page: Page) => Promise<unknown>;
  const routes: { [R in BridgeRoute]: Handler } = {
    '/screenshot': async (body, p): Promise<BridgeRoutes['/screenshot']['res']> => {
      const name = str(body.name, 'name').replace(/\.png$/, '');
      // A file name, not a path: a test cannot write outside the artifacts folder.
      if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new HttpError(400, `bad screenshot name ${JSON.stringify(name)}`);
      await mkdir(opts.artifactsDir, { recursive: true });
      const path = join(opts.artifactsDir, `${name}.png`);
      await p.screenshot({ path, fullPage: true });
      log(`screenshot ${path} (${(await stat(path)).size} bytes)`);
      return { path };
    },
    '/webview': async (body, p): Promise<BridgeRoutes['/webview']['res'] | { error: string }> => {
      const match = str(body.match, 'match');
      const expression = str(body.expression, 'expression');
      const timeoutMs = typeof body.timeoutMs === 'number' ? body.timeoutMs : 10_000;
      try {
        const frame = await waitForWebview(p, match, timeoutMs);
        return { value: await frame.evaluate(expression) };
      } catch (e) {
        return { error: (e as Error).message.split('\n')[0] ?? String(e) };
      }
    },
    '/webviews': async (_body, p): Promise<BridgeRoutes['/webviews']['res']> => ({ value: await describeWebviews(p) }),
    '/keys': async (body, p): Promise<BridgeRoutes['/keys']['res']> => {
      const press = body.press ?? [];
      if (!Array.isArray(press) || !press.every((k) => typeof k === 'string')) throw new HttpError(400, 'press must be an array of key names');
      if (body.type !== undefined && typeof body.type !== 'string') throw new HttpError(400, 'type must be a string');
      const timeout = typeof body.timeoutMs === 'number' ? body.timeoutMs : 10_000;
      if (body.waitFor !== undefined) await waitFocused(p, str(body.waitFor, 'waitFor'), timeout);
      for (const k of press as string[]) await p.keyboard.press(k);
      if (body.type) await p.keyboard.type(body.type);
      return { ok: true };
    },
    '/wait': async (body, p): Promise<BridgeRoutes['/wait']['res']> => {
      const selector = str(body.selector, 'selector');
      const timeout = typeof body.timeoutMs === 'number' ? body.timeoutMs : 10_000;
      const state = (body.state ?? 'visible') as 'attached' | 'detached' | 'visible' | 'hidden';
      if (!['attached', 'detached', 'visible', 'hidden'].includes(state)) throw new HttpError(400, `bad state ${String(body.state)}`);
      const target = body.frameMatch === undefined ? p.mainFrame() : await waitForWebview(p, str(body.frameMatch, 'frameMatch'), timeout);
      await target.waitForSelector(selector, { state, timeout });
      return { ok: true };
    },
    '/click': async (body, p): Promise<BridgeRoutes['/click']['res']> => {
      const selector = str(body.selector, 'selector');
      const timeout = typeof body.timeoutMs === 'number' ? body.timeoutMs : 10_000;
      const target = body.frameMatch === undefined ? p.mainFrame() : await waitForWebview(p, str(body.frameMatch, 'frameMatch'), timeout);
      await target.click(selector, { timeout });
      return { ok: true };
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const reply = (status: number, v: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    };
    try {
      const route = new URL(req.url ?? '/', 'http://bridge').pathname;
      if (req.method !== 'POST') throw new HttpError(405, 'POST only');
      if (!(route in routes)) throw new HttpError(404, `no route ${route}; routes: ${Object.keys(routes).join(' ')}`);
      const body = await readJson(req);
      if (!page) throw new HttpError(503, 'no browser page attached yet');
      log(`${route} ${JSON.stringify(body).slice(0, 200)}`);
      reply(200, await routes[route as BridgeRoute](body, page));
    } catch (e) {
      reply(e instanceof HttpError ? e.status : 500, { error: (e as Error).message });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    attach: (p) => {
      page = p;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
