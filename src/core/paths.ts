import { homedir } from 'node:os';
import { posix, win32, type PlatformPath } from 'node:path';

/** What the data folder's default depends on; injected in tests (CI runs Linux only). */
export interface Host {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The user's home (os.homedir(): %USERPROFILE% on Windows). */
  home: string;
}

export function thisHost(env: NodeJS.ProcessEnv = process.env): Host {
  return { platform: process.platform, env, home: homedir() };
}

/** Path maths of that platform (Windows paths are joined with backslashes even when tested on Linux). */
export function pathFor(platform: NodeJS.Platform): PlatformPath {
  return platform === 'win32' ? win32 : posix;
}

/**
 * The installation's data folder: `explicit` (--data, sleapRtc.dataFolder), else $SLEAP_RTC_DATA,
 * else the platform's place for per-user application data:
 * - Linux (and other Unixes): $XDG_DATA_HOME/sleap-rtc, else ~/.local/share/sleap-rtc (the XDG
 *   Base Directory spec, which ignores a relative $XDG_DATA_HOME);
 * - macOS: ~/Library/Application Support/sleap-rtc;
 * - Windows: %LOCALAPPDATA%\sleap-rtc, else ~\AppData\Local\sleap-rtc. Local, not Roaming: the
 *   ledger, logs and models are this machine's, and a roaming profile would copy them around.
 * Each process keeps its state in a subfolder (store/, server/, agent/, worker/).
 */
export function dataHomeFor(o: Host & { explicit?: string }): string {
  const p = pathFor(o.platform);
  if (o.explicit) return p.resolve(o.explicit);
  if (o.env.SLEAP_RTC_DATA) return p.resolve(o.env.SLEAP_RTC_DATA);
  if (o.platform === 'win32') {
    const local = o.env.LOCALAPPDATA;
    return p.join(local && p.isAbsolute(local) ? local : p.join(o.home, 'AppData', 'Local'), 'sleap-rtc');
  }
  if (o.platform === 'darwin') return p.join(o.home, 'Library', 'Application Support', 'sleap-rtc');
  const xdg = o.env.XDG_DATA_HOME;
  return p.join(xdg && p.isAbsolute(xdg) ? xdg : p.join(o.home, '.local', 'share'), 'sleap-rtc');
}

/** dataHomeFor on this machine. */
export function dataHome(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  return dataHomeFor({ ...thisHost(env), explicit });
}
