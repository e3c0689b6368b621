import { AppError } from '../errors.js';

/** What the gate needs of a werift RTCDataChannel. */
export interface BufferedChannel {
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  readonly bufferedAmountLow: { subscribe(fn: () => void): { unSubscribe(): void } };
}

/**
 * Backpressure for file chunks: a chunk may be queued only while the channel's queue stays
 * within `maxQueuedBytes`; otherwise wait for werift's `bufferedAmountLow` (the
 * `onbufferedamountlow` property does not fire in werift, docs/facts.md §3), which fires when
 * the queue falls to half of the limit. JSON frames bypass the gate, so a control message waits
 * behind at most `maxQueuedBytes` of chunks.
 */
export class SendGate {
  readonly lowWater: number;

  constructor(
    private readonly dc: BufferedChannel,
    readonly maxQueuedBytes: number,
  ) {
    this.lowWater = Math.floor(maxQueuedBytes / 2);
    dc.bufferedAmountLowThreshold = this.lowWater;
  }

  /** Resolves when `size` more bytes fit; rejects with the abort reason of `signal` or `life`. */
  async ready(size: number, signal: AbortSignal | undefined, life: AbortSignal): Promise<void> {
    while (this.dc.bufferedAmount > 0 && this.dc.bufferedAmount + size > this.maxQueuedBytes) {
      await this.drained(signal, life);
    }
  }

  private drained(signal: AbortSignal | undefined, life: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (s: AbortSignal): void => {
        cleanup();
        reject(abortReason(s));
      };
      const onAbort = (): void => fail(signal!);
      const onClose = (): void => fail(life);
      const sub = this.dc.bufferedAmountLow.subscribe(() => {
        cleanup();
        resolve();
      });
      const cleanup = (): void => {
        sub.unSubscribe();
        signal?.removeEventListener('abort', onAbort);
        life.removeEventListener('abort', onClose);
      };
      if (signal?.aborted) return onAbort();
      if (life.aborted) return onClose();
      signal?.addEventListener('abort', onAbort, { once: true });
      life.addEventListener('abort', onClose, { once: true });
      // The queue may already have drained between the caller's check and the subscription.
      if (this.dc.bufferedAmount <= this.lowWater) {
        cleanup();
        resolve();
      }
    });
  }
}

/** An AppError for an aborted signal (its reason when that is already an AppError). */
export function abortReason(signal: AbortSignal): AppError {
  const r: unknown = signal.reason;
  if (r instanceof AppError) return r;
  return new AppError('aborted', 'the operation was cancelled', { cause: r });
}
