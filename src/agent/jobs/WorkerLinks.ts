import { Backoff, type BackoffOptions } from '../../core/backoff.js';
import { AppError, toAppError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { RtcLink } from '../../core/rtc/RtcLink.js';
import type { RtcLinkConfigInput } from '../../core/rtc/linkConfig.js';
import type { SignalingClient } from '../../core/signaling/SignalingClient.js';

/** Reconnects to a worker: 250 ms doubling to 5 s, no jitter (one agent, a few workers). */
export const LINK_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5000, jitter: 0 };
/** How long after a worker left signaling its link must stay silent for the worker to count as gone. */
export const SILENCE_AFTER_LEAVE_MS = 2500;

export interface WorkerLinksOptions {
  /** Carries offers, answers and candidates; tells who is in the room. */
  signaling: SignalingClient;
  /** Resolves once signaling is connected (rejects with an error that says what to do). */
  ready(): Promise<void>;
  link: RtcLinkConfigInput;
  log: Logger;
  /** How many jobs the agent follows on `worker`: a closed link is reopened only while there are some. */
  jobsOn(worker: string): number;
  /** A new link to `worker` is open: every job on it uses it from now on. */
  onOpen(worker: string, link: RtcLink): void;
  /** `worker` is gone: it left the room (and its link went silent), or is no longer there to reconnect to. */
  onGone(worker: string, why: string): void;
  /** Default LINK_BACKOFF. */
  backoff?: BackoffOptions;
  /** Default SILENCE_AFTER_LEAVE_MS. */
  silenceAfterLeaveMs?: number;
}

/**
 * `idle`: no link (none made yet, or closed with no job wanting it); `connecting`: a link is being
 * negotiated; `open`; `retrying`: the link closed or failed while jobs want it, and the one
 * reconnect is scheduled.
 */
export type WorkerLinkState = 'idle' | 'connecting' | 'open' | 'retrying';

/** One worker's link and what is pending for it. */
interface Entry {
  /** The link being negotiated, or open. */
  link?: RtcLink;
  /** The connect in progress (every caller waits for the same one). */
  connecting?: Promise<RtcLink>;
  /** The one reconnect scheduled: never two, so failures do not multiply attempts. */
  retry?: NodeJS.Timeout;
  backoff: Backoff;
}

/** A pending check that a worker which left signaling has gone quiet. */
interface LeaveCheck {
  timer: NodeJS.Timeout;
  settle(r: 'alive' | 'gone' | 'closed'): void;
}

/**
 * The agent's WebRTC links to workers: one per worker (the agent offers), shared by every job on
 * it. A link that closes while jobs want it is reopened after a backoff, one attempt at a time,
 * as long as the worker is in the room; each new link is handed to `onOpen` (the jobs re-attach
 * and ask for what they missed).
 */
