import { closeSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { JobEvent } from '../../core/jobs/index.js';
import { dataChannelMessage } from '../../core/schemas/datachannel.js';

const EVENT_TYPES = new Set(['status', 'progress', 'job_complete', 'job_failed']);

/**
 * One job's progress history as JSON lines in `<dir>/<job id>.jsonl`, appended one event per
 * write (never rewritten), so an event costs one small write however long the history grows.
 * A kill -9 can cut only the last line short; reading drops a torn or invalid line, and the
 * re-attached channel asks the worker for everything after the last good seq.
 */
export class JobHistory {
  private fd: number | undefined;
  private readonly events: JobEvent[];

  constructor(
    dir: string,
    readonly jobId: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = JobHistory.fileOf(dir, jobId);
    const { events, goodBytes, totalBytes } = JobHistory.scan(this.file);
    this.events = events;
    // A torn last line is cut off, or the next append would be glued to it.
    if (goodBytes < totalBytes) truncateSync(this.file, goodBytes);
  }

  readonly file: string;

  static fileOf(dir: string, jobId: string): string {
    return join(dir, `${jobId}.jsonl`);
  }

  /** The events kept in a history file, in seq order (1, 2, 3, ...): a line out of order ends the read. */
  static read(file: string): JobEvent[] {
    return JobHistory.scan(file).events;
  }

  private static scan(file: string): { events: JobEvent[]; goodBytes: number; totalBytes: number } {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], goodBytes: 0, totalBytes: 0 };
      throw e;
    }
    const out: JobEvent[] = [];
    let goodBytes = 0;
    for (let start = 0; start < buf.length; ) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break; // no newline: the last write was cut short
      const line = buf.subarray(start, nl).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        break;
      }
      const r = dataChannelMessage.safeParse(parsed);
      if (!r.success || !EVENT_TYPES.has(r.data.type)) break;
      const e = r.data as JobEvent;
      if (e.seq !== out.length + 1) break;
      out.push(e);
      start = nl + 1;
      goodBytes = start;
    }
    return { events: out, goodBytes, totalBytes: buf.length };
  }

  get lastSeq(): number {
    return this.events.length;
  }

  /** Events after `afterSeq` (all by default). */
  after(afterSeq = 0): JobEvent[] {
    return this.events.slice(Math.max(0, afterSeq));
  }

  /** Appends the next event (seq must follow on); an event already held is ignored. */
  append(e: JobEvent): void {
    if (e.seq <= this.events.length) return;
    if (e.seq !== this.events.length + 1) throw new Error(`job ${this.jobId}: event seq ${e.seq} after ${this.events.length}`);
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, JSON.stringify(e) + '\n');
    this.events.push(e);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
