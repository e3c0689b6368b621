import { bytes } from '../core/bytes.js';
import { earlyStopNote } from '../core/jobs/earlyStop.js';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadCommandConfig } from '../core/config.js';
import { AppError } from '../core/errors.js';
import type { JobEvent } from '../core/jobs/index.js';
import { dataHome } from '../core/paths.js';
import type { JobView, UploadView } from '../core/schemas/agent.js';
import { AgentClient } from '../core/AgentClient.js';
import { labelsWarnings, missingImagesFor, resolveDataset } from './datasets.js';
import { renderLossChart, type LossPoint } from './LossChart.js';

export const trainConfigSchema = z.object({
  data: z.string().min(1).optional(),
  /** The agent's URL (default: the agent of the data folder, from <data>/agent/agent.json). */
  agent: z.string().url('the agent URL, e.g. http://127.0.0.1:8765').optional(),
  /** The agent's token (default: from <data>/agent/agent.json, or <data>/agent/token with --agent). */
  agentToken: z.string().min(16).optional(),
  /** A training config file (JSON or YAML; sleap-nn's data_config / model_config / trainer_config). */
  trainingConfig: z.string().optional(),
  trainer: z.enum(['builtin', 'sleap-nn', 'command']).optional(),
  worker: z.string().optional(),
  maxEpochs: z.coerce.number().int().min(1).max(100_000).optional(),
});

/**
 * The agent to talk to: --agent when given (token from the flag, the environment or the data
 * folder's token file), else the one whose connection file is in the data folder, whatever its
 * port; never a guessed port, which may belong to another stack's agent.
 */
export async function agentFor(cfg: { data?: string; agent?: string; agentToken?: string }, env: NodeJS.ProcessEnv = process.env): Promise<AgentClient> {
  const dataDir = dataHome(cfg.data, env);
  const token = cfg.agentToken ?? env.SLEAP_RTC_AGENT_TOKEN;
  if (cfg.agent) return new AgentClient(cfg.agent.replace(/\/+$/, ''), token ?? AgentClient.tokenFrom(dataDir));
  // Checked by /health, not only by its pid: a file left by a kill -9 whose pid was reused would
  // otherwise send the command to whatever listens at its port now.
  const found = await AgentClient.connect(dataDir);
  return token ? new AgentClient(found.url, token) : found;
}

const FINAL = new Set(['completed', 'stopped', 'cancelled', 'failed']);

/** The losses an epoch_end reports, under sleap-nn's names or the short ones. */
export function lossesOf(logs: Record<string, number>): { train?: number; val?: number } {
  return { train: logs['train/loss'] ?? logs.train_loss ?? logs.loss, val: logs['val/loss'] ?? logs.val_loss };
}

