import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppError, isAppError, toAppError } from '../../core/errors.js';
import { FINAL_STATUSES, JobChannel, type CommandAck, type JobEvent } from '../../core/jobs/index.js';
import type { Logger } from '../../core/log.js';
import { RtcLink } from '../../core/rtc/RtcLink.js';
import type { RtcLinkConfigInput } from '../../core/rtc/linkConfig.js';
import type { JobView } from '../../core/schemas/agent.js';
import type { JobCommandName } from '../../core/schemas/datachannel.js';
import { jobPeerPayload, type DatasetRef, type JobStatusValue, type TrainingConfig } from '../../core/schemas/jobs.js';
import { SignalingClient, type PeerInfo } from '../../core/signaling/SignalingClient.js';
import type { BackendClient } from '../../core/transfer/index.js';
import type { Ledger, LedgerJob } from '../Ledger.js';
import type { UploadManager } from '../UploadManager.js';
import { noRoomError } from '../config.js';
import { JobHistory } from './JobHistory.js';

export interface JobManagerOptions {
  ledger: Ledger;
  uploads: UploadManager;
  backend: BackendClient;
  /** `<data>/agent/jobs`: one history file per job. */
  historyDir: string;
  /** The server's base URL (signaling is at /ws). */
  server: string;
  /** None: jobs are refused with a clear error (the agent still uploads). */
  room: string | undefined;
  roomToken: string;
  link: RtcLinkConfigInput;
  log: Logger;
  /** How long a worker has to answer a job_request. Default 15 s. */
  responseTimeoutMs?: number;
  /** Extra signaling options (tests: backoff). */
  signaling?: { backoff?: { initialMs?: number; maxMs?: number }; requestTimeoutMs?: number };
}

export interface JobChange {
  type: 'state' | 'event';
  job: JobView;
  event?: JobEvent;
}

export interface SubmitRequest {
  dataset: string;
  config: TrainingConfig;
  worker?: string;
}

/** A job this process follows: its channel to the worker and its history file. */
interface Live {
  channel: JobChannel;
  history: JobHistory;
  /** Events recorded so far: the ledger write of a record change, then the history append. */
  persisted: Promise<void>;
  offs: Array<() => void>;
  /** The link the channel listens to (a new link re-attaches every job of its worker once). */
  link?: RtcLink;
}

/** The RTC link to one worker, shared by every job on it. */
interface WorkerLink {
  link?: RtcLink;
  connecting?: Promise<RtcLink>;
  /** Reconnect attempts since the link was last open. */
  attempts: number;
  timer?: NodeJS.Timeout;
}

const FINAL = FINAL_STATUSES;
/** How long after a worker left signaling its link must stay silent for its jobs to be declared lost. */
const SILENCE_AFTER_LEAVE_MS = 2500;
/** How long a final peer message waits for the same news over an open DataChannel. */
const PEER_FINAL_GRACE_MS = 3000;
/** How long a finished job's channel is kept for late acks and replays. */
const RELEASE_AFTER_FINAL_MS = 5000;

/**
 * The agent's training jobs: resolves the worker (named, or the first available one that trains
 * with the requested trainer), uploads a local dataset first, sends `job_request` over signaling,
 * then follows the job over one RTC link per worker (JobChannel: ordered events, replay after a
 * reconnect). Job records live in the ledger (a write per state change); progress history in
 * per-job JSONL files. After a restart the agent re-attaches to each unfinished job with the last
 * seq it holds, so the worker replays exactly what was missed.
 */
export class JobManager {
  private signaling!: SignalingClient;
  private readonly live = new Map<string, Live>();
  private readonly links = new Map<string, WorkerLink>();
  private readonly responses = new Map<string, (p: { accepted: boolean; reason?: string }) => void>();
  private readonly listeners = new Set<(c: JobChange) => void>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly log: Logger;
  private peerId = '';
  private closed = false;

  constructor(private readonly o: JobManagerOptions) {
    this.log = o.log;
  }

