import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventFile, type JobEvent } from '../../core/jobs/index.js';

/**
 * One job's progress history in `<dir>/<job id>.jsonl` (an EventFile: one JSON line per event,
 * appended, never rewritten; only the last events in memory). A kill -9 can cut only the last
 * line short; opening drops a torn or invalid line and cuts it off, and the re-attached channel
 * asks the worker for everything after the last good seq.
 */
export class JobHistory {
  private readonly events: EventFile;

  constructor(
    dir: string,
    readonly jobId: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = JobHistory.fileOf(dir, jobId);
    this.events = new EventFile(this.file);
  }

  readonly file: string;

  static fileOf(dir: string, jobId: string): string {
    return join(dir, `${jobId}.jsonl`);
  }

  /** The events of a history file after `afterSeq`, at most `limit`, read without changing the file. */
  static read(file: string, afterSeq = 0, limit?: number): JobEvent[] {
    return EventFile.read(file, afterSeq, limit);
  }

  get lastSeq(): number {
    return this.events.lastSeq;
  }

  /** Why the file stopped taking events (they are then kept in memory), if it did. */
  get failure(): Error | undefined {
    return this.events.failure;
  }

  /** Events after `afterSeq` (all by default), at most `limit`. */
  after(afterSeq = 0, limit?: number): JobEvent[] {
    return this.events.page(afterSeq, limit);
  }

  /** Appends the next event (seq must follow on: EventFile checks); an event already held is ignored. */
  append(e: JobEvent): void {
    if (e.seq > this.events.lastSeq) this.events.append(e);
  }

  close(): void {
    this.events.close();
  }
}
