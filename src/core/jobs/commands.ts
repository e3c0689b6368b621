import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { DataChannelMessage, JobCommandName } from '../schemas/datachannel.js';

export type JobCommand = Extract<DataChannelMessage, { type: 'command' }>;
export type CommandAck = Extract<DataChannelMessage, { type: 'command_ack' }>;

/**
 * Why a command was refused. `command_ack.error` is `"<code>: <message>"`; clients branch on
 * the code (`commandErrorCode`).
 */
export type CommandErrorCode = 'job_finished' | 'unknown_job' | 'not_running' | 'command_failed';

export class CommandRefused extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CommandRefused';
  }
}

export function newCommandId(): string {
  return `cmd-${randomBytes(6).toString('hex')}`;
}

export function commandMessage(jobId: string, command: JobCommandName, commandId = newCommandId()): JobCommand {
  return { type: 'command', job_id: jobId, command_id: commandId, command };
}

/** The code of a refused ack's error ("job_finished: ..." -> "job_finished"). */
export function commandErrorCode(ack: Pick<CommandAck, 'ok' | 'error'>): string | undefined {
  if (ack.ok || !ack.error) return undefined;
  const i = ack.error.indexOf(':');
  return i < 0 ? ack.error : ack.error.slice(0, i);
}

/**
 * Worker side: runs one command and always produces its ack. `exec` throws CommandRefused for
 * the coded refusals; anything else it throws becomes `command_failed`.
 */
export async function answerCommand(cmd: JobCommand, exec: (command: JobCommandName) => Promise<void>): Promise<CommandAck> {
  try {
    await exec(cmd.command);
    return { type: 'command_ack', job_id: cmd.job_id, command_id: cmd.command_id, ok: true };
  } catch (e) {
    const code: CommandErrorCode = e instanceof CommandRefused ? e.code : 'command_failed';
    const message = e instanceof Error ? e.message : String(e);
    return { type: 'command_ack', job_id: cmd.job_id, command_id: cmd.command_id, ok: false, error: `${code}: ${message}` };
  }
}

/** Client side: commands sent and not yet acknowledged, each with its own timeout. */
export class PendingCommands {
  private readonly waiting = new Map<string, { resolve: (a: CommandAck) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  get size(): number {
    return this.waiting.size;
  }

  /** Resolves with the ack of `commandId`; rejects (AppError timeout) after `timeoutMs`. */
  expect(commandId: string, what: string, timeoutMs: number): Promise<CommandAck> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(commandId);
        reject(new AppError('timeout', `no acknowledgement of ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(commandId, { resolve, reject, timer });
    });
  }

  /** Settles the matching command; false when none was waiting (a late or foreign ack). */
  settle(ack: CommandAck): boolean {
    const w = this.waiting.get(ack.command_id);
    if (!w) return false;
    clearTimeout(w.timer);
    this.waiting.delete(ack.command_id);
    w.resolve(ack);
    return true;
  }

  rejectAll(err: Error): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(id);
      w.reject(err);
    }
  }
}
