// What a test inside the extension host can ask the runner (test/support/vscode/bridge.ts) to do
// with the browser. JSON over POST to $SLEAP_RTC_TEST_BRIDGE/<route>; any reply may be { error }.
// Shared by the server and the client (test/extension/suite/bridge.ts, which imports types only).

/** The environment variable holding the bridge's base URL, http://127.0.0.1:<port>. */
export const BRIDGE_ENV = 'SLEAP_RTC_TEST_BRIDGE';

export interface BridgeRoutes {
  /** Full-page screenshot saved as <artifactsDir>/<name>.png (name: letters, digits, . _ -). */
  '/screenshot': { req: { name: string }; res: { path: string } };
  /**
   * Evaluates `expression` (a JS expression; a Promise is awaited) in the first webview content
   * frame matching `match` (see webviewFrames.ts), waiting up to `timeoutMs` (default 10 s) for one.
   * The value must be JSON-serialisable.
   */
  '/webview': { req: { match: string; expression: string; timeoutMs?: number }; res: { value: unknown } };
  /** Descriptions of the open webview content frames (debugging). */
  '/webviews': { req: Record<string, never>; res: { value: string[] } };
  /**
   * page.keyboard: each of `press` in order (e.g. 'F1', 'Enter', 'Control+Shift+P'), then `type`.
   * With `waitFor` (a workbench CSS selector, e.g. QUICK_INPUT), first waits until it is visible
   * and, when it holds an input, has the focus: keys sent earlier would land in the editor.
   */
  '/keys': { req: { press?: string[]; type?: string; waitFor?: string; timeoutMs?: number }; res: { ok: true } };
  /** Waits until `selector` reaches `state` (default 'visible') in the workbench or a webview. */
  '/wait': { req: { selector: string; state?: 'attached' | 'detached' | 'visible' | 'hidden'; frameMatch?: string; timeoutMs?: number }; res: { ok: true } };
  /** Clicks `selector` in the workbench, or in the webview matching `frameMatch`. */
  '/click': { req: { selector: string; frameMatch?: string; timeoutMs?: number }; res: { ok: true } };
}

/** The QuickPick / InputBox widget (also what F1 opens). */
export const QUICK_INPUT = '.quick-input-widget';

export type BridgeRoute = keyof BridgeRoutes;
export type BridgeReply<R extends BridgeRoute> = BridgeRoutes[R]['res'] | { error: string };
