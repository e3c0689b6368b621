import { bytes } from '../core/bytes.js';
import type { UploadView } from '../core/schemas/agent.js';
import { describeWaiting, formatWaited } from '../core/transfer/outage.js';

/**
 * The upload progress line on stderr: a bar with percent, rate and ETA, redrawn in place on a
 * TTY (at most 10 times a second); a plain line per second otherwise (logs, CI). While S3 or the
 * backend does not answer, the line says so instead, with the time waited, every second (in
 * place on a TTY).
 */
export function formatEta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--:--';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

type Waiting = NonNullable<UploadView['waiting']>;

export class ProgressBar {
  private last = -Infinity;
  private drawn = false;
  private waiting?: { w: Waiting; since: number; timer: ReturnType<typeof setInterval> };

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
    private readonly now: () => number = Date.now,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  update(p: { bytesDone: number; total: number; rateBps?: number; etaS?: number; state: string }, force = false): void {
    if (this.waiting) return;
    const t = this.now();
    if (!force && t - this.last < (this.tty ? 100 : 1000)) return;
    this.last = t;
    const frac = p.total > 0 ? Math.min(1, p.bytesDone / p.total) : 1;
    const pct = `${(frac * 100).toFixed(1).padStart(5)}%`;
    const rate = p.rateBps !== undefined ? `${bytes(p.rateBps)}/s` : '-';
    const text = `${pct} ${bytes(p.bytesDone)} / ${bytes(p.total)}  ${rate}  ETA ${formatEta(p.etaS)}  ${p.state}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`${this.label}: ${text}\n`);
    }
  }

  /** A line of its own between redraws (the bar is drawn again at the next update). */
  note(line: string): void {
    this.endLine();
    this.out.write(`${line}\n`);
  }

  /**
   * The upload's `waiting` (from its view): starts, updates or ends the waiting line. Its timer
   * is this bar's; done() clears it.
   */
  setWaiting(w: Waiting | undefined): void {
    const prev = this.waiting;
    if (w && prev && prev.w.endpoint === w.endpoint && prev.w.reason === w.reason && prev.w.since === w.since) return;
    if (prev) clearInterval(prev.timer);
    this.waiting = undefined;
    if (!w) {
      // Said the same way whether it answered, or the upload was paused or gave up (said next).
      if (prev) this.note(`no longer waiting for ${prev.w.service === 'S3' ? 'S3' : 'the backend'} at ${prev.w.endpoint} (waited ${formatWaited(this.now() - prev.since)})`);
      this.last = -Infinity;
      return;
    }
    const parsed = Date.parse(w.since);
    const since = Number.isFinite(parsed) ? parsed : this.now();
    const draw = (): void => {
      const line = describeWaiting({ ...w, since }, this.now());
      if (this.tty) {
        this.out.write(`\r${line}\x1b[K`);
        this.drawn = true;
      } else this.out.write(`${line}\n`);
    };
    const timer = setInterval(draw, 1000);
    // The line must not keep a finished process alive.
    timer.unref();
    this.waiting = { w, since, timer };
    draw();
  }

  /** Ends the in-place line (before other output). */
  done(): void {
    if (this.waiting) clearInterval(this.waiting.timer);
    this.waiting = undefined;
    this.endLine();
  }

  private endLine(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
