import type { AgentClient, AgentEvent } from '../../core/AgentClient.js';
import { FINAL_STATUSES } from '../../core/jobs/JobEventLog.js';
import { Emitter } from '../../core/Emitter.js';
import { jobDetail, jobEventData, uploadEventData, uploadView, jobView, type JobView, type UploadView } from '../../core/schemas/agent.js';
import type { ManifestModel } from '../../core/schemas/manifest.js';
import { manifestModel } from '../../core/schemas/manifest.js';
import { peerInfo } from '../../core/schemas/signaling.js';
import { z as zod } from 'zod';
import { foldProgress, maxEpochsOf, type JobProgress } from './jobProgress.js';

export type PeerInfo = zod.infer<typeof peerInfo>;
export type Section = 'uploads' | 'jobs' | 'workers' | 'models' | 'watches';
export interface WatchView {
  path: string;
  auto_upload: boolean;
}
export interface JobEntry {
  job: JobView;
  progress: JobProgress;
}

const uploadsBody = zod.object({ uploads: zod.array(uploadView) });
const jobsBody = zod.object({ jobs: zod.array(jobView) });
const workersBody = zod.object({ workers: zod.array(peerInfo) });
const modelsBody = zod.object({ models: zod.array(manifestModel) });
const watchesBody = zod.object({ watches: zod.array(zod.object({ path: zod.string(), auto_upload: zod.boolean() })) });

/**
 * A final job whose outcome is known: a model (job_complete follows the final status), an error,
 * or a cancel. Announced then, so the notification can offer the model.
 */
function settled(j: JobView): boolean {
  return FINAL_STATUSES.has(j.status) && (j.model !== undefined || j.error !== undefined || j.status === 'failed' || j.status === 'cancelled');
}

/** How many recent events of a running job are read to fill its row after a (re)load. */
const TAIL_EVENTS = 400;
/** The same for a finished job: enough for its last epoch (the same row as before a reload). */
const FINAL_TAIL_EVENTS = 20;

/**
 * The agent's state as the views show it: uploads, jobs (with their progress folded from
 * events), workers, models and watched folders. Loaded from the API, then kept current by the
 * agent's events; a `reset` (the agent restarted, or events were lost) reloads it. Every body
 * the agent sends is validated. No `vscode` import: tested in plain Node.
 */
export class AgentState {
  readonly uploads = new Map<string, UploadView>();
  readonly jobs = new Map<string, JobEntry>();
  workers: PeerInfo[] = [];
  models: ManifestModel[] = [];
  watches: WatchView[] = [];
  /** Why a section could not be read (shown in its view), if it could not. */
  readonly errors = new Map<Section, string>();

  /** Jobs seen running here: each is announced once when it has settled. */
  private readonly watched = new Set<string>();
  private readonly changed = new Emitter<Section>();
  private readonly finished = new Emitter<JobEntry>();
  readonly onDidChange = this.changed.event;
  /** A job seen running that has settled (final, with its model or error): one notification each. */
  readonly onDidFinishJob = this.finished.event;

