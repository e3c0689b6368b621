// Runs an extension's test suite in a real VS Code (code-server in headless Chromium), the way
// VS Code's own browser integration tests do: the workbench URL carries a `payload` with
// extensionDevelopmentPath and extensionTestsPath; the workbench loads the extension in its Node
// extension host, runs the tests module's run(), and reports the host's console through
// window.codeAutomationLog and the result through window.codeAutomationExit(code, logs).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative } from 'node:path';
import { format } from 'node:util';
import { launchBrowser, type Browser } from './browser.js';
import { startBridge, type Bridge } from './bridge.js';
import { BRIDGE_ENV } from './bridgeProtocol.js';
import { startCodeServer, type CodeServer } from './codeServer.js';

export interface SuiteOptions {
  /** Folder opened in the workbench (absolute, must exist). */
  workspace: string;
  /** Folder of the extension under development (its package.json); omit to test installed ones. */
  extensionDevelopmentPath?: string;
  /** The tests module (CJS) exporting `run(): Promise<void>`, e.g. dist/test/extension/index.cjs. */
  extensionTestsPath?: string;
  /** Extra environment for code-server and so the extension host (SLEAP_RTC_TEST_BRIDGE is added). */
  env?: Record<string, string>;
  /** User settings (settings.json). */
  settings?: Record<string, unknown>;
  /** Whole run, from starting code-server to the exit report; exceeding it is a failure. */
  timeoutMs: number;
  /** Screenshots, vscode.log, code-server.log, workbench-console.log, VS Code's own logs. */
  artifactsDir: string;
  /** Echo the extension host's console to stderr as `[vscode] ...` (default true). */
  echo?: boolean;
}

export interface SuiteResult {
  /** run()'s outcome as VS Code reports it: 0 passed; non-zero failed; 124 timed out. */
  exitCode: number;
  /** The extension host's console, one entry per line. */
  log: string[];
  timedOut: boolean;
  durationMs: number;
}

const TIMEOUT_EXIT = 124; // as timeout(1)

function absolute(p: string, what: string): string {
  if (!isAbsolute(p)) throw new Error(`${what} must be absolute: ${p}`);
  if (!existsSync(p)) throw new Error(`${what} does not exist: ${p}`);
  return normalize(p);
}

export async function runVsCodeSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const started = Date.now();
  const workspace = absolute(opts.workspace, 'workspace');
  const devPath = opts.extensionDevelopmentPath && absolute(opts.extensionDevelopmentPath, 'extensionDevelopmentPath');
  const testsPath = opts.extensionTestsPath && absolute(opts.extensionTestsPath, 'extensionTestsPath');
  await mkdir(opts.artifactsDir, { recursive: true });

  const log: string[] = [];
  const consoleLines: string[] = [];
  const say = (line: string): void => {
    log.push(line);
    if (opts.echo !== false) process.stderr.write(`[vscode] ${line}\n`);
  };

  let bridge: Bridge | undefined;
  let cs: CodeServer | undefined;
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  let exitCode: number | undefined; // undefined after an error: reported as 1
  let timedOut = false;
  try {
    bridge = await startBridge({ artifactsDir: opts.artifactsDir, log: (l) => opts.echo !== false && process.stderr.write(`[bridge] ${l}\n`) });
    const b = bridge;
    // One deadline for everything: a hang while starting counts against the same budget.
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), opts.timeoutMs)));
    const ready = (async () => {
      cs = await startCodeServer({ env: { ...opts.env, [BRIDGE_ENV]: b.url }, settings: opts.settings });
      const csMs = Date.now() - started;
      browser = await launchBrowser();
      say(`runVsCodeSuite: code-server up in ${csMs} ms, Chromium in ${Date.now() - started - csMs} ms`);
      return { cs, browser };
    })();
    const up = await Promise.race([ready, deadline]);
    if (up === 'timeout') {
      // Whatever is still starting gets stopped once it has started.
      void ready.then(({ cs: c, browser: br }) => Promise.all([br.close(), c.stop()])).catch(() => undefined);
      timedOut = true;
      throw new Error(`TIMED OUT after ${opts.timeoutMs} ms starting code-server and Chromium (failure)`);
    }
    const { page } = up.browser;
    bridge.attach(page);

    let reportExit!: (r: { code: number; logs: unknown }) => void;
    const exited = new Promise<{ code: number; logs: unknown }>((resolve) => (reportExit = resolve));
    // (level, args): args are the console call's arguments, a format string first
    // (mocha's spec reporter logs ['    ✔ %s', title]); util.format renders them as Node would.
    await page.exposeFunction('codeAutomationLog', (level: unknown, args: unknown) => {
      const text = Array.isArray(args) ? format(...(args as unknown[])) : String(args);
      for (const line of text.replace(/\n$/, '').split('\n')) say(level === 'error' || level === 'warn' ? `${level}: ${line}` : line);
    });
    await page.exposeFunction('codeAutomationExit', (code: unknown, logs: unknown) => reportExit({ code: typeof code === 'number' ? code : 1, logs }));
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on('crash', () => {
      say('runVsCodeSuite: the workbench page crashed');
      reportExit({ code: 1, logs: [] });
    });

    const payload: [string, string][] = [];
    if (devPath) payload.push(['extensionDevelopmentPath', up.cs.remoteUri(devPath)]);
    if (testsPath) payload.push(['extensionTestsPath', up.cs.remoteUri(testsPath)]);
    const url = `${up.cs.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);

    const outcome = await Promise.race([exited, deadline]);
    if (outcome === 'timeout') {
      timedOut = true;
      say(`runVsCodeSuite: TIMED OUT after ${opts.timeoutMs} ms without an exit report from the workbench (failure)`);
      await page.screenshot({ path: join(opts.artifactsDir, 'timeout.png'), fullPage: true }).catch(() => undefined);
    } else {
      exitCode = outcome.code;
      say(`runVsCodeSuite: exit code ${exitCode} after ${Date.now() - started} ms`);
      await saveVsCodeLogs(opts.artifactsDir, outcome.logs);
    }
  } catch (e) {
    say(`runVsCodeSuite: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
    // Save what code-server said before its folders are removed; then stop everything.
    const csLog = (cs as CodeServer | undefined)?.log() ?? '';
    await (browser as Browser | undefined)?.close();
    await (cs as CodeServer | undefined)?.stop();
    await bridge?.close();
    await writeFile(join(opts.artifactsDir, 'code-server.log'), csLog);
    await writeFile(join(opts.artifactsDir, 'workbench-console.log'), consoleLines.join('\n') + '\n');
    await writeFile(join(opts.artifactsDir, 'vscode.log'), log.join('\n') + '\n');
  }
  return { exitCode: timedOut ? TIMEOUT_EXIT : (exitCode ?? 1), log, timedOut, durationMs: Date.now() - started };
}

// codeAutomationExit's second argument: VS Code's own log files ({ relativePath, contents }[]),
// the extension host's log among them. Kept for post-mortems.
async function saveVsCodeLogs(artifactsDir: string, logs: unknown): Promise<void> {
  if (!Array.isArray(logs)) return;
  const root = join(artifactsDir, 'vscode-logs');
  for (const entry of logs as { relativePath?: unknown; contents?: unknown }[]) {
    if (typeof entry?.relativePath !== 'string' || typeof entry.contents !== 'string') continue;
    const path = join(root, entry.relativePath);
    if (relative(root, path).startsWith('..')) continue; // stay inside the artifacts folder
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, entry.contents);
  }
}
