import { AppError } from '../core/errors.js';

/**
 * Polls `ready` until it holds, for what announces itself only by a file (a process we started
 * detached). Rejects with a timeout AppError carrying `what`.
 */
export async function waitUntil(ready: () => boolean, timeoutMs: number, what: string, pollMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > end) throw new AppError('timeout', `${what} within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
