import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The installation's data folder: `--data`, else $SLEAP_RTC_DATA, else
 * $XDG_DATA_HOME/sleap-rtc, else ~/.local/share/sleap-rtc. Each process keeps its state in a
 * subfolder (store/, server/, agent/, worker/).
 */
export function dataHome(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit) return resolve(explicit);
  if (env.SLEAP_RTC_DATA) return resolve(env.SLEAP_RTC_DATA);
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'sleap-rtc');
  return join(homedir(), '.local', 'share', 'sleap-rtc');
}
