import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../core/errors.js';
import { parseProgressMessage } from './progressMessage.js';
import { signalGroup, spawnGroup, waitStopped, type Exit, type GroupProcess } from './processGroup.js';
import type { TrainerJob, TrainerOutcome } from './Trainer.js';
import { TrainerRunBase, type RunBaseOptions } from './TrainerRunBase.js';

export interface ProcessRunOptions extends RunBaseOptions {
  /** Environment of the trainer process; default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** How long a stop may take before the next, harder step; default 30 s. */
  stopTimeoutMs?: number;
  /** SIGTERM to SIGKILL on cancel; default 5 s. */
  killTimeoutMs?: number;
}

export interface Launch {
  argv: string[];
  cwd: string;
}

/**
 * A trainer run that is an external process in its own process group. Pause and resume are
 * SIGSTOP / SIGCONT to the group (confirmed through /proc); cancel is SIGTERM, then SIGKILL after
 * `killTimeoutMs`; stop is trainer-specific (`requestStop`). The outcome follows what was asked:
 * cancel -> cancelled, stop -> stopped, else exit code 0 -> completed, anything else -> failed
 * with the end of the process's stderr.
 */
export abstract class ProcessRun extends TrainerRunBase {
  protected proc?: GroupProcess;
  protected readonly stopTimeoutMs: number;
  protected readonly killTimeoutMs: number;
  private readonly env?: NodeJS.ProcessEnv;
  private trainEndSeen = false;
  private readonly trainEnded: Promise<void>;
  private markTrainEnded!: () => void;
  private readonly started: Promise<GroupProcess | undefined>;
  private resolveStarted!: (p: GroupProcess | undefined) => void;

  constructor(
    job: TrainerJob,
    opts: ProcessRunOptions,
    /** Name in messages, e.g. "sleap-nn". */
    protected readonly name: string,
  ) {
    super(job, opts);
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.killTimeoutMs = opts.killTimeoutMs ?? 5_000;
    this.env = opts.env;
    this.trainEnded = new Promise((resolve) => (this.markTrainEnded = resolve));
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    setImmediate(() => void this.run());
  }

  /** Sets up whatever the trainer talks to (sockets, config files) and says what to run. */
  protected abstract prepare(): Promise<Launch>;
  /** Called once the process runs: attach readers to its output. */
  protected abstract attach(proc: GroupProcess): void;
  /** Asks the trainer to stop early; the returned promise may settle at any time after asking. */
  protected abstract requestStop(proc: GroupProcess): Promise<void>;
  /** Called after the process exited, before the result: drain and close what prepare opened. */
  protected abstract cleanup(): Promise<void>;

  /** Feeds one raw progress message (JSON text) through parsing and validation. */
  protected handleMessage(text: string): void {
    let msg: unknown;
    try {
      msg = parseProgressMessage(text);
    } catch {
      this.log.debug(`${this.name} printed a line that is not JSON`, { line: text.slice(0, 200) });
      return;
    }
    this.emitProgress(msg);
    if ((msg as { event?: unknown } | null)?.event === 'train_end') {
      this.trainEndSeen = true;
      this.markTrainEnded();
    }
  }

  protected get sawTrainEnd(): boolean {
    return this.trainEndSeen;
  }

  /** Resolves when train_end arrived or the process exited. */
  protected trainingOver(proc: GroupProcess): Promise<void> {
    return Promise.race([this.trainEnded, proc.exited.then(() => undefined)]);
  }

  protected async doPause(): Promise<void> {
    const proc = await this.started;
    if (!proc || this.isFinished) return;
    signalGroup(proc.pid, 'SIGSTOP');
    await waitStopped(proc.pid, true);
  }

  protected async doResume(): Promise<void> {
    const proc = await this.started;
    if (!proc || this.isFinished) return;
    signalGroup(proc.pid, 'SIGCONT');
    await waitStopped(proc.pid, false);
  }

  protected async doStop(): Promise<void> {
    const proc = await this.started;
    if (!proc || this.isFinished) return;
    signalGroup(proc.pid, 'SIGCONT');
    await this.requestStop(proc);
  }

  protected async doCancel(): Promise<void> {
    const proc = await this.started;
    if (proc && !this.isFinished) {
      signalGroup(proc.pid, 'SIGTERM');
      signalGroup(proc.pid, 'SIGCONT'); // a stopped process acts on SIGTERM only once continued
      const timer = setTimeout(() => {
        this.log.warn(`${this.name} ignored SIGTERM for ${this.killTimeoutMs} ms; killing it`);
        signalGroup(proc.pid, 'SIGKILL');
      }, this.killTimeoutMs);
      await proc.exited;
      clearTimeout(timer);
    }
    await this.done;
  }

  /**
   * Unless `over` settles within `afterMs`, sends `signal` to the group (saying `why` in the log).
   * Resolves once either happened; true when the signal was sent.
   */
  protected async escalateUnless(proc: GroupProcess, over: Promise<unknown>, afterMs: number, signal: NodeJS.Signals, why: string): Promise<boolean> {
    if (!(await timesOut(over, afterMs)) || this.isFinished) return false;
    this.log.warn(`${why}; sending ${signal}`);
    return signalGroup(proc.pid, signal);
  }

  private async run(): Promise<void> {
    let proc: GroupProcess | undefined;
    let outcome: TrainerOutcome = 'failed';
    let error: unknown;
    try {
      await mkdir(this.job.outDir, { recursive: true });
      const launch = await this.prepare();
      if (this.wants('cancel')) {
        outcome = 'cancelled';
      } else {
        try {
          proc = await spawnGroup(launch.argv, { cwd: launch.cwd, env: this.env, onStderrLine: (l) => this.log.debug(`${this.name} stderr`, { line: l.slice(0, 500) }) });
        } catch (e) {
          throw new AppError('upstream_error', `could not start ${this.name} (${launch.argv[0]}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the trainer's executable in the worker config`, { cause: e });
        }
        this.proc = proc;
        this.log.info(`${this.name} started`, { pid: proc.pid });
        this.attach(proc);
        this.resolveStarted(proc);
        const exit = await proc.exited;
        outcome = this.outcomeOf(exit);
        if (outcome === 'failed') error = new AppError('upstream_error', `${this.name} ${describeExit(exit)}${proc.stderrTail() ? `: ${proc.stderrTail()}` : ''}`);
      }
    } catch (e) {
      error = e;
    } finally {
      this.resolveStarted(proc);
      await this.cleanup().catch((e: unknown) => this.log.warn('cleanup failed', { error: String(e) }));
    }
    await this.finish(outcome, error);
  }

  private outcomeOf(exit: Exit): TrainerOutcome {
    if (this.wants('cancel')) return 'cancelled';
    if (this.wants('stop')) return 'stopped';
    return exit.code === 0 ? 'completed' : 'failed';
  }
}

/** True when `p` has not settled after `ms`; the timer never outlives the answer. */
export async function timesOut(p: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([p.then(() => false, () => false), sleep(ms, true, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

function describeExit(exit: Exit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
