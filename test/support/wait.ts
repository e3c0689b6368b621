/**
 * Polls `fn` until it returns something other than undefined; throws after `timeoutMs` with what
 * was awaited and, when given, what was last seen (so a failure says where things stood).
 */
export async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, opts: { intervalMs?: number; lastSeen?: () => string } = {}): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${opts.lastSeen ? `; last seen: ${opts.lastSeen()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
