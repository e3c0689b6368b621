import type { AgentClient, AgentEvent } from '../../core/AgentClient.js';
import { Emitter, type Subscribe } from '../../core/Emitter.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../../core/backoff.js';

/** Where the events come from: the supervisor (its client changes when the agent restarts). */
export interface AgentEventSource {
  readonly client: AgentClient | undefined;
  readonly onDidChangeState: Subscribe<unknown>;
  /** Told when a stream ended by itself: the agent may be gone. */
  check?(): void;
}

/**
 * Read everything again (uploads, jobs; each open monitor its job's history after its last seq):
 * `initial` when the first stream opened (events from then on follow, so a read now misses
 * nothing), else the agent's `event: reset` reason (agent_restarted, too_old, bad_id).
 */
export interface AgentReset {
  reason: string;
  message?: string;
}

export interface AgentEventsOptions {
  source: AgentEventSource;
  /** Reconnects are spaced by core's backoffDelay (reset once a stream opens). */
  backoff?: BackoffOptions;
  random?: () => number;
  log?: (line: string) => void;
}

const BACKOFF: BackoffOptions = { ...DEFAULT_BACKOFF, initialMs: 250, maxMs: 5000 };

/**
 * Follows the agent's /api/events across disconnects and agent restarts: one stream at a time,
 * reopened with the last event id, so the agent sends what was missed (or `event: reset` when it
 * cannot: it restarted, or the events are no longer kept). Each event is emitted once: an id
 * already seen (same run, number not higher) is dropped.
 */
export class AgentEvents {
  private readonly events = new Emitter<AgentEvent>((e) => this.log(`an event listener failed: ${String(e)}`));
  private readonly resets = new Emitter<AgentReset>((e) => this.log(`a reset listener failed: ${String(e)}`));
  private last: string | undefined;
  private stream: { client: AgentClient; ctrl: AbortController } | undefined;
  private wake: (() => void) | undefined;
  private disposed = false;
  private readonly off: () => void;

  readonly onEvent: Subscribe<AgentEvent> = this.events.event;
  readonly onReset: Subscribe<AgentReset> = this.resets.event;
  /** Resolves when the loop has ended (after dispose). */
  readonly done: Promise<void>;

  constructor(private readonly o: AgentEventsOptions) {
    this.off = o.source.onDidChangeState(() => {
      // A new agent (or none): the stream to the old one is given up at once.
      if (this.stream && this.stream.client !== o.source.client) this.stream.ctrl.abort();
      this.wake?.();
    });
    this.done = this.run();
  }

  /** The id of the last event delivered (`<run>.<n>`). */
  get lastEventId(): string | undefined {
    return this.last;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.off();
    this.stream?.ctrl.abort();
    this.wake?.();
    this.events.dispose();
    this.resets.dispose();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.disposed) {
      const client = this.o.source.client;
      if (!client) {
        await this.sleep(undefined);
        continue;
      }
      const ctrl = new AbortController();
      this.stream = { client, ctrl };
      try {
        const stream = await client.openEvents(ctrl.signal, this.last);
        attempt = 0;
        if (this.last === undefined) this.resets.fire({ reason: 'initial' });
        for await (const ev of stream) {
          if (this.disposed) break;
          this.take(ev);
        }
      } catch (e) {
        if (!ctrl.signal.aborted) this.log(`the agent's event stream failed: ${(e as Error).message}`);
      } finally {
        this.stream = undefined;
        ctrl.abort();
      }
      if (this.disposed) break;
      // Given up for a new client: reopen at once. Ended by itself: the agent may be gone.
      if (this.o.source.client !== client) continue;
      this.o.source.check?.();
      await this.sleep(backoffDelay(attempt++, this.o.backoff ?? BACKOFF, this.o.random), client);
    }
  }

  private take(ev: AgentEvent): void {
    const id = ev.id && parseId(ev.id);
    const last = this.last && parseId(this.last);
    if (ev.event !== 'reset' && id && last && id.run === last.run && id.n <= last.n) return;
    if (ev.id) this.last = ev.id;
    if (ev.event === 'reset') {
      const d = (ev.data ?? {}) as { reason?: unknown; message?: unknown };
      this.resets.fire({ reason: typeof d.reason === 'string' ? d.reason : 'unknown', message: typeof d.message === 'string' ? d.message : undefined });
    } else {
      this.events.fire(ev);
    }
  }

  /** Waits `ms` (forever when undefined), or until the source's client changes from `from`. */
  private sleep(ms: number | undefined, from?: AgentClient): Promise<void> {
    if (this.disposed) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        if (this.wake === check) this.wake = undefined;
        resolve();
      };
      const check = (): void => {
        if (this.disposed || this.o.source.client !== from) done();
      };
      this.wake = check;
      if (ms !== undefined) {
        timer = setTimeout(done, ms);
        timer.unref?.();
      }
    });
  }

  private log(line: string): void {
    this.o.log?.(line);
  }
}

function parseId(id: string): { run: string; n: number } | undefined {
  const m = /^([^.]+)\.(\d+)$/.exec(id);
  return m ? { run: m[1], n: Number(m[2]) } : undefined;
}
