/** Not met yet: what a condition given to `waitFor` returns until it holds. */
type NotMet = undefined | null | false;

export interface WaitOptions {
  /** How often the condition is checked; default 100 ms (in-process conditions may go lower). */
  intervalMs?: number;
  /** What was last seen, added to the failure (so a timeout says where things stood). */
  lastSeen?: () => string;
}

/**
 * The one way tests wait: checks `cond` (sync or async) until it gives something other than
 * undefined, null or false, and returns that (`true` for a plain condition, or the value awaited).
 * A throw from `cond` ends the wait at once: a condition that can no longer be met says so.
 * Throws after `timeoutMs` with what was awaited and, when given, what was last seen.
 */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 30_000, opts: WaitOptions = {}): Promise<Exclude<T, NotMet>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, NotMet>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${opts.lastSeen ? `; last seen: ${opts.lastSeen()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/**
 * For a claim that something does not happen (no progress while paused, a connection left
 * open): checks `cond` for `ms` and fails at the first check where it is false. This is the
 * observation itself, not synchronisation: first wait for the state with `waitFor`, then watch it.
 */
export async function holdsFor(cond: () => boolean | Promise<boolean>, what: string, ms: number, opts: WaitOptions = {}): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (!(await cond())) throw new Error(`${what} stopped holding ${ms - Math.max(0, end - Date.now())} ms into a ${ms} ms window${opts.lastSeen ? `; last seen: ${opts.lastSeen()}` : ''}`);
    if (Date.now() >= end) return;
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 100, Math.max(1, end - Date.now()))));
  }
}
