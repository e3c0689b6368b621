import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Publisher, Subscriber } from 'zeromq';
import type { GroupProcess } from './processGroup.js';
import { ProcessRun, timesOut, type Launch, type ProcessRunOptions } from './ProcessRun.js';
import { sleapNnArgv, toSleapNnConfig } from './sleapNnCommand.js';
import type { Trainer, TrainerJob, TrainerRun } from './Trainer.js';
import { toYaml } from './yaml.js';

export interface SleapNnOptions extends ProcessRunOptions {
  /** argv prefix that runs sleap-nn; default ['sleap-nn'] (found on PATH). */
  command?: string[];
  /** Interval between repeated stop commands while waiting for sleap-nn to act; default 1 s. */
  stopResendMs?: number;
}

/**
 * sleap-nn as a child process. The worker binds, on 127.0.0.1 and ports the OS picks, a ZMQ SUB
 * that sleap-nn's progress PUB connects to, and a PUB that sleap-nn's controller SUB connects to.
 * Stop publishes {"command":"stop"} (again every second, since a PUB drops messages for peers
 * not yet connected) until train_end arrives; after `stopTimeoutMs` without it, SIGINT to the
 * group, which Lightning treats as a graceful interrupt that keeps the checkpoint.
 */
export class SleapNnTrainer implements Trainer {
  readonly kind = 'sleap-nn' as const;

  constructor(private readonly opts: SleapNnOptions = {}) {}

  start(job: TrainerJob): TrainerRun {
    return new SleapNnRun(job, this.opts);
  }
}

const CONFIG_NAME = 'training_config';

class SleapNnRun extends ProcessRun {
  private progress?: Subscriber;
  private control?: Publisher;
  private configDir?: string;
  private receiving?: Promise<void>;

  constructor(
    job: TrainerJob,
    private readonly opts: SleapNnOptions,
  ) {
    super(job, opts, 'sleap-nn');
  }

  protected async prepare(): Promise<Launch> {
    const { config, datasetPath, outDir } = this.job;
    this.configDir = await mkdtemp(join(tmpdir(), 'sleap-rtc-sleap-nn-'));
    await writeFile(join(this.configDir, `${CONFIG_NAME}.yaml`), toYaml(toSleapNnConfig(config)));

    // Loaded here, not at import: zeromq is a native addon that only this trainer needs, so the
    // self-contained bundle the VS Code extension ships (agent, builtin stack) runs without it.
    const { Publisher, Subscriber } = await import('zeromq');
    this.progress = new Subscriber({ linger: 0 });
    this.progress.subscribe();
    await this.progress.bind('tcp://127.0.0.1:*');
    this.control = new Publisher({ linger: 0 });
    await this.control.bind('tcp://127.0.0.1:*');
    const publishPort = portOf(this.progress.lastEndpoint);
    const controllerPort = portOf(this.control.lastEndpoint);
    this.receiving = this.receive(this.progress);

    const argv = sleapNnArgv({
      command: this.opts.command ?? ['sleap-nn'],
      configDir: this.configDir,
      configName: CONFIG_NAME,
      datasetPath,
      outDir,
      publishPort,
      controllerPort,
      maxEpochs: config.trainer_config.max_epochs,
    });
    this.log.info('sleap-nn command', { argv, publish_port: publishPort, controller_port: controllerPort });
    return { argv, cwd: dirname(outDir) };
  }

  protected attach(proc: GroupProcess): void {
    // sleap-nn logs to stdout; read it so the pipe never fills and blocks training.
    const lines = createInterface({ input: proc.child.stdout! });
    lines.on('line', (l) => this.log.debug('sleap-nn stdout', { line: l.slice(0, 500) }));
  }

  protected async requestStop(proc: GroupProcess): Promise<void> {
    const over = this.trainingOver(proc);
    const resend = (async () => {
      do await this.control?.send(JSON.stringify({ command: 'stop' })).catch(() => undefined);
      while (!this.isFinished && (await timesOut(over, this.opts.stopResendMs ?? 1000)));
    })();
    await this.escalateUnless(proc, over, this.stopTimeoutMs, 'SIGINT', `sleap-nn did not stop within ${this.stopTimeoutMs} ms of the stop command`);
    await Promise.all([over, resend]);
  }

  protected async cleanup(): Promise<void> {
    // Messages sent just before exit may still be in flight: wait briefly for train_end.
    if (this.proc && !this.sawTrainEnd && !this.wants('cancel')) await sleep(300);
    this.progress?.close();
    this.control?.close();
    await this.receiving;
    if (this.configDir) await rm(this.configDir, { recursive: true, force: true });
  }

  private async receive(sub: Subscriber): Promise<void> {
    try {
      for await (const frames of sub) this.handleMessage(frames[frames.length - 1].toString('utf8'));
    } catch (e) {
      if (!sub.closed) this.log.warn('sleap-nn progress socket failed', { error: String(e) });
    }
  }
}

function portOf(endpoint: string | null): number {
  const port = Number(endpoint?.split(':').pop());
  if (!Number.isInteger(port) || port <= 0) throw new Error(`ZMQ bound to an unexpected endpoint ${endpoint}`);
  return port;
}
