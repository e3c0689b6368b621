import { closeSync, ftruncateSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dataChannelMessage } from '../schemas/datachannel.js';
import type { JobEvent, JobEventStore } from './JobEventLog.js';

/** Events kept in memory: the tail that a client reconnecting after a short break asks for. */
const KEEP = 2_000;
/** Every this many events the line's offset is remembered, so a read starts near its first event. */
const INDEX_EVERY = 1_000;
const READ_CHUNK = 1024 * 1024;
const EVENT_TYPES = new Set(['status', 'progress', 'job_complete', 'job_failed']);

export interface EventFileOptions {
  /** Events kept in memory (default 2,000). */
  keep?: number;
  /**
   * A file for this process only (the worker's): it starts empty and is deleted on close.
   * Otherwise (the agent's) what the file holds is read back, and it stays.
   */
  temporary?: boolean;
}

/**
 * A job's events as JSON lines in one file, appended one per write (never rewritten), with only
 * the last `keep` in memory: a trainer sends up to 20 batch events a second, so a ten-hour job
 * has ~720,000 of them. Older events are read back from the file, a chunk at a time, through an
 * index of line offsets. Reopening a file reads it once (in chunks) and checks every line; a
 * kill -9 can cut only the last line short, and a torn or invalid line ends the history there
 * (the file is cut back to it, so the next append starts clean).
 */
export class EventFile implements JobEventStore {
  private readonly fd: number;
  private bytes = 0;
  private count = 0;
  /** Events in the file: all of them, unless a write failed (then the later ones stay in memory). */
  private inFile = 0;
  private writeError: Error | undefined;
  private closed = false;
  /** The last events, oldest first: tail[0] has seq count - tail.length + 1. */
  private tail: JobEvent[] = [];
  /** offsets[i]: where the line of seq i * INDEX_EVERY + 1 starts. */
  private readonly offsets: number[] = [];
  private readonly keep: number;
  private readonly temporary: boolean;

