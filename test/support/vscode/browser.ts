// Debian's Chromium (/usr/bin/chromium, scripts/ci-install.sh) driven by playwright-core: nothing
// is downloaded (playwright's own browsers are not installed here). Its own profile and HOME in a
// temp folder, so it never writes to ~/.config/chromium or ~/.pki.
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { removeOnExit } from './processGroup.js';

export const CHROMIUM = process.env.SLEAP_RTC_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/ci-install.sh)`;
}

// Headless in a container: no sandbox (root, no user namespaces), no GPU, nothing reaching out.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** `args`: more Chromium switches (e.g. --host-resolver-rules for a name that resolves to 127.0.0.1). */
export async function launchBrowser(opts: { viewport?: { width: number; height: number }; args?: string[] } = {}): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const root = await mkdtemp(join(tmpdir(), 'sleap-rtc-chromium-'));
  const forget = removeOnExit(root);
  const remove = async (): Promise<void> => {
    await rm(root, { recursive: true, force: true });
    forget();
  };
  try {
    const context = await chromium.launchPersistentContext(join(root, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [...ARGS, ...(opts.args ?? [])],
      viewport: opts.viewport ?? { width: 1400, height: 900 },
      env: { ...process.env, HOME: root, XDG_CONFIG_HOME: join(root, 'config'), XDG_CACHE_HOME: join(root, 'cache') },
      // Our own handlers (processGroup.ts) clean up code-server first; playwright's would exit the
      // process before that. Its 'exit' hook still kills Chromium.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close().catch(() => undefined);
        await remove();
      },
    };
  } catch (e) {
    await remove();
    throw e;
  }
}
