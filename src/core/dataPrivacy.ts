import type { Logger } from './log.js';
import { pathFor, thisHost, type Host } from './paths.js';

/**
 * Who can read the data folder's secrets (agent/token, agent/agent.json, stack-secrets.json).
 * On Linux and macOS they are written with mode 0600 in folders of mode 0700. On Windows mode
 * bits do nothing (Node maps them to the read-only flag at most): there the files are private
 * because the default data folder is under the user's profile (%LOCALAPPDATA%), whose ACL gives
 * access to the user, SYSTEM and Administrators only, and new files inherit it. A data folder
 * outside the profile (SLEAP_RTC_DATA=D:\lab) inherits that folder's ACL instead, which often
 * lets every local user read it; no native dependency is taken to set ACLs, so this is said
 * once, with the command that restricts the folder.
 */
export function exposedDataFolder(dir: string, host: Host): string | undefined {
  if (host.platform !== 'win32' || !host.home) return undefined;
  const p = pathFor('win32');
  // win32.relative compares case-insensitively; another drive gives an absolute path.
  const rel = p.relative(p.resolve(host.home), p.resolve(dir));
  if (rel === '' || (!rel.startsWith('..') && !p.isAbsolute(rel))) return undefined;
  return (
    `the data folder ${dir} is outside your profile (${host.home}), so on Windows its token and connection files are only as private as that folder's ACL, which may let other users read them: ` +
    `use a folder under your profile (unset SLEAP_RTC_DATA for the default, %LOCALAPPDATA%\\sleap-rtc), or make it yours alone with icacls "${dir}" /inheritance:r /grant:r "%USERNAME%:(OI)(CI)F"`
  );
}

const warned = new Set<string>();

/** Logs exposedDataFolder's warning, once per folder and process. */
export function warnIfDataFolderExposed(dir: string, log: Pick<Logger, 'warn'>, host: Host = thisHost()): void {
  const msg = exposedDataFolder(dir, host);
  if (!msg || warned.has(dir)) return;
  warned.add(dir);
  log.warn(msg, { data: dir });
}