  constructor(
    private readonly client: () => AgentClient | undefined,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  /** Reads everything again (at connect and after a reset). */
  async reload(): Promise<void> {
    await Promise.allSettled([this.loadUploads(), this.loadJobs(), this.loadWorkers(), this.loadModels(), this.loadWatches()]);
  }

  clear(): void {
    this.uploads.clear();
    this.jobs.clear();
    this.workers = [];
    this.models = [];
    this.watches = [];
    for (const s of ['uploads', 'jobs', 'workers', 'models', 'watches'] as const) this.changed.fire(s);
  }

  /** Applies one SSE event of /api/events. */
  apply(ev: AgentEvent): void {
    if (ev.event === 'upload') {
      const d = uploadEventData.safeParse(ev.data);
      if (!d.success) return this.log(`ignored an upload event that does not match its schema: ${d.error.issues[0]?.message}`);
      if (d.data.type === 'removed') this.uploads.delete(d.data.upload.id);
      else this.uploads.set(d.data.upload.id, d.data.upload);
      this.changed.fire('uploads');
    } else if (ev.event === 'job') {
      const d = jobEventData.safeParse(ev.data);
      if (!d.success) return this.log(`ignored a job event that does not match its schema: ${d.error.issues[0]?.message}`);
      const isNew = !this.jobs.has(d.data.job.id);
      const entry = this.entry(d.data.job);
      const before = entry.job.status;
      // A job first seen by its events (submitted here or elsewhere): its config is read once.
      if (isNew) void this.loadJob(d.data.job.id);
      entry.job = { ...d.data.job, config: entry.job.config ?? d.data.job.config };
      if (d.data.event) foldProgress(entry.progress, [d.data.event]);
      this.changed.fire('jobs');
      if (!FINAL_STATUSES.has(before)) this.watched.add(entry.job.id);
      if (this.watched.has(entry.job.id) && settled(entry.job)) {
        this.watched.delete(entry.job.id);
        this.finished.fire(entry);
        void this.loadModels();
        void this.loadWorkers();
      } else if (before !== entry.job.status) {
        void this.loadWorkers();
      }
    }
  }

  async loadUploads(): Promise<void> {
    await this.section('uploads', async (c) => {
      const body = uploadsBody.parse(await c.call('GET', '/api/uploads'));
      this.uploads.clear();
      for (const u of body.uploads) this.uploads.set(u.id, u);
    });
  }

  async loadJobs(): Promise<void> {
    await this.section('jobs', async (c) => {
      const body = jobsBody.parse(await c.call('GET', '/api/jobs'));
      const seen = new Set<string>();
      for (const j of body.jobs) {
        seen.add(j.id);
        const entry = this.entry(j);
        entry.job = { ...j, config: entry.job.config };
        if (!FINAL_STATUSES.has(j.status)) this.watched.add(j.id);
      }
      for (const id of [...this.jobs.keys()]) if (!seen.has(id)) this.jobs.delete(id);
      // Config and the latest progress of each job (running ones: the tail of their history).
      await Promise.allSettled(
        body.jobs.map(async (j) => {
          // A finished job's last epoch is a few events before its end (status, model).
          const tail = FINAL_STATUSES.has(j.status) ? FINAL_TAIL_EVENTS : TAIL_EVENTS;
          const after = Math.max(0, (j.last_seq ?? 0) - tail);
          const d = jobDetail.parse(await c.call('GET', `/api/jobs/${encodeURIComponent(j.id)}?after_seq=${after}&limit=${tail + 50}`));
          const entry = this.entry(j);
          entry.job = { ...entry.job, config: d.config };
          entry.progress.maxEpochs = maxEpochsOf(d.config);
          foldProgress(entry.progress, d.events);
        }),
      );
    });
  }

  /** One job's config (the events carry none). */
  async loadJob(id: string): Promise<void> {
    const c = this.client();
    if (!c) return;
    try {
      const d = jobDetail.parse(await c.call('GET', `/api/jobs/${encodeURIComponent(id)}?after_seq=0&limit=1`));
      const entry = this.jobs.get(id);
      if (!entry) return;
      entry.job = { ...entry.job, config: d.config };
      entry.progress.maxEpochs = maxEpochsOf(d.config);
      this.changed.fire('jobs');
    } catch (e) {
      this.log(`could not read job ${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async loadWorkers(): Promise<void> {
    await this.section('workers', async (c) => {
      this.workers = workersBody.parse(await c.call('GET', '/api/workers')).workers;
    });
  }

  async loadModels(): Promise<void> {
    await this.section('models', async (c) => {
      this.models = modelsBody.parse(await c.call('GET', '/api/models')).models;
    });
  }

  async loadWatches(): Promise<void> {
    await this.section('watches', async (c) => {
      this.watches = watchesBody.parse(await c.call('GET', '/api/watches')).watches;
    });
  }

  /** Jobs newest first. */
  jobList(): JobEntry[] {
    return [...this.jobs.values()].sort((a, b) => b.job.created_at.localeCompare(a.job.created_at));
  }

  uploadList(): UploadView[] {
    return [...this.uploads.values()].reverse();
  }

  dispose(): void {
    this.changed.dispose();
    this.finished.dispose();
  }

  private entry(j: JobView): JobEntry {
    let e = this.jobs.get(j.id);
    if (!e) {
      e = { job: j, progress: { lastSeq: 0, maxEpochs: maxEpochsOf(j.config) } };
      this.jobs.set(j.id, e);
    }
    return e;
  }

  private async section(s: Section, read: (c: AgentClient) => Promise<void>): Promise<void> {
    const c = this.client();
    if (!c) return;
    try {
      await read(c);
      this.errors.delete(s);
    } catch (e) {
      this.errors.set(s, e instanceof Error ? e.message : String(e));
    }
    this.changed.fire(s);
  }
}
