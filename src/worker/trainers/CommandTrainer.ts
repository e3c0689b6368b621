import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { AppError } from '../../core/errors.js';
import { signalGroup, type GroupProcess } from './processGroup.js';
import { ProcessRun, type Launch, type ProcessRunOptions } from './ProcessRun.js';
import type { Trainer, TrainerJob, TrainerRun } from './Trainer.js';

export interface CommandOptions extends ProcessRunOptions {
  /**
   * The program and its arguments, from the worker's own configuration (a job never chooses
   * what runs). Placeholders, replaced anywhere inside an argument: {dataset} the labels file,
   * {outDir} the run folder, {config} a JSON file holding the job's training config, {jobId}.
   */
  argv: string[];
}

/**
 * Any program that trains and prints progress as JSON lines on stdout, one event per line in
 * sleap-nn's vocabulary (`{"event":"epoch_end","epoch":0,"logs":{"train/loss":0.1}}`); other
 * lines are ignored. Stop is SIGINT to its process group (the program should finish its batch,
 * save its model and exit), then SIGTERM after `stopTimeoutMs` and SIGKILL after `killTimeoutMs`.
 */
export class CommandTrainer implements Trainer {
  readonly kind = 'command' as const;

  constructor(private readonly opts: CommandOptions) {
    if (opts.argv.length === 0 || !opts.argv[0]) throw new AppError('config_invalid', 'the command trainer needs a program to run (argv is empty)');
  }

  start(job: TrainerJob): TrainerRun {
    return new CommandRun(job, this.opts);
  }
}

class CommandRun extends ProcessRun {
  private configDir?: string;

  constructor(
    job: TrainerJob,
    private readonly opts: CommandOptions,
  ) {
    super(job, opts, opts.argv[0]);
  }

  protected async prepare(): Promise<Launch> {
    this.configDir = await mkdtemp(join(tmpdir(), 'sleap-rtc-command-'));
    const configPath = join(this.configDir, 'training_config.json');
    await writeFile(configPath, JSON.stringify(this.job.config, null, 2) + '\n');
    const values: Record<string, string> = { dataset: this.job.datasetPath, outDir: this.job.outDir, config: configPath, jobId: this.job.jobId };
    const argv = this.opts.argv.map((a) => a.replace(/\{(dataset|outDir|config|jobId)\}/g, (_, k: string) => values[k]));
    this.log.info('command trainer', { argv });
    return { argv, cwd: dirname(this.job.outDir) };
  }

  protected attach(proc: GroupProcess): void {
    const lines = createInterface({ input: proc.child.stdout! });
    lines.on('line', (line) => {
      const t = line.trim();
      if (t.startsWith('{')) this.handleMessage(t);
      else if (t) this.log.debug(`${this.name} stdout`, { line: t.slice(0, 500) });
    });
  }

  protected async requestStop(proc: GroupProcess): Promise<void> {
    const over = this.trainingOver(proc);
    signalGroup(proc.pid, 'SIGINT');
    const exited = proc.exited;
    if (await this.escalateUnless(proc, over, this.stopTimeoutMs, 'SIGTERM', `${this.name} did not stop within ${this.stopTimeoutMs} ms of SIGINT`)) {
      await this.escalateUnless(proc, exited, this.killTimeoutMs, 'SIGKILL', `${this.name} ignored SIGTERM for ${this.killTimeoutMs} ms`);
    }
    await over;
  }

  protected async cleanup(): Promise<void> {
    if (this.configDir) await rm(this.configDir, { recursive: true, force: true });
  }
}
