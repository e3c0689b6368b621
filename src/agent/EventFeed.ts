import { randomBytes } from 'node:crypto';
import { Emitter, rethrow } from '../core/Emitter.js';

/** Events kept for clients that reconnect (each is one serialized SSE block, a few hundred bytes). */
const CAPACITY = 10_000;

/** Why a reconnecting client was sent `event: reset` instead of the events it missed. */
export type ResetReason = 'agent_restarted' | 'too_old' | 'bad_id';

/**
 * The agent's server-sent events, numbered once for every client: ids are `<run>.<n>`, where
 * `run` is new each time the agent starts. The last CAPACITY events are kept, so a client that
 * reconnects with `Last-Event-ID` (as EventSource does by itself) gets every event it missed, in
 * order, and then the new ones, with no gap and no repeat. When they are no longer all kept, or
 * the id is from an earlier run of the agent, it gets `event: reset` instead and re-reads the
 * state (GET /api/uploads, /api/jobs).
 *
 * Written here because the SSE libraries for express keep no history: resuming is the point.
 */
export class EventFeed {
  private readonly run = randomBytes(4).toString('hex');
  private next = 1;
  /** Ring of serialized blocks; `kept[i]` has number `first + i`. */
  private readonly kept: string[] = [];
  private first = 1;
  // A subscriber's failure is the publisher's, as before: rethrown, not swallowed.
  private readonly published = new Emitter<string>(rethrow);

  publish(event: string, data: unknown): void {
    const block = `id: ${this.run}.${this.next++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.kept.push(block);
    if (this.kept.length > CAPACITY) {
      this.kept.shift();
      this.first++;
    }
    this.published.fire(block);
  }

  /**
   * Sends what a client with `lastEventId` missed (or a reset), then every new event, through
   * `send`, synchronously so that nothing published in between is lost. Returns the unsubscribe.
   */
  subscribe(lastEventId: string | undefined, send: (block: string) => void): () => void {
    if (lastEventId !== undefined && lastEventId !== '') {
      const missed = this.after(lastEventId);
      if (Array.isArray(missed)) for (const b of missed) send(b);
      else send(this.reset(missed));
    }
    return this.published.event(send);
  }

  /** The blocks after `id`, or why they cannot be given. */
  private after(id: string): string[] | ResetReason {
    const m = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(id);
    if (!m) return 'bad_id';
    if (m[1] !== this.run) return 'agent_restarted';
    const n = Number(m[2]);
    if (n >= this.next) return 'bad_id';
    if (n < this.first - 1) return 'too_old';
    return this.kept.slice(n - this.first + 1);
  }

  private reset(reason: ResetReason): string {
    const why: Record<ResetReason, string> = {
      agent_restarted: 'the agent restarted since that event',
      too_old: `the events after it are no longer kept (the last ${CAPACITY} are)`,
      bad_id: 'that event id was not sent by this agent',
    };
    const data = { reason, message: `cannot resume after that Last-Event-ID: ${why[reason]}; read the current state again (GET /api/uploads, GET /api/jobs)` };
    // Carries the current last id, so that the client's next reconnect resumes from here.
    return `id: ${this.run}.${this.next - 1}\nevent: reset\ndata: ${JSON.stringify(data)}\n\n`;
  }
}
