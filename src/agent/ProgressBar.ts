import { bytes } from '../core/bytes.js';

/**
 * The upload progress line on stderr: a bar with percent, rate and ETA, redrawn in place on a
 * TTY (at most 10 times a second); a plain line per second otherwise (logs, CI).
 */
export function formatEta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--:--';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export class ProgressBar {
  private last = -Infinity;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
    private readonly now: () => number = Date.now,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  update(p: { bytesDone: number; total: number; rateBps?: number; etaS?: number; state: string }, force = false): void {
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
    this.done();
    this.out.write(`${line}\n`);
  }

  /** Ends the in-place line (before other output). */
  done(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
