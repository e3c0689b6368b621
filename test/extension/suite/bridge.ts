// Inside the extension host: ask the test runner (test/support/vscode/bridge.ts) for what only the
// browser can do — screenshots, reading a webview's DOM, pressing keys, clicking. Plain fetch, no
// vscode import, so it also loads in a plain Node test. The runner passes its URL in
// $SLEAP_RTC_TEST_BRIDGE; under @vscode/test-electron (desktop) there is no bridge:
// bridgeAvailable() is false and a suite should skip its browser-level checks.
import { BRIDGE_ENV as ENV, type BridgeReply, type BridgeRoute, type BridgeRoutes } from '../../support/vscode/bridgeProtocol.js';

/** The QuickPick / InputBox widget's selector: keys({ waitFor: QUICK_INPUT, type: 'x' }). */
export { QUICK_INPUT } from '../../support/vscode/bridgeProtocol.js';

export function bridgeAvailable(): boolean {
  return Boolean(process.env[ENV]);
}

async function call<R extends BridgeRoute>(route: R, body: BridgeRoutes[R]['req']): Promise<BridgeRoutes[R]['res']> {
  const base = process.env[ENV];
  if (!base) throw new Error(`${ENV} is not set: not running under test/support/vscode/runSuite.ts`);
  const res = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const reply = (await res.json()) as BridgeReply<R>;
  if ('error' in reply) throw new Error(`bridge ${route}: ${reply.error}`);
  if (!res.ok) throw new Error(`bridge ${route}: HTTP ${res.status}`);
  return reply;
}

/** Saves a full-page screenshot of the workbench as <artifactsDir>/<name>.png; returns its path. */
export async function screenshot(name: string): Promise<string> {
  return (await call('/screenshot', { name })).path;
}

/**
 * Evaluates `expression` in the webview whose title, text or a data-* attribute contains `match`
 * (or, when `match` starts with '[', '#' or '.', which has an element for that CSS selector).
 * Waits up to `timeoutMs` (default 10 s) for such a webview; throws when none appears or the
 * expression throws. E.g. webviewEval<string>('Training Monitor', 'document.body.innerText').
 */
export async function webviewEval<T = unknown>(match: string, expression: string, opts: { timeoutMs?: number } = {}): Promise<T> {
  return (await call('/webview', { match, expression, timeoutMs: opts.timeoutMs })).value as T;
}

/** The visible text of the matching webview. */
export async function webviewText(match: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  return await webviewEval<string>(match, 'document.body.innerText', opts);
}

/** Descriptions of the open webviews (title and start of text), for failure messages. */
export async function webviews(): Promise<string[]> {
  return (await call('/webviews', {})).value;
}

/**
 * Keyboard input to the workbench page: each key of `press` in order (playwright names: 'F1',
 * 'Enter', 'Escape', 'ArrowDown', 'Control+Shift+P'), then `type` typed character by character.
 * `waitFor`: a workbench selector to wait for first (visible, and focused when it holds an input).
 * Drives QuickPicks and input boxes that a command opens: start the command without awaiting it
 * (it resolves only once the pick is answered), then
 *   await keys({ waitFor: QUICK_INPUT, type: 'gamma' }); await keys({ press: ['Enter'] });
 * Without waitFor, keys typed before the QuickPick appears go to whatever had the focus.
 */
export async function keys(k: { press?: string[]; type?: string; waitFor?: string; timeoutMs?: number }): Promise<void> {
  await call('/keys', k);
}

/** Waits for a selector in the workbench (or in the webview matching `frameMatch`) to reach `state`. */
export async function waitForSelector(selector: string, opts: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; frameMatch?: string; timeoutMs?: number } = {}): Promise<void> {
  await call('/wait', { selector, ...opts });
}

/** Clicks a CSS selector in the workbench, or inside the webview matching `frameMatch`. */
export async function click(selector: string, opts: { frameMatch?: string; timeoutMs?: number } = {}): Promise<void> {
  await call('/click', { selector, ...opts });
}