  constructor(
    readonly file: string,
    opts: EventFileOptions = {},
  ) {
    this.keep = opts.keep ?? KEEP;
    this.temporary = opts.temporary ?? false;
    this.fd = openSync(file, this.temporary ? 'w+' : 'a+', 0o600);
    if (this.temporary) return;
    try {
      const { goodBytes, totalBytes } = EventFile.scan(this.fd, (e, offset) => {
        this.indexLine(offset);
        this.hold(e);
        return true;
      });
      this.bytes = goodBytes;
      if (goodBytes < totalBytes) ftruncateSync(this.fd, goodBytes);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /**
   * Reads the events of `file` with seq > `afterSeq`, at most `limit`, without changing the file
   * and holding only what is returned. A missing file has none.
   */
  static read(file: string, afterSeq = 0, limit = Number.POSITIVE_INFINITY): JobEvent[] {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: JobEvent[] = [];
    try {
      EventFile.scan(fd, (e) => {
        if (e.seq > afterSeq) out.push(e);
        return out.length < limit;
      });
    } finally {
      closeSync(fd);
    }
    return out;
  }

  get lastSeq(): number {
    return this.count;
  }

  /** Events held in memory now (at most twice `keep`). */
  get inMemory(): number {
    return this.tail.length;
  }

  /** Why events are no longer written to the file (a full disk, say), if they are not. */
  get failure(): Error | undefined {
    return this.writeError;
  }

  /**
   * Appends the next event: its seq must be lastSeq + 1. If the file cannot take it (a full
   * disk), the event is kept in memory, as are all later ones: the history stays whole, and
   * `failure` says why the file stopped.
   */
  append(e: JobEvent): void {
    if (e.seq !== this.count + 1) throw new Error(`${this.file}: event seq ${e.seq} after ${this.count}`);
    if (!this.writeError && !this.closed) {
      const line = Buffer.from(JSON.stringify(e) + '\n');
      const at = this.bytes;
      try {
        for (let n = 0; n < line.length; ) n += writeSync(this.fd, line, n, line.length - n, at + n);
        this.bytes += line.length;
        this.indexLine(at);
      } catch (err) {
        // A partial line may be on disk past `bytes`: reads stop at `bytes`, and a reopen cuts it.
        this.writeError = err instanceof Error ? err : new Error(String(err));
      }
    }
    this.hold(e);
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
    const read = (a: number, b: number) => this.readRange(a, b);
    return {
      *[Symbol.iterator]() {
        if (older) yield* read(older[0], older[1]);
        yield* kept;
      },
    };
  }

  /** At most `limit` events after `seq`, as an array. */
  page(seq: number, limit = Number.POSITIVE_INFINITY): JobEvent[] {
    const out: JobEvent[] = [];
    if (limit <= 0) return out;
    for (const e of this.after(seq)) {
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Closes the file (and deletes it when temporary). A replay still being read from it then
   * ends with an error: its descriptor number may already belong to another file.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
      if (this.temporary) unlinkSync(this.file);
    } catch {
      // already gone: nothing is left to free
    }
  }

  /** Records where the line of the next event in the file starts. */
  private indexLine(offset: number): void {
    if (this.inFile % INDEX_EVERY === 0) this.offsets.push(offset);
    this.inFile++;
  }

  private hold(e: JobEvent): void {
    this.count++;
    this.tail.push(e);
    // Dropped in batches (one copy per `keep` events rather than a shift per event), and only
    // events the file holds: those after a write failure stay.
    if (this.tail.length >= 2 * this.keep) {
      const firstSeq = this.count - this.tail.length + 1;
      const drop = Math.min(this.tail.length - this.keep, Math.max(0, this.inFile - firstSeq + 1));
      if (drop > 0) this.tail = this.tail.slice(drop);
    }
  }

  /** Events `from`..`to` (seqs, inclusive) read back from the file. */
  private *readRange(from: number, to: number): Generator<JobEvent> {
    const i = Math.floor((from - 1) / INDEX_EVERY);
    let seq = i * INDEX_EVERY;
    // Lines this process wrote or checked when it opened the file: parsed without a second check.
    for (const { line } of EventFile.lines(this.fd, this.offsets[i], this.bytes, () => this.closed)) {
      seq++;
      if (seq > to) return;
      if (seq >= from) yield JSON.parse(line) as JobEvent;
    }
  }

  /** Walks the file's checked events in order; `visit` returns false to stop. */
  private static scan(fd: number, visit: (e: JobEvent, offset: number) => boolean): { goodBytes: number; totalBytes: number } {
    const totalBytes = fstatSync(fd).size;
    let goodBytes = 0;
    let seq = 0;
    for (const { line, offset, end } of EventFile.lines(fd, 0, totalBytes)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        break;
      }
      const r = dataChannelMessage.safeParse(parsed);
      if (!r.success || !EVENT_TYPES.has(r.data.type)) break;
      const e = r.data as JobEvent;
      if (e.seq !== seq + 1) break;
      seq++;
      goodBytes = end;
      if (!visit(e, offset)) break;
    }
    return { goodBytes, totalBytes };
  }

  /** The complete lines between byte `start` and `end`, with their offsets; a last line without a newline is not one. */
  private static *lines(fd: number, start: number, end: number, closed = () => false): Generator<{ line: string; offset: number; end: number }> {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let pending: Buffer = Buffer.alloc(0);
    let pendingAt = start;
    for (let pos = start; pos < end; ) {
      if (closed()) throw new Error('the job\'s event history was closed while it was being read (the job was forgotten)');
      const n = readSync(fd, buf, 0, Math.min(READ_CHUNK, end - pos), pos);
      if (n <= 0) return;
      pos += n;
      // Lines are split on the newline byte, so a chunk ending inside a character is harmless.
      const data = pending.length ? Buffer.concat([pending, buf.subarray(0, n)]) : buf.subarray(0, n);
      let from = 0;
      for (let nl = data.indexOf(0x0a, from); nl >= 0; nl = data.indexOf(0x0a, from)) {
        yield { line: data.toString('utf8', from, nl), offset: pendingAt + from, end: pendingAt + nl + 1 };
        from = nl + 1;
      }
      pending = Buffer.from(data.subarray(from));
      pendingAt += from;
    }
  }
}
