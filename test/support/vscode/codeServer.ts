// code-server 4.96.4 (= VS Code 1.96.4 on Node 20), installed by scripts/install-code-server.sh,
// started on a free loopback port with no auth and its own throwaway HOME / XDG / user-data /
// extensions folders, so a run never reads or writes the user's ~/.config or ~/.vscode.
//
// The extension host is a child of code-server and inherits its environment: what the caller puts
// in `env` (e.g. SLEAP_RTC_TEST_*) is visible as process.env inside the extension under test
// (verified by test/extension/harness.test.ts). HOME is the throwaway one there too.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../proc.js';
import { waitFor } from '../wait.js';
import { removeOnExit, spawnGroup, type Group } from './processGroup.js';

export const CODE_SERVER_VERSION = '4.96.4';

/** The installed code-server package folder (override with SLEAP_RTC_CODE_SERVER). */
export function codeServerDir(): string {
  return process.env.SLEAP_RTC_CODE_SERVER ?? join(repoRoot, '.tools', `code-server-${CODE_SERVER_VERSION}`, 'node_modules', 'code-server');
}

/** Why code-server cannot run here, or undefined when it is installed (tests skip with this reason). */
export function codeServerMissing(): string | undefined {
  const dir = codeServerDir();
  if (!existsSync(join(dir, 'out', 'node', 'entry.js'))) return `code-server is not installed in ${dir}: run scripts/install-code-server.sh`;
  if (!existsSync(join(dir, '..', '..', '.installed')) && process.env.SLEAP_RTC_CODE_SERVER === undefined) return `code-server install in ${dir} is unfinished: run scripts/install-code-server.sh`;
  try {
    codeServerNode();
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

/**
 * The Node that runs code-server: the one that built its native modules (Node 20, as VS Code 1.96's
 * extension host), recorded by scripts/install-code-server.sh in `node-path`, so that the tests can
 * run on Node 22 while the extension is tested on the runtime VS Code gives it.
 */
export function codeServerNode(): string {
  const file = join(codeServerDir(), '..', '..', 'node-path');
  if (existsSync(file)) {
    const node = readFileSync(file, 'utf8').trim();
    if (!existsSync(node)) throw new Error(`code-server's Node ${node} (from ${file}) is gone: run scripts/install-code-server.sh with Node 20`);
    return node;
  }
  if (process.versions.node.split('.')[0] === '20') return process.execPath;
  throw new Error(`code-server ${CODE_SERVER_VERSION} needs the Node 20 that built it and ${file} does not say which: run scripts/install-code-server.sh with Node 20`);
}

/** The throwaway folders of one code-server profile. */
export interface CodeServerDirs {
  root: string;
  home: string;
  /** Removes the folders now (and forgets the exit hook). */
  remove(): Promise<void>;
  /** Leaves the folders in place, also at exit (to inspect them). */
  keep(): void;
  userDataDir: string;
  extensionsDir: string;
  configFile: string;
}

export async function makeCodeServerDirs(settings: Record<string, unknown> = {}): Promise<CodeServerDirs> {
  const root = await mkdtemp(join(tmpdir(), 'sleap-rtc-vscode-'));
  const forget = removeOnExit(root);
  const dirs: CodeServerDirs = {
    root,
    remove: async () => {
      await rm(root, { recursive: true, force: true });
      forget();
    },
    keep: forget,
    home: join(root, 'home'),
    userDataDir: join(root, 'user-data'),
    extensionsDir: join(root, 'extensions'),
    configFile: join(root, 'config.yaml'),
  };
  await mkdir(join(dirs.userDataDir, 'User'), { recursive: true });
  await mkdir(dirs.home, { recursive: true });
  await mkdir(dirs.extensionsDir, { recursive: true });
  // Our own config file: code-server's default one holds a generated password we never want printed.
  await writeFile(dirs.configFile, 'auth: none\ncert: false\n');
  // Quiet defaults that keep the workbench deterministic; the caller's settings win.
  const defaults = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'security.workspace.trust.enabled': false,
    'window.restoreWindows': 'none',
  };
  await writeFile(join(dirs.userDataDir, 'User', 'settings.json'), JSON.stringify({ ...defaults, ...settings }, null, 2));
  return dirs;
}

// Variables from the caller's own environment that would leak into code-server: an outer VS Code's
// IPC hooks (its CLI would talk to that window), tsx's loader, node:test's child marker.
const DROP = /^(VSCODE_|ELECTRON_|NODE_OPTIONS$|NODE_TEST_CONTEXT$|PORT$|PASSWORD$|HASHED_PASSWORD$)/;

function childEnv(dirs: CodeServerDirs, env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !DROP.test(k)));
  return {
    ...base,
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    XDG_DATA_HOME: join(dirs.home, '.local', 'share'),
    XDG_CACHE_HOME: join(dirs.home, '.cache'),
    XDG_STATE_HOME: join(dirs.home, '.local', 'state'),
    EXTENSIONS_GALLERY: '{}', // no marketplace: nothing is fetched from the network
    ...env,
  };
}

