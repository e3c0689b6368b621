import { AppError, isAppError } from '../errors.js';

interface Entry<R> {
  frame: string;
  expect: string;
  /** The transport that last carried the frame; a new one (after a reconnect) carries it again. */
  sentOn?: object;
  settle(err: Error | undefined, reply?: R): void;
}

/**
 * Requests waiting for their answer (matched by `request_id`), across reconnects: each keeps its
 * serialised frame so that it can be sent again on a new connection; each ends by its answer,
 * its timeout, its signal, or `rejectAll`.
 */
export class PendingRequests<R> {
  private readonly entries = new Map<string, Entry<R>>();

  get size(): number {
    return this.entries.size;
  }

  add(id: string, frame: string, expect: string, opts: { timeoutMs: number; what: string; signal?: AbortSignal }): Promise<R> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(new AppError('timeout', `no answer to ${opts.what} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      const onAbort = (): void => settle(abortError(opts.signal!));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (err: Error | undefined, reply?: R): void => {
        if (!this.entries.delete(id)) return;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(reply!);
      };
      this.entries.set(id, { frame, expect, settle });
    });
  }

  /** Resolves the request `id` when `type` is what it waits for; false when nothing matched. */
  answer(id: string | undefined, type: string, reply: R): boolean {
    const e = id === undefined ? undefined : this.entries.get(id);
    if (!e || e.expect !== type) return false;
    e.settle(undefined, reply);
    return true;
  }

  /** Rejects the request `id`; false when there is none. */
  fail(id: string | undefined, err: Error): boolean {
    const e = id === undefined ? undefined : this.entries.get(id);
    if (!e) return false;
    e.settle(err);
    return true;
  }

  /** The frames `transport` has not carried yet, marked as carried by it. */
  unsent(transport: object): string[] {
    const frames: string[] = [];
    for (const e of this.entries.values()) {
      if (e.sentOn === transport) continue;
      e.sentOn = transport;
      frames.push(e.frame);
    }
    return frames;
  }

  rejectAll(err: Error): void {
    for (const e of [...this.entries.values()]) e.settle(err);
  }
}

/** The error for an aborted signal: its reason when that is an AppError, else `aborted`. */
export function abortError(signal: AbortSignal): AppError {
  return isAppError(signal.reason) ? signal.reason : new AppError('aborted', 'the signaling request was aborted', { cause: signal.reason });
}