export class WorkerLinks {
  private readonly entries = new Map<string, Entry>();
  private readonly leaveChecks = new Set<LeaveCheck>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly o: WorkerLinksOptions) {
    this.log = o.log;
  }

  state(worker: string): WorkerLinkState {
    const w = this.entries.get(worker);
    if (!w) return 'idle';
    if (w.connecting) return 'connecting';
    if (w.link?.state === 'open') return 'open';
    return w.retry ? 'retrying' : 'idle';
  }

  /** The worker's current link (negotiating or open), if any. */
  current(worker: string): RtcLink | undefined {
    return this.entries.get(worker)?.link;
  }

  /** Reconnects scheduled since the worker's link was last open. */
  retries(worker: string): number {
    return this.entries.get(worker)?.backoff.retries ?? 0;
  }

  /** The open link to `worker`, made if there is none (concurrent callers share one connect). */
  linkTo(worker: string): Promise<RtcLink> {
    if (this.closed) return Promise.reject(new AppError('aborted', 'the agent is shutting down'));
    let w = this.entries.get(worker);
    if (!w) {
      w = { backoff: new Backoff(this.o.backoff ?? LINK_BACKOFF) };
      this.entries.set(worker, w);
    }
    if (w.link && w.link.state === 'open') return Promise.resolve(w.link);
    if (w.connecting) return w.connecting;
    const entry = w;
    entry.connecting = this.connect(worker, entry).finally(() => (entry.connecting = undefined));
    return entry.connecting;
  }

  /** The worker's answer to our offer (signaling). */
  answer(from: string, sdp: string): void {
    void this.entries
      .get(from)
      ?.link?.handleAnswer(sdp)
      .catch((e: unknown) => this.log.debug('answer refused', { from, error: String(e) }));
  }

  candidate(from: string, candidate: unknown): void {
    void this.entries
      .get(from)
      ?.link?.handleCandidate(candidate)
      .catch(() => undefined);
  }

  /** Whether a worker is registered in the room; true when signaling cannot tell (keep trying the link). */
  async isPresent(worker: string): Promise<boolean> {
    try {
      await this.o.signaling.connect();
      return (await this.o.signaling.discover({ role: 'worker' })).some((p) => p.peer_id === worker);
    } catch {
      return true;
    }
  }

  /**
   * The worker left signaling: it is gone (`onGone`) unless its link shows life (frames received)
   * within the silence period. Resolves with the verdict ('closed': the pool closed first).
   */
  afterLeave(worker: string): Promise<'alive' | 'gone' | 'closed'> {
    if (this.closed) return Promise.resolve('closed');
    const link = this.current(worker);
    const before = link?.stats().framesReceived ?? -1;
    return new Promise((resolve) => {
      const check: LeaveCheck = {
        timer: setTimeout(() => {
          this.leaveChecks.delete(check);
          const now = this.current(worker);
          const alive = now !== undefined && now.state === 'open' && now.stats().framesReceived > before && before >= 0;
          if (!alive) this.o.onGone(worker, 'it left the room and its link went silent');
          resolve(alive ? 'alive' : 'gone');
        }, this.o.silenceAfterLeaveMs ?? SILENCE_AFTER_LEAVE_MS),
        settle: (r) => {
          clearTimeout(check.timer);
          this.leaveChecks.delete(check);
          resolve(r);
        },
      };
      check.timer.unref();
      this.leaveChecks.add(check);
    });
  }

  /** Forgets a worker: no reconnect, its link closed. */
  drop(worker: string): void {
    const w = this.entries.get(worker);
    if (!w) return;
    this.entries.delete(worker);
    clearTimeout(w.retry);
    void w.link?.close();
  }

  /** Stops every reconnect and check at once, then closes the links. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.leaveChecks]) c.settle('closed');
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const w of entries) clearTimeout(w.retry);
    await Promise.allSettled(entries.map((w) => w.link?.close()));
  }

  private async connect(worker: string, w: Entry): Promise<RtcLink> {
    await this.o.ready();
    const signaling = this.o.signaling;
    const link = new RtcLink({
      role: 'offerer',
      config: this.o.link,
      log: this.log.child('rtc', { worker }),
      signal: {
        sendOffer: (sdp) => signaling.sendOffer(worker, sdp),
        sendAnswer: (sdp) => signaling.sendAnswer(worker, sdp),
        sendCandidate: (c) => signaling.sendCandidate(worker, c),
      },
    });
    // Set before negotiating: the worker's answer and candidates are routed to it.
    w.link = link;
    link.onClose((reason) => this.onClosed(worker, w, link, reason));
    try {
      await link.start();
      await link.waitOpen();
    } catch (e) {
      void link.close();
      throw new AppError('unavailable', `could not open a WebRTC link to worker ${worker}: ${toAppError(e).message}`);
    }
    if (this.closed || this.entries.get(worker) !== w) {
      // The pool closed, or dropped the worker, while this link was being made: nobody wants it.
      void link.close();
      throw new AppError('aborted', `the link to worker ${worker} is no longer wanted`);
    }
    w.backoff.reset();
    clearTimeout(w.retry);
    w.retry = undefined;
    this.o.onOpen(worker, link);
    return link;
  }

  private onClosed(worker: string, w: Entry, link: RtcLink, reason: string): void {
    if (this.closed || this.entries.get(worker) !== w || w.link !== link) return;
    w.link = undefined;
    const jobs = this.o.jobsOn(worker);
    if (jobs === 0) return;
    this.log.warn('link to worker closed; reconnecting', { worker, reason, jobs });
    this.scheduleRetry(worker, w);
  }

  private scheduleRetry(worker: string, w: Entry): void {
    if (w.retry || this.closed) return;
    w.retry = setTimeout(() => {
      w.retry = undefined;
      void this.reconnect(worker, w);
    }, w.backoff.next());
    w.retry.unref();
  }

  private async reconnect(worker: string, w: Entry): Promise<void> {
    if (this.closed || this.entries.get(worker) !== w || this.o.jobsOn(worker) === 0) return;
    const present = await this.isPresent(worker);
    if (this.closed || this.entries.get(worker) !== w) return;
    if (!present) return this.o.onGone(worker, 'it is no longer in the room');
    try {
      await this.linkTo(worker);
    } catch (e) {
      this.log.warn('could not reconnect to a worker', { worker, error: String(e) });
      if (this.entries.get(worker) === w && this.o.jobsOn(worker) > 0) this.scheduleRetry(worker, w);
    }
  }
}
