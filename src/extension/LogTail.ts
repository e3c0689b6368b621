import { closeSync, openSync, readSync, statSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Follows a log file that another process appends to (the agent's `<data>/agent/agent.log`, the
 * local stack's `stack.log`) and hands over each new line: the agent may have been started by
 * another window, so its output is read from the file, not from a pipe. JSON lines of the
 * project's logger become `level` + a short text; other lines pass as info. Polls once a second
 * (fs.watch is not reliable on network and remote file systems); a truncated or replaced file is
 * read again from its start.
 */
export class LogTail {
  private offset = -1;
  private partial = '';
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly file: string,
    private readonly emit: (level: LogLevel, text: string) => void,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
    this.poll();
  }

  poll(): void {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      this.offset = 0;
      return;
    }
    // First look: start at the end (the window shows what happens from now on).
    if (this.offset < 0) this.offset = size;
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return;
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(size - this.offset, 1024 * 1024));
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.line(line);
    } finally {
      closeSync(fd);
    }
  }

  private line(line: string): void {
    if (line.startsWith('{')) {
      try {
        const { t: _t, level, ns, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const lv: LogLevel = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        return this.emit(lv, `[${String(ns ?? 'agent')}] ${String(msg ?? '')}${extra}`);
      } catch {
        // Not one of our JSON lines: shown as it is.
      }
    }
    this.emit('info', line);
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}