/** Reads a training config: JSON, or YAML (sleap-nn's own format). */
export async function readTrainingConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AppError('bad_request', `cannot read the config ${path} (${(e as NodeJS.ErrnoException).code}): give a JSON or YAML training config`);
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new AppError('bad_request', `the config ${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('bad_request', `the config ${path} must be a mapping (data_config, model_config, trainer_config)`);
  return parsed as Record<string, unknown>;
}

/**
 * `sleap-rtc train <dataset>`: asks the local agent to upload the dataset and submit a job, then
 * follows it: upload progress, status changes and the live loss curve (redrawn in place on a
 * terminal, one line per epoch otherwise), and ends with the model's location. Ctrl-C detaches
 * (the job keeps running in the agent). Exit 0 when a model was made, 1 otherwise.
 */
export async function runTrain(dataset: string, flags: Record<string, unknown>): Promise<void> {
  const { json, ...rest } = flags;
  const cfg = loadCommandConfig(trainConfigSchema, rest);
  const agent = await agentFor(cfg);
  const config: Record<string, unknown> = cfg.trainingConfig ? await readTrainingConfig(cfg.trainingConfig) : {};
  if (cfg.trainer) config.trainer = cfg.trainer;
  if (cfg.maxEpochs) config.trainer_config = { ...((config.trainer_config as Record<string, unknown> | undefined) ?? {}), max_epochs: cfg.maxEpochs };
  const datasetArg = dataset.startsWith('s3://') ? dataset : resolve(dataset);
  if (!dataset.startsWith('s3://')) await checkLabels(datasetArg, typeof config.trainer === 'string' ? config.trainer : 'builtin');

  const out = json ? process.stderr : process.stdout;
  const tty = Boolean(out.isTTY) && !json;
  const job = await agent.call<JobView>('POST', '/api/jobs', { dataset: datasetArg, config, ...(cfg.worker ? { worker: cfg.worker } : {}) });
  out.write(`job ${job.id} submitted to worker ${job.worker ?? '?'}\n`);

  const ctrl = new AbortController();
  let detached = false;
  const onSignal = (): void => {
    detached = true;
    out.write(`\ndetached: job ${job.id} keeps running in the agent (GET /api/jobs/${job.id}; cancel with POST /api/jobs/${job.id}/commands {"command":"cancel"})\n`);
    ctrl.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const view = new TrainView(out, tty, job.worker ?? '?');
  let seq = 0;
  let final: JobView | undefined;
  const take = (e: JobEvent): void => {
    if (e.seq <= seq) return;
    seq = e.seq;
    view.event(e);
  };
  /** Fills a gap (events the stream did not carry) from the job's history. */
  const catchUp = async (): Promise<void> => {
    const h = await agent.call<JobView & { events: JobEvent[] }>('GET', `/api/jobs/${job.id}?after_seq=${seq}`);
    for (const e of h.events) take(e);
  };
  // Settled: a final status, and for completed / stopped also the model (job_complete follows the status).
  const consider = (j: JobView): void => {
    if (FINAL.has(j.status) && (j.model || j.error || j.status === 'failed' || j.status === 'cancelled')) final = j;
  };
  try {
    // The stream is open before the history is read, so every event is in one or the other;
    // seq drops the ones in both, and a gap is filled from the history.
    const stream = await agent.openEvents(ctrl.signal);
    const first = await agent.call<JobView & { events: JobEvent[] }>('GET', `/api/jobs/${job.id}`);
    for (const e of first.events) take(e);
    consider(first);
    if (!final) {
      for await (const ev of stream) {
        const d = ev.data as { type?: string; job?: JobView; event?: JobEvent; upload?: UploadView };
        if (ev.event === 'upload' && d.upload && d.upload.id === job.upload_id) view.upload(d.upload);
        if (ev.event !== 'job' || d.job?.id !== job.id) continue;
        if (d.event && d.event.seq > seq + 1) await catchUp();
        if (d.event) take(d.event);
        consider(d.job);
        if (final) break;
      }
    }
    if (final) await catchUp();
  } finally {
    ctrl.abort();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (detached || !final) {
    process.exitCode = 130;
    return;
  }
  view.finish();
  if (json) process.stdout.write(JSON.stringify({ job_id: final.id, status: final.status, model_id: final.model?.model_id, s3_path: final.model?.s3_path, metrics: final.model?.metrics, error: final.error }) + '\n');
  if (final.model) {
    const note = final.status === 'completed' ? view.earlyStop(config) : undefined;
    if (note) out.write(`${note}\n`);
    out.write(`${final.status === 'stopped' ? 'stopped early; ' : ''}model ${final.model.model_id} at ${final.model.s3_path}\n`);
    process.exitCode = 0;
  } else {
    out.write(`job ${final.id} ${final.status}${final.error ? `: ${final.error.message}` : ''}\n`);
    process.exitCode = 1;
  }
}

/**
 * Before anything is sent: the warnings the agent gives this file's upload (GET /api/uploads
 * shows the same ones, from the same function), e.g. videos only referenced by path, on stderr;
 * and a refusal (bad_request, exit 2) when the trainer needs images the file does not embed. The
 * agent refuses such a job too; here it is said before a worker is even chosen. A dataset this
 * process cannot read is left to the agent, whose error names what is wrong.
 */
async function checkLabels(path: string, trainer: string): Promise<void> {
  const ds = await resolveDataset(path).catch(() => undefined);
  if (!ds) return;
  for (const w of labelsWarnings(ds)) process.stderr.write(`warning: ${w}\n`);
  const missing = missingImagesFor(trainer, ds);
  if (missing) throw new AppError('bad_request', `cannot train on ${path}: ${missing}`);
}

/** What `train` shows: one status line, the upload's progress, the loss chart. */
class TrainView {
  private readonly points: LossPoint[] = [];
  private drawn = 0;
  private status = 'queued';
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty: boolean,
    private readonly worker: string,
  ) {}

  upload(u: UploadView): void {
    const pct = u.size > 0 ? Math.floor((100 * u.bytes_done) / u.size) : 100;
    const line = `uploading dataset: ${pct}% of ${bytes(u.size)}${u.rate_bps ? ` at ${bytes(u.rate_bps)}/s` : ''} (${u.state})`;
    if (this.tty) this.redraw([line]);
    else if (u.state === 'completed' || u.state === 'failed') this.out.write(line + '\n');
  }

  event(e: JobEvent): void {
    if (e.type === 'status') {
      // A job waiting in its worker's queue: its place there, redrawn (a new line) as it moves up.
      const queued = e.status === 'queued' && e.position !== undefined ? `queued: position ${e.position} on ${this.worker}` : undefined;
      this.status = queued ?? e.status;
      if (!this.tty) this.out.write(queued ? `${queued}\n` : `status: ${e.status}${e.message ? ` (${e.message})` : ''}\n`);
      else this.draw(true);
      return;
    }
    if (e.type !== 'progress' || e.data.event !== 'epoch_end') return;
    const { train, val } = lossesOf(e.data.logs);
    this.points.push({ epoch: e.data.epoch, train, val });
    if (this.tty) this.draw(false);
    else this.out.write(`epoch ${e.data.epoch}${train !== undefined ? ` train_loss ${train.toPrecision(5)}` : ''}${val !== undefined ? ` val_loss ${val.toPrecision(5)}` : ''}\n`);
  }

  finish(): void {
    if (this.tty) this.draw(true);
  }

  /** The trainer's early stopping, when it ended the run before max_epochs (core/jobs/earlyStop.ts). */
  earlyStop(config: Record<string, unknown>): string | undefined {
    const last = this.points.at(-1);
    if (!last) return undefined;
    return earlyStopNote(config as { trainer_config?: Record<string, unknown> }, last.epoch + 1, this.points.some((p) => p.val !== undefined) ? 'val/loss' : 'train/loss');
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = Math.max(20, Math.min(80, (this.out.columns ?? 80) - 14));
    this.redraw([`status: ${this.status}   epochs: ${this.points.length}`, ...renderLossChart(this.points, { width, height: 10 })]);
  }

  /** Replaces the lines drawn last with `lines` (cursor up, clear to end of screen). */
  private redraw(lines: string[]): void {
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.out.write(up + lines.join('\n') + '\n');
    this.drawn = lines.length;
  }
}

export const downloadConfigSchema = trainConfigSchema.pick({ data: true, agent: true, agentToken: true });

/**
 * `sleap-rtc download <model> [--dest dir]`: the agent downloads every file of a room model (by id
 * or alias) into `<dest>/<model id>/`, resumable and SHA-256 verified; prints where each file is.
 */
export async function runDownload(model: string, flags: Record<string, unknown>): Promise<void> {
  const { json, dest, ...rest } = flags;
  const cfg = loadCommandConfig(downloadConfigSchema, rest);
  const agent = await agentFor(cfg);
  const r = await agent.call<{ model_id: string; dest: string; files: Array<{ name: string; path: string; size: number; sha256: string }> }>('POST', `/api/models/${encodeURIComponent(model)}/download`, { dest: resolve(typeof dest === 'string' ? dest : '.') });
  if (json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    for (const f of r.files) process.stdout.write(`${f.path}  ${f.size} bytes  sha256 ${f.sha256}\n`);
    process.stdout.write(`model ${r.model_id} in ${r.dest}\n`);
  }
}
