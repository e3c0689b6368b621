/**
 * The upload progress line on stderr: a bar with percent, rate and ETA, redrawn in place on a
 * TTY (at most 10 times a second); a plain line per second otherwise (logs, CI).
 */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

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
    const rate = p.rateBps !== undefined ? `${formatBytes(p.rateBps)}/s` : '-';
    const text = `${pct} ${formatBytes(p.bytesDone)} / ${formatBytes(p.total)}  ${rate}  ETA ${formatEta(p.etaS)}  ${p.state}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`${this.label}: ${text}\n`);
    }
  }

  /** Ends the in-place line (before other output). */
  done(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