  /** Opens signaling (in the background: a server that is down is retried) and re-attaches unfinished jobs. */
  async start(): Promise<void> {
    if (!this.o.room) return;
    this.peerId = await this.o.ledger.peerId(() => `agent-${randomBytes(6).toString('hex')}`);
    this.signaling = new SignalingClient({
      url: this.o.server,
      peerId: this.peerId,
      role: 'client',
      roomId: this.o.room!,
      token: this.o.roomToken,
      metadata: { tags: ['agent'] },
      log: this.log.child('signaling'),
      ...(this.o.signaling?.backoff ? { backoff: this.o.signaling.backoff } : {}),
      requestTimeoutMs: this.o.signaling?.requestTimeoutMs ?? 10_000,
    });
    this.signaling.on('peer_message', (m) => this.onPeerMessage(m.from_peer_id, m.payload));
    this.signaling.on('answer', (m) => void this.links.get(m.sender)?.link?.handleAnswer(m.sdp).catch((e: unknown) => this.log.debug('answer refused', { from: m.sender, error: String(e) })));
    this.signaling.on('candidate', (m) => void this.links.get(m.sender)?.link?.handleCandidate(m.candidate).catch(() => undefined));
    this.signaling.on('peer_left', (m) => this.onPeerLeft(m.peer_id));
    this.signaling.on('closed', (e) => {
      if (e) this.log.error('signaling stopped for good', { error: e.message });
    });
    this.track(this.signaling.connect().catch((e: unknown) => this.log.warn('signaling: not connected', { error: String(e) })));
    for (const j of this.o.ledger.jobs()) {
      if (FINAL.has(j.status)) continue;
      this.log.info('resuming a job after a restart', { job_id: j.id, status: j.status, worker: j.worker });
      this.track(this.drive(j));
    }
  }

  onDidChange(fn: (c: JobChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  list(): JobView[] {
    return this.o.ledger.jobs().map((j) => this.view(j));
  }

  /** A job with its progress history (the events after `afterSeq`, at most `limit`). */
  async get(id: string, afterSeq = 0, limit?: number): Promise<JobView & { config: TrainingConfig; events: JobEvent[] }> {
    const j = this.need(id);
    // A job not followed now is only read: opening a JobHistory would also repair the file.
    const live = this.live.get(j.id);
    // Every event already relayed (SSE) is in the history once what is being recorded is written:
    // a client that saw a gap in the stream and reads the history must find the missing events.
    if (live) await live.persisted;
    const events = live ? live.history.after(afterSeq, limit) : JobHistory.read(JobHistory.fileOf(this.o.historyDir, j.id), afterSeq, limit);
    return { ...this.view(j), config: j.config, events };
  }

  /** The workers of the room (for pickers). */
  async workers(): Promise<PeerInfo[]> {
    if (!this.o.room) throw noRoomError();
    return this.signalingCall(() => this.signaling.discover({ role: 'worker' }));
  }

  /** Checks what can be checked now (dataset, worker), records the job and runs it in the background. */
  async submit(req: SubmitRequest): Promise<JobView> {
    if (this.closed) throw new AppError('conflict', 'the agent is shutting down');
    const worker = await this.pickWorker(req.worker, req.config.trainer);
    const now = new Date().toISOString();
    const job: LedgerJob = { id: `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`, status: 'queued', dataset: req.dataset, config: req.config, worker, createdAt: now, updatedAt: now };
    if (req.dataset.startsWith('s3://')) {
      job.datasetRef = await this.remoteDataset(req.dataset);
    } else {
      const path = resolve(req.dataset);
      const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
        throw new AppError('not_found', `dataset ${path} does not exist (${e.code}): give the path of a .slp or .pkg.slp file`);
      });
      if (st.isDirectory()) throw new AppError('bad_request', `dataset ${path} is a folder: a job trains on one labels file; give the .slp or .pkg.slp inside it`);
      job.dataset = path;
      const done = await this.o.uploads.findCompleted(path);
      if (done?.s3_path && done.sha256) {
        // Unchanged since it was uploaded: the worker reads the same object (and its cache has it).
        job.uploadId = done.id;
        job.datasetRef = { type: 's3', path: done.s3_path, size_bytes: done.size, checksum: `sha256:${done.sha256}` };
      } else {
        job.uploadId = (await this.o.uploads.create(path, 'job')).id;
      }
    }
    await this.o.ledger.putJob(job);
    this.emitState(job);
    this.log.info('job submitted', { job_id: job.id, worker, dataset: job.dataset });
    this.track(this.drive(job));
    return this.view(job);
  }

