import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { JobEvent, JobEventStore } from '../core/jobs/index.js';

/** Events kept in memory: the tail that a client reconnecting after a short break asks for. */
const KEEP = 2_000;
/** Every this many events, the file offset is remembered, so a replay reads from near its start. */
const INDEX_EVERY = 1_000;
const READ_CHUNK = 1024 * 1024;

/**
 * A job's events for replay with bounded memory: every event is appended as one JSON line to a
 * file (the worker's own, for this process's life: deleted when the job is forgotten), and only
 * the last KEEP stay in memory. A trainer sends up to 20 batch events a second, so a ten-hour
 * job has ~720,000 events; the worker keeps its last 100 finished jobs for late clients. A
 * client that asks for older events gets them read back from the file, in chunks.
 */
export class SpillingEventStore implements JobEventStore {
  private readonly fd: number;
  private bytes = 0;
  private count = 0;
  /** The last events, oldest first: tail[0] has seq count - tail.length + 1. */
  private tail: JobEvent[] = [];
  /** offsets[i]: where the line of seq i * INDEX_EVERY + 1 starts. */
  private readonly offsets: number[] = [];

  constructor(
    readonly file: string,
    private readonly keep = KEEP,
  ) {
    this.fd = openSync(file, 'w+', 0o600);
  }

  /** Events held in memory now (at most `keep`). */
  get inMemory(): number {
    return this.tail.length;
  }

  append(e: JobEvent): void {
    if (this.count % INDEX_EVERY === 0) this.offsets.push(this.bytes);
    const line = Buffer.from(JSON.stringify(e) + '\n');
    for (let at = 0; at < line.length; ) at += writeSync(this.fd, line, at, line.length - at, this.bytes + at);
    this.bytes += line.length;
    this.count++;
    this.tail.push(e);
    // Dropped in batches: one copy per `keep` events rather than a shift per event.
    if (this.tail.length >= 2 * this.keep) this.tail = this.tail.slice(-this.keep);
  }

  /**
   * The events after `seq` up to the last one appended now: the range is fixed by this call,
   * whatever is appended while the caller iterates, however slowly. The older ones are read from
   * the file only as the caller asks for them.
   */
  after(seq: number): Iterable<JobEvent> {
    const from = Math.max(0, Math.floor(seq)) + 1;
    const firstKept = this.count - this.tail.length + 1;
    const kept = this.tail.slice(Math.max(0, from - firstKept));
    const older = from < firstKept ? ([from, firstKept - 1] as const) : undefined;
    const read = (a: number, b: number) => this.read(a, b);
    return {
      *[Symbol.iterator]() {
        if (older) yield* read(older[0], older[1]);
        yield* kept;
      },
    };
  }

  close(): void {
    try {
      closeSync(this.fd);
      unlinkSync(this.file);
    } catch {
      // already gone: nothing is left to free
    }
  }

  /** Events `from`..`to` (seqs, inclusive) read back from the file, a chunk at a time. */
  private *read(from: number, to: number): Generator<JobEvent> {
    const i = Math.floor((from - 1) / INDEX_EVERY);
    let seqAt = i * INDEX_EVERY + 1;
    let pos = this.offsets[i];
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    // A chunk may end inside a character: the decoder holds its first bytes for the next one.
    const dec = new StringDecoder('utf8');
    let carry = '';
    while (seqAt <= to && pos < this.bytes) {
      const n = readSync(this.fd, buf, 0, Math.min(READ_CHUNK, this.bytes - pos), pos);
      if (n <= 0) throw new Error(`${this.file}: read nothing at ${pos} of ${this.bytes} bytes`);
      pos += n;
      const lines = (carry + dec.write(buf.subarray(0, n))).split('\n');
      carry = lines.pop()!;
      for (const line of lines) {
        if (seqAt > to) return;
        // Lines this process wrote itself: no schema check needed to read them back.
        if (seqAt >= from) yield JSON.parse(line) as JobEvent;
        seqAt++;
      }
    }
  }
}