/** `code-server --install-extension <vsix>` into the profile's extensions folder (offline). */
export async function installVsix(vsixPath: string, dirs: CodeServerDirs, env: Record<string, string> = {}): Promise<string> {
  const entry = join(codeServerDir(), 'out', 'node', 'entry.js');
  const args = [entry, '--config', dirs.configFile, '--user-data-dir', dirs.userDataDir, '--extensions-dir', dirs.extensionsDir, '--install-extension', vsixPath];
  return await new Promise<string>((resolve, reject) => {
    const child = spawn(codeServerNode(), args, { env: childEnv(dirs, env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      // Exit 1 on a corrupt .vsix or too new an engines.vscode; also require the success line.
      if (code === 0 && /successfully installed/i.test(out)) resolve(out.trim());
      else reject(new Error(`installing ${vsixPath} failed (exit ${code}):\n${out.trim()}`));
    });
  });
}

export interface CodeServerOptions {
  /** Added to the inherited environment of code-server and so of the extension host. */
  env?: Record<string, string>;
  /** Written to <user-data-dir>/User/settings.json (over a few quiet defaults). */
  settings?: Record<string, unknown>;
  /** .vsix files installed before the server starts. */
  vsix?: string[];
  /** Keep the temp folders after stop() (to inspect logs). */
  keepDirs?: boolean;
}

export interface CodeServer {
  /** http://127.0.0.1:<port> (no trailing slash). */
  url: string;
  port: number;
  dirs: CodeServerDirs;
  /** The vscode-remote URI of an absolute path on this machine, as the workbench payload wants it. */
  remoteUri(absPath: string): string;
  /** The last lines code-server printed (for failure messages; never contains a password: auth is off). */
  logTail(lines?: number): string;
  log(): string;
  stop(): Promise<void>;
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  const missing = codeServerMissing();
  if (missing) throw new Error(missing);
  const dirs = await makeCodeServerDirs(opts.settings);
  let group: Group | undefined;
  try {
    for (const vsix of opts.vsix ?? []) await installVsix(vsix, dirs, opts.env);
    const args = [
      join(codeServerDir(), 'out', 'node', 'entry.js'),
      '--auth', 'none',
      // Port 0: the kernel picks a free port and code-server prints it; no race with other tests.
      '--bind-addr', '127.0.0.1:0',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      '--user-data-dir', dirs.userDataDir,
      '--extensions-dir', dirs.extensionsDir,
      '--config', dirs.configFile,
    ];
    group = spawnGroup(codeServerNode(), args, { env: childEnv(dirs, opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const append = (d: Buffer): void => {
      output = (output + d.toString()).slice(-200_000);
    };
    group.child.stdout!.on('data', append);
    group.child.stderr!.on('data', append);
    const logTail = (lines = 30): string => output.split('\n').slice(-lines).join('\n');
    let exited: number | null | undefined;
    group.child.once('exit', (code) => (exited = code));

    const url = await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`code-server exited with ${exited} before listening:\n${logTail()}`);
        return /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      },
      'code-server to print its address',
      30_000,
      { lastSeen: () => logTail(5) },
    );
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`code-server exited with ${exited}:\n${logTail()}`);
        const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
        return ok ? true : undefined;
      },
      'code-server /healthz',
      30_000,
    );
    const port = Number(new URL(url).port);
    const g = group;
    return {
      url,
      port,
      dirs,
      remoteUri: (absPath) => `vscode-remote://127.0.0.1:${port}${absPath}`,
      logTail,
      log: () => output,
      stop: async () => {
        await g.kill();
        if (opts.keepDirs) dirs.keep();
        else await dirs.remove();
      },
    };
  } catch (e) {
    await group?.kill();
    if (opts.keepDirs) dirs.keep();
    else await dirs.remove();
    throw e;
  }
}