  /** Sends a command to a running job; resolves with the job after the worker's ack. */
  async command(id: string, command: JobCommandName): Promise<{ ok: true; command: JobCommandName; job: JobView }> {
    const j = this.need(id);
    if (FINAL.has(j.status)) throw new AppError('job_finished', `job ${id} is ${j.status}: commands apply only to a job that is still running`, { details: { status: j.status } });
    if (!j.accepted) {
      if (command !== 'cancel') throw new AppError('conflict', `job ${id} is still ${j.status} (not yet accepted by a worker): only cancel applies now`);
      await this.cancelQueued(j);
      return { ok: true, command, job: this.view(j) };
    }
    const live = this.live.get(id);
    if (!live) throw new AppError('unavailable', `job ${id}: not connected to worker ${j.worker} right now; try again in a moment`);
    let ack: CommandAck;
    try {
      await this.linkTo(j.worker!);
      ack = await live.channel.command(command);
    } catch (e) {
      throw isAppError(e) ? e : new AppError('unavailable', `job ${id}: ${command} could not reach worker ${j.worker}: ${String(e)}`);
    }
    if (!ack.ok) {
      const code = ack.error ?? 'refused';
      if (code === 'job_finished') throw new AppError('job_finished', `job ${id} has finished on the worker: ${command} no longer applies`);
      throw new AppError('conflict', `worker ${j.worker} refused ${command} for job ${id}: ${code}`, { details: { worker_code: code } });
    }
    return { ok: true, command, job: this.view(this.need(id)) };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.links.values()) clearTimeout(w.timer);
    const drops = [...this.live.values()].map((live) => this.dropLive(live));
    this.live.clear();
    await Promise.allSettled(drops);
    await Promise.allSettled([...this.links.values()].map((w) => w.link?.close()));
    this.links.clear();
    await this.signaling?.close();
    await Promise.allSettled([...this.running]);
  }

  // ---- the life of one job -------------------------------------------------------------------

  /** Takes a job from wherever it is (queued, requested, accepted) to attached; failures end it. */
  private async drive(job: LedgerJob): Promise<void> {
    try {
      if (!job.datasetRef) job.datasetRef = await this.uploadedDataset(job);
      if (this.closed || FINAL.has(job.status)) return;
      if (!job.accepted) await this.request(job);
      if (this.closed || FINAL.has(job.status)) return;
      await this.attach(job);
    } catch (e) {
      if (this.closed) return;
      const err = toAppError(e);
      const code = (e as { workerCode?: string }).workerCode ?? err.code;
      await this.finish(job, 'failed', { error: { code, message: err.message } });
    }
  }

  private async uploadedDataset(job: LedgerJob): Promise<DatasetRef> {
    if (!job.uploadId) throw new AppError('internal', `job ${job.id} has neither a dataset reference nor an upload`);
    let view;
    try {
      view = await this.o.uploads.launch(job.uploadId);
    } catch (e) {
      if (this.closed) throw e;
      throw new AppError('bad_request', `the dataset ${job.dataset} could not be uploaded: ${toAppError(e).message}`);
    }
    if (view.state !== 'completed' || !view.s3_path || !view.sha256) {
      throw new AppError('bad_request', `the dataset ${job.dataset} was not uploaded (upload ${job.uploadId} is ${view.state}${view.error ? `: ${view.error.message}` : ''})`);
    }
    job.datasetRef = { type: 's3', path: view.s3_path, size_bytes: view.size, checksum: `sha256:${view.sha256}` };
    await this.o.ledger.putJob(job);
    return job.datasetRef;
  }

  /** Sends job_request and waits for job_response (a duplicate_job means an earlier try got through). */
  private async request(job: LedgerJob): Promise<void> {
    await this.signalingCall(() => this.signaling.connect());
    const answer = new Promise<{ accepted: boolean; reason?: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.responses.delete(job.id);
        reject(new AppError('timeout', `worker ${job.worker} did not answer the job request within ${(this.o.responseTimeoutMs ?? 15_000) / 1000} s; is it running? (GET /api/workers)`));
      }, this.o.responseTimeoutMs ?? 15_000);
      this.responses.set(job.id, (p) => {
        clearTimeout(timer);
        this.responses.delete(job.id);
        resolve(p);
      });
    });
    job.requested = true;
    await this.o.ledger.putJob(job);
    await this.signalingCall(() => this.signaling.sendPeerMessage(job.worker!, { app_message_type: 'job_request', job_id: job.id, room_id: this.o.room!, dataset: job.datasetRef!, config: job.config }));
    const r = await answer;
    if (!r.accepted && !r.reason?.startsWith('duplicate_job')) {
      const reason = r.reason ?? 'no reason given';
      const code = /^([a-z_]+)(:|$)/.exec(reason)?.[1] ?? 'refused';
      throw Object.assign(new AppError('conflict', `worker ${job.worker} refused job ${job.id}: ${reason}`), { workerCode: code });
    }
    job.accepted = true;
    if (job.status === 'queued') job.status = 'accepted';
    await this.o.ledger.putJob(job);
    this.emitState(job);
  }

  /** Follows the job over the worker's link from the last seq this agent holds. */
  private async attach(job: LedgerJob): Promise<void> {
    if (this.live.has(job.id)) return;
    const history = new JobHistory(this.o.historyDir, job.id);
    const channel = new JobChannel(job.id, { afterSeq: history.lastSeq, log: this.log });
    const live: Live = { channel, history, offs: [], persisted: Promise.resolve() };
    this.live.set(job.id, live);
    live.offs.push(channel.onEvent((e) => this.onEvent(job.id, e)));
    if (!(await this.isPresent(job.worker!))) {
      this.workerLost(job.worker!, 'it is no longer in the room');
      return;
    }
    const link = await this.linkTo(job.worker!);
    // A link made just now attached this job already (connect does it for all of its worker's jobs).
    if (this.live.get(job.id) === live && live.link !== link) this.follow(live, link);
  }

  /** The channel listens to `link` and says hello with its last seq (the worker replays what is missing). */
  private follow(live: Live, link: RtcLink): void {
    live.link = link;
    live.channel.attach(link);
  }

  private appendHistory(jobId: string, live: Live, e: JobEvent): void {
    const wasWriting = !live.history.failure;
    try {
      live.history.append(e);
    } catch (err) {
      this.log.error('could not record a job event', { job_id: jobId, error: String(err) });
    }
    if (wasWriting && live.history.failure) {
      this.log.warn('the job history file stopped taking events: they are kept in memory, and a restarted agent asks the worker again; free disk space under the data folder', { job_id: jobId, file: live.history.file, error: live.history.failure.message });
    }
  }

  private onEvent(jobId: string, e: JobEvent): void {
    const live = this.live.get(jobId);
    const job = this.o.ledger.job(jobId);
    if (!live || !job) return;
    let changed = false;
    if (e.type === 'status' && !FINAL.has(job.status) && job.status !== e.status) {
      job.status = e.status;
      if (e.status === 'failed' && e.message) job.error ??= { code: 'failed', message: e.message };
      changed = true;
    }
    if (e.type === 'job_complete') {
      job.model = { model_id: e.model_id, s3_path: e.s3_path, metrics: e.metrics };
      if (!FINAL.has(job.status)) job.status = 'completed';
      changed = true;
    }
    if (e.type === 'job_failed') {
      job.error = e.error;
      if (!FINAL.has(job.status)) job.status = e.error.code === 'cancelled' ? 'cancelled' : 'failed';
      changed = true;
    }
    // The ledger first, the history after: an event that changes the job record is appended
    // only once the record is written. A kill -9 in between leaves the event out of the history,
    // so the re-attached channel asks the worker for it again and the record catches up. (The
    // other order lost it: a restarted agent held the event, never asked again, and kept a
    // 'paused' job that trained, or a 'training' one that had completed.) Later events wait in
    // the same chain, so the history stays in seq order.
    const write = changed ? () => this.o.ledger.putJob(job).catch((err: unknown) => this.log.error('could not write the ledger', { error: String(err) })) : undefined;
    live.persisted = live.persisted.then(async () => {
      if (write) await write();
      this.appendHistory(jobId, live, e);
    });
    this.emit({ type: 'event', job: this.view(job), event: e });
    if (changed) this.emitState(job);
    // Not at once: the ack of a cancel or stop arrives after the job's last events (the worker
    // acknowledges once the job has ended), and must still find the channel.
    if (e.type === 'job_complete' || e.type === 'job_failed') setTimeout(() => this.release(jobId), RELEASE_AFTER_FINAL_MS).unref();
  }

  private onPeerMessage(from: string, payload: { app_message_type: string; [k: string]: unknown }): void {
    const r = jobPeerPayload.safeParse(payload);
    if (!r.success) return;
    const p = r.data;
    const job = this.o.ledger.job(p.job_id);
    if (!job || job.worker !== from) return;
    if (p.app_message_type === 'job_response') {
      this.responses.get(p.job_id)?.({ accepted: p.accepted, reason: p.reason });
      return;
    }
    // The final messages also come as peer messages: they settle a job whose link is down. The
    // DataChannel says more (stopped vs completed, the last events), so it is given a moment first.
    if (p.app_message_type !== 'job_complete' && p.app_message_type !== 'job_failed') return;
    const settle = (): void => {
      const now = this.o.ledger.job(p.job_id);
      if (!now || FINAL.has(now.status) || this.closed) return;
      if (p.app_message_type === 'job_complete') {
        now.model = { model_id: p.model_id, s3_path: p.s3_path, metrics: p.metrics };
        void this.finish(now, 'completed', {});
      } else {
        void this.finish(now, p.error.code === 'cancelled' ? 'cancelled' : 'failed', { error: p.error });
      }
    };
    const open = this.live.has(p.job_id) && this.links.get(from)?.link?.state === 'open';
    if (open) setTimeout(settle, PEER_FINAL_GRACE_MS).unref();
    else settle();
  }

  /** A worker left signaling: its jobs are lost if its link has also gone quiet. */
  private onPeerLeft(peer: string): void {
    const jobs = this.o.ledger.jobs().filter((j) => j.worker === peer && j.accepted && !FINAL.has(j.status));
    if (jobs.length === 0) return;
    const w = this.links.get(peer);
    const before = w?.link?.stats().framesReceived ?? -1;
    setTimeout(() => {
      const now = this.links.get(peer)?.link;
      const alive = now !== undefined && now.state === 'open' && now.stats().framesReceived > before && before >= 0;
      if (alive) return;
      this.workerLost(peer, 'it left the room and its link went silent');
    }, SILENCE_AFTER_LEAVE_MS).unref();
  }

  private workerLost(peer: string, why: string): void {
    for (const j of this.o.ledger.jobs()) {
      if (j.worker !== peer || !j.accepted || FINAL.has(j.status)) continue;
      void this.finish(j, 'failed', { error: { code: 'worker_lost', message: `worker ${peer} was lost (${why}); job ${j.id} did not finish. Submit it again.` } });
    }
    const w = this.links.get(peer);
    if (w) {
      clearTimeout(w.timer);
      void w.link?.close();
      this.links.delete(peer);
    }
  }

  private async finish(job: LedgerJob, status: JobStatusValue, extra: { error?: { code: string; message: string } }): Promise<void> {
    if (FINAL.has(job.status)) {
      // Already final: only fill in what was missing.
      if (extra.error && !job.error) job.error = extra.error;
    } else {
      job.status = status;
      if (extra.error) job.error = extra.error;
    }
    await this.o.ledger.putJob(job).catch((e: unknown) => this.log.error('could not write the ledger', { error: String(e) }));
    this.emitState(job);
    this.log.info('job ended', { job_id: job.id, status: job.status, error: job.error?.code });
    // Let a replay still in flight land in the history before the channel is let go.
    setTimeout(() => this.release(job.id), RELEASE_AFTER_FINAL_MS).unref();
  }

  private async cancelQueued(job: LedgerJob): Promise<void> {
    if (job.uploadId) await this.o.uploads.pause(job.uploadId).catch(() => undefined);
    if (job.requested && job.worker) await this.signaling.sendPeerMessage(job.worker, { app_message_type: 'job_cancel', job_id: job.id }).catch(() => undefined);
    this.responses.get(job.id)?.({ accepted: false, reason: 'cancelled: by the user before the worker answered' });
    await this.finish(job, 'cancelled', { error: { code: 'cancelled', message: `job ${job.id} was cancelled before a worker took it` } });
  }

  private release(jobId: string): void {
    const live = this.live.get(jobId);
    if (!live) return;
    void this.dropLive(live);
    this.live.delete(jobId);
  }

  /** Stops following; the history closes once what is being recorded is written. */
  private dropLive(live: Live): Promise<void> {
    for (const f of live.offs.splice(0)) f();
    live.channel.detach();
    return live.persisted.then(() => live.history.close());
  }

  // ---- links to workers ------------------------------------------------------------------------

  /** The open link to a worker, made (client offers) if there is none. */
  private linkTo(worker: string): Promise<RtcLink> {
    let w = this.links.get(worker);
    if (!w) {
      w = { attempts: 0 };
      this.links.set(worker, w);
    }
    if (w.link && w.link.state === 'open') return Promise.resolve(w.link);
    if (w.connecting) return w.connecting;
    const entry = w;
    entry.connecting = this.connect(worker, entry).finally(() => (entry.connecting = undefined));
    return entry.connecting;
  }

  private async connect(worker: string, w: WorkerLink): Promise<RtcLink> {
    await this.signalingCall(() => this.signaling.connect());
    const link = new RtcLink({
      role: 'offerer',
      config: this.o.link,
      log: this.log.child('rtc', { worker }),
      signal: {
        sendOffer: (sdp) => this.signaling.sendOffer(worker, sdp),
        sendAnswer: (sdp) => this.signaling.sendAnswer(worker, sdp),
        sendCandidate: (c) => this.signaling.sendCandidate(worker, c),
      },
    });
    w.link = link;
    link.onClose((reason) => this.onLinkClosed(worker, link, reason));
    try {
      await link.start();
      await link.waitOpen();
    } catch (e) {
      void link.close();
      throw new AppError('unavailable', `could not open a WebRTC link to worker ${worker}: ${toAppError(e).message}`);
    }
    w.attempts = 0;
    // Every job followed on this worker uses the new link (and asks for what it missed).
    for (const [id, live] of this.live) if (this.o.ledger.job(id)?.worker === worker) this.follow(live, link);
    return link;
  }

  private onLinkClosed(worker: string, link: RtcLink, reason: string): void {
    const w = this.links.get(worker);
    if (!w || w.link !== link || this.closed) return;
    w.link = undefined;
    const waiting = [...this.live.keys()].filter((id) => this.o.ledger.job(id)?.worker === worker);
    if (waiting.length === 0) return;
    this.log.warn('link to worker closed; reconnecting', { worker, reason, jobs: waiting.length });
    const delay = Math.min(5000, 250 * 2 ** w.attempts++);
    w.timer = setTimeout(() => void this.reconnect(worker), delay);
    w.timer.unref();
  }

  private async reconnect(worker: string): Promise<void> {
    if (this.closed) return;
    if (!(await this.isPresent(worker))) return this.workerLost(worker, 'it is no longer in the room');
    try {
      await this.linkTo(worker);
    } catch (e) {
      this.log.warn('could not reconnect to a worker', { worker, error: String(e) });
      const w = this.links.get(worker);
      if (w && !w.timer?.hasRef()) {
        w.timer = setTimeout(() => void this.reconnect(worker), Math.min(5000, 250 * 2 ** w.attempts++));
        w.timer.unref();
      }
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** Whether a worker is registered in the room; true when signaling cannot tell (keep trying the link). */
  private async isPresent(worker: string): Promise<boolean> {
    try {
      await this.signaling.connect();
      return (await this.signaling.discover({ role: 'worker' })).some((p) => p.peer_id === worker);
    } catch {
      return true;
    }
  }

  private async pickWorker(named: string | undefined, trainer: string): Promise<string> {
    const workers = await this.workers();
    if (named) {
      const w = workers.find((p) => p.peer_id === named);
      if (!w) throw new AppError('unknown_worker', `no worker "${named}" in room ${this.o.room}; the workers there now: ${workers.map((p) => p.peer_id).join(', ') || 'none'}`);
      return w.peer_id;
    }
    // The server filters (sleap-rtc's discover_peers): the trainer's tag, and free.
    const free = await this.signalingCall(() => this.signaling.discover({ role: 'worker', tags: [trainer], properties: { status: { $eq: 'available' } } }));
    if (free.length > 0) return free[0].peer_id;
    const fit = workers.filter((p) => (p.metadata.tags ?? []).includes(trainer));
    if (fit.length > 0) throw new AppError('no_worker', `every worker that trains with ${trainer} is busy (${fit.map((p) => p.peer_id).join(', ')}); try again later or name one with "worker"`);
    throw new AppError('no_worker', `no worker in room ${this.o.room} trains with ${trainer}; start one (sleap-rtc worker --trainer ${trainer}) or choose another trainer`);
  }

  private async remoteDataset(path: string): Promise<DatasetRef> {
    const info = await this.o.backend.requestDownload(path).catch((e: unknown) => {
      const err = toAppError(e);
      throw new AppError(err.code === 'not_found' ? 'not_found' : err.code, `dataset ${path}: ${err.message}`);
    });
    if (!info.sha256) throw new AppError('bad_request', `dataset ${path} has no SHA-256 in its metadata, so the worker could not verify it: upload it through the agent (POST /api/uploads) and use that path`);
    return { type: 's3', path: `s3://${info.bucket}/${info.key}`, size_bytes: info.size, checksum: `sha256:${info.sha256}` };
  }

  private async signalingCall<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (isAppError(e)) throw e;
      throw new AppError('unavailable', `the signaling server (${this.o.server}) is not reachable: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private need(id: string): LedgerJob {
    const j = this.o.ledger.job(id);
    if (!j) throw new AppError('not_found', `no job ${id} in this agent (GET /api/jobs lists them)`);
    return j;
  }

  private track(p: Promise<unknown>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private emitState(job: LedgerJob): void {
    this.emit({ type: 'state', job: this.view(job) });
  }

  private emit(c: JobChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch (e) {
        this.log.warn('a job listener threw', { error: String(e) });
      }
    }
  }

  view(j: LedgerJob): JobView {
    const live = this.live.get(j.id);
    return {
      id: j.id,
      status: j.status,
      dataset: j.dataset,
      ...(j.datasetRef ? { dataset_s3_path: j.datasetRef.path } : {}),
      ...(j.uploadId ? { upload_id: j.uploadId } : {}),
      ...(j.worker ? { worker: j.worker } : {}),
      created_at: j.createdAt,
      updated_at: j.updatedAt,
      ...(live ? { last_seq: Math.max(live.channel.lastSeq, live.history.lastSeq) } : {}),
      ...(j.model ? { model: j.model } : {}),
      ...(j.error ? { error: j.error } : {}),
    };
  }
}
