import { randomBytes } from 'node:crypto';
import { Emitter } from '../../core/Emitter.js';
import { AppError, isAppError, toAppError } from '../../core/errors.js';
import type { CommandAck, JobEvent } from '../../core/jobs/index.js';
import type { Logger } from '../../core/log.js';
import type { RtcLinkConfigInput } from '../../core/rtc/linkConfig.js';
import type { JobView } from '../../core/schemas/agent.js';
import type { JobCommandName } from '../../core/schemas/datachannel.js';
import { jobPeerPayload, type JobStatusValue, type TrainingConfig } from '../../core/schemas/jobs.js';
import type { PeerFilters } from '../../core/schemas/signaling.js';
import { SignalingClient, type PeerInfo } from '../../core/signaling/SignalingClient.js';
import type { BackendClient } from '../../core/transfer/index.js';
import type { Ledger, LedgerJob } from '../Ledger.js';
import type { UploadManager } from '../UploadManager.js';
import { noRoomError } from '../config.js';
import { FollowedJob } from './FollowedJob.js';
import { JobDatasets } from './JobDatasets.js';
import { JobHistory } from './JobHistory.js';
import { JobRequests } from './JobRequests.js';
import { changeOnAccept, changeOnEnd, changeOnEvent, changeOnPeerEnd, isFinal, jobView, requestOutcome, type JobRecordChange, type PeerEnd } from './jobState.js';
import { pickWorker } from './workerChoice.js';
import { WorkerLinks } from './WorkerLinks.js';

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

/** The event (a `queued` status) with which the agent records that it resubmitted a job. */
export const RESUBMITTED_MESSAGE = 'resubmitted: the worker restarted and no longer had this job';

/** How long a worker has to answer a job_query (no answer: the job is followed as before, over a link). */
const QUERY_TIMEOUT_MS = 5000;

/** How long a final peer message waits for the same news over an open DataChannel that has gone quiet. */
const PEER_FINAL_GRACE_MS = 3000;
/** How long a finished job's channel is kept for late acks and replays. */
const RELEASE_AFTER_FINAL_MS = 5000;

/**
 * The agent's training jobs, from submit to their end: the worker is picked (workerChoice), the
 * dataset resolved and a local one uploaded first (JobDatasets), `job_request` sent over
 * signaling and its answer awaited (JobRequests); then the job is followed (FollowedJob: a
 * JobChannel, ordered events and replay after a reconnect, in step with the job's history file)
 * over its worker's RTC link (WorkerLinks: one per worker, reopened after a drop). What each piece
 * of news does to the job's record is jobState's pure logic; this class applies it, writes the
 * ledger (a write per state change) and tells its listeners. After a restart the agent
 * re-attaches to each unfinished job with the last seq it holds, so the worker replays exactly
 * what was missed.
 */
/** How long a pause or resume reply waits for the worker's status event after its ack. */
const STATUS_AFTER_ACK_MS = 5000;

export class JobManager {
  private signaling!: SignalingClient;
  private links!: WorkerLinks;
  private readonly requests: JobRequests;
  /** job_query -> job_status / job_failed unknown_job, matched by job id as job_request -> job_response is. */
  private readonly queries = new JobRequests(QUERY_TIMEOUT_MS);
  private readonly datasets: JobDatasets;
  private readonly live = new Map<string, FollowedJob>();
  private readonly changed = new Emitter<JobChange>((e) => this.log.warn('a job listener threw', { error: String(e) }));
  private readonly running = new Set<Promise<unknown>>();
  /** Jobs being driven now (a worker's return does not start a second drive of one). */
  private readonly driving = new Map<string, object>();
  private readonly log: Logger;
  private peerId = '';
  private closed = false;

  constructor(private readonly o: JobManagerOptions) {
    this.log = o.log;
    this.requests = new JobRequests(o.responseTimeoutMs ?? 15_000);
    this.datasets = new JobDatasets(o.uploads, o.backend);
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
    this.links = new WorkerLinks({
      signaling: this.signaling,
      ready: () => this.signalingCall(() => this.signaling.connect()),
      link: this.o.link,
      log: this.log,
      jobsOn: (worker) => this.liveOn(worker).length,
      // Every job followed on this worker uses the new link (and asks for what it missed).
      onOpen: (worker, link) => this.liveOn(worker).forEach((live) => live.follow(link)),
      onGone: (worker, why) => this.workerLost(worker, why),
    });
    this.signaling.onPeerMessage((m) => this.onPeerMessage(m.from_peer_id, m.payload));
    this.signaling.onAnswer((m) => this.links.answer(m.sender, m.sdp));
    this.signaling.onCandidate((m) => this.links.candidate(m.sender, m.candidate));
    this.signaling.onPeerLeft((m) => this.onPeerLeft(m.peer_id));
    this.signaling.onPeerJoined((m) => this.onPeerJoined(m.peer.peer_id));
    this.signaling.onClosed((e) => {
      if (e) this.log.error('signaling stopped for good', { error: e.message });
    });
    this.track(this.signaling.connect().catch((e: unknown) => this.log.warn('signaling: not connected', { error: String(e) })));
    for (const j of this.o.ledger.jobs()) {
      if (isFinal(j.status)) continue;
      this.log.info('resuming a job after a restart', { job_id: j.id, status: j.status, worker: j.worker });
      this.track(this.drive(j));
    }
  }

  onDidChange(fn: (c: JobChange) => void): () => void {
    return this.changed.event(fn);
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
    return this.discover({ role: 'worker' });
  }

  /** Checks what can be checked now (dataset, worker), records the job and runs it in the background. */
  async submit(req: SubmitRequest): Promise<JobView> {
    if (this.closed) throw new AppError('conflict', 'the agent is shutting down');
    const worker = await pickWorker((f) => this.discover(f), this.o.room, req.worker, req.config.trainer);
    const now = new Date().toISOString();
    const id = `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const ds = await this.datasets.resolve(req.dataset, req.config.trainer);
    const job: LedgerJob = { id, status: 'queued', dataset: ds.dataset, config: req.config, worker, createdAt: now, updatedAt: now };
    if (ds.datasetRef) job.datasetRef = ds.datasetRef;
    if (ds.uploadId) job.uploadId = ds.uploadId;
    await this.o.ledger.putJob(job);
    this.emitState(job);
    this.log.info('job submitted', { job_id: job.id, worker, dataset: job.dataset });
    this.track(this.drive(job));
    return this.view(job);
  }

  /** Sends a command to a running job; resolves with the job after the worker's ack. */
  async command(id: string, command: JobCommandName): Promise<{ ok: true; command: JobCommandName; job: JobView }> {
    const j = this.need(id);
    if (isFinal(j.status)) throw new AppError('job_finished', `job ${id} is ${j.status}: commands apply only to a job that is still running`, { details: { status: j.status } });
    if (!j.accepted) {
      if (command !== 'cancel') throw new AppError('conflict', `job ${id} is still ${j.status} (not yet accepted by a worker): only cancel applies now`);
      await this.cancelQueued(j);
      return { ok: true, command, job: this.view(j) };
    }
    const live = this.live.get(id);
    if (!live) throw new AppError('unavailable', `job ${id}: not connected to worker ${j.worker} right now; try again in a moment`);
    let ack: CommandAck;
    try {
      await this.links.linkTo(j.worker!);
      ack = await live.channel.command(command);
    } catch (e) {
      throw isAppError(e) ? e : new AppError('unavailable', `job ${id}: ${command} could not reach worker ${j.worker}: ${String(e)}`);
    }
    if (!ack.ok) {
      const code = ack.error ?? 'refused';
      if (code === 'job_finished') throw new AppError('job_finished', `job ${id} has finished on the worker: ${command} no longer applies`);
      throw new AppError('conflict', `worker ${j.worker} refused ${command} for job ${id}: ${code}`, { details: { worker_code: code } });
    }
    // The worker acknowledges a pause or resume before its trainer has switched (the status
    // event follows): answer with the state the command leads to, so a caller does not see
    // `"status": "training"` in the reply to a pause.
    const want = command === 'pause' ? 'paused' : command === 'resume' ? 'training' : undefined;
    if (want) await this.statusReached(id, want, STATUS_AFTER_ACK_MS);
    return { ok: true, command, job: this.view(this.need(id)) };
  }

  /** Resolves once job `id` has status `want` or a final one, or after `timeoutMs` (then as it is). */
  private statusReached(id: string, want: string, timeoutMs: number): Promise<void> {
    const reached = (): boolean => {
      const s = this.o.ledger.job(id)?.status;
      return s === undefined || s === want || isFinal(s);
    };
    if (reached()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const off = this.onDidChange((c) => {
        if (c.job.id === id && reached()) done();
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // A job_request still waiting ends now (a restarted agent asks again: the worker answers duplicate_job).
    this.requests.rejectAll(new AppError('aborted', 'the agent is shutting down'));
    this.queries.rejectAll(new AppError('aborted', 'the agent is shutting down'));
    const drops = [...this.live.values()].map((live) => live.drop());
    this.live.clear();
    await Promise.allSettled(drops);
    await this.links?.close();
    await this.signaling?.close();
    await Promise.allSettled([...this.running]);
  }

  // ---- the life of one job -------------------------------------------------------------------

  /** Takes a job from wherever it is (queued, requested, accepted) to attached; failures end it. */
  private async drive(job: LedgerJob): Promise<void> {
    // Its own token: a drive started from within this one (a resubmission) stays registered.
    const token = {};
    this.driving.set(job.id, token);
    try {
      if (job.resubmit) this.recordResubmitted(job);
      if (!job.datasetRef) {
        job.datasetRef = await this.datasets.uploaded(job);
        await this.o.ledger.putJob(job);
      }
      if (this.closed || isFinal(job.status)) return;
      // A job taken before (an agent restart, a worker back): does the worker still have it? A
      // worker answers offers only from clients with a job there, so this is asked first.
      if (job.accepted && !this.live.has(job.id)) {
        const gone = await this.workerLacks(job);
        if (gone !== undefined) return await this.lost(job, gone);
      }
      if (this.closed || isFinal(job.status)) return;
      if (!job.accepted) await this.request(job);
      if (this.closed || isFinal(job.status)) return;
      await this.attach(job);
    } catch (e) {
      if (this.closed) return;
      const err = toAppError(e);
      const code = (e as { workerCode?: string }).workerCode ?? err.code;
      await this.finish(job, 'failed', { code, message: err.message });
    } finally {
      if (this.driving.get(job.id) === token) this.driving.delete(job.id);
    }
  }

  /** Sends job_request and waits for job_response (a duplicate_job means an earlier try got through). */
  private async request(job: LedgerJob): Promise<void> {
    await this.signalingCall(() => this.signaling.connect());
    const answer = this.requests.expect(job.id, job.worker!);
    try {
      job.requested = true;
      await this.o.ledger.putJob(job);
      await this.signalingCall(() =>
        this.signaling.sendPeerMessage(job.worker!, { app_message_type: 'job_request', job_id: job.id, room_id: this.o.room!, dataset: job.datasetRef!, config: job.config, ...(job.resubmit ? { seq_base: job.resubmit.seqBase } : {}) }),
      );
    } catch (e) {
      // Not sent: no answer will come, and its timeout must not reject a promise nobody awaits.
      this.requests.drop(job.id);
      throw e;
    }
    const outcome = requestOutcome(await answer);
    if (!outcome.accepted) throw Object.assign(new AppError('conflict', `worker ${job.worker} refused job ${job.id}: ${outcome.reason}`), { workerCode: outcome.workerCode });
    Object.assign(job, changeOnAccept(job, outcome.position));
    await this.o.ledger.putJob(job);
    this.emitState(job);
  }

  /** Asks the job's worker whether it has the job: its reason when it does not, undefined when it does or does not answer. */
  private async workerLacks(job: LedgerJob): Promise<string | undefined> {
    const answer = this.queries.expect(job.id, job.worker!);
    try {
      await this.signalingCall(() => this.signaling.sendPeerMessage(job.worker!, { app_message_type: 'job_query', job_id: job.id }));
    } catch {
      this.queries.drop(job.id);
      return undefined;
    }
    const a = await answer.catch(() => undefined);
    return a && !a.accepted ? (a.reason ?? `worker ${job.worker} no longer has job ${job.id}`) : undefined;
  }

  /** The worker no longer has the job: resubmitted the first time, failed the second. */
  private async lost(job: LedgerJob, reason: string): Promise<void> {
    if (!job.resubmit) return this.resubmit(job, reason);
    await this.finish(job, 'failed', { code: 'unknown_job', message: `${reason} (job ${job.id} was resubmitted once already; submit it again)` });
  }

  /**
   * The worker no longer has a job this agent follows (it restarted: its queue is in memory).
   * Submitted again to it, once: the record goes back to queued, the ledger notes the resubmit
   * (with the seq of the agent's own `resubmitted` event, after which the worker numbers the
   * job's events) before that event is recorded, and the job is driven again.
   */
  private async resubmit(job: LedgerJob, reason: string): Promise<void> {
    const live = this.live.get(job.id);
    if (live) {
      this.live.delete(job.id);
      await live.drop();
    }
    const lastSeq = JobHistory.read(JobHistory.fileOf(this.o.historyDir, job.id)).at(-1)?.seq ?? 0;
    this.log.warn('resubmitting a job its worker no longer has', { job_id: job.id, worker: job.worker, reason, seq_base: lastSeq + 1 });
    Object.assign(job, { resubmit: { seqBase: lastSeq + 1 }, accepted: false, requested: false, status: 'queued', queuePosition: undefined });
    await this.o.ledger.putJob(job);
    this.emitState(job);
    this.track(this.drive(job));
  }

  /** The agent's `resubmitted` event, in the history once (the ledger noted the resubmit first: a crash in between records it on the next drive). */
  private recordResubmitted(job: LedgerJob): void {
    const seq = job.resubmit!.seqBase;
    if (this.live.has(job.id)) return;
    const history = new JobHistory(this.o.historyDir, job.id);
    try {
      if (history.lastSeq !== seq - 1) return;
      const e: JobEvent = { type: 'status', job_id: job.id, seq, status: 'queued', message: RESUBMITTED_MESSAGE, t: Date.now() };
      history.append(e);
      this.emit({ type: 'event', job: this.view(job), event: e });
    } finally {
      history.close();
    }
  }

  /** Follows the job over the worker's link from the last seq this agent holds. */
  private async attach(job: LedgerJob): Promise<void> {
    if (this.live.has(job.id)) return;
    const live = new FollowedJob(this.o.historyDir, job.id, this.log, (e) => this.onEvent(job.id, e));
    this.live.set(job.id, live);
    if (!(await this.links.isPresent(job.worker!))) {
      this.workerLost(job.worker!, 'it is no longer in the room');
      return;
    }
    const link = await this.links.linkTo(job.worker!);
    // A link made just now attached this job already (a new link re-attaches all of its worker's jobs).
    if (this.live.get(job.id) === live && live.link !== link) live.follow(link);
  }

  private onEvent(jobId: string, e: JobEvent): void {
    const live = this.live.get(jobId);
    const job = this.o.ledger.job(jobId);
    if (!live || !job) return;
    const change = changeOnEvent(job, e);
    if (change) Object.assign(job, change);
    // The ledger first, the history after: an event that changes the job record is appended
    // only once the record is written. A kill -9 in between leaves the event out of the history,
    // so the re-attached channel asks the worker for it again and the record catches up. (The
    // other order lost it: a restarted agent held the event, never asked again, and kept a
    // 'paused' job that trained, or a 'training' one that had completed.) Later events wait in
    // the same chain, so the history stays in seq order.
    const write = change ? () => this.o.ledger.putJob(job).catch((err: unknown) => this.log.error('could not write the ledger', { error: String(err) })) : undefined;
    live.record(e, write);
    this.emit({ type: 'event', job: this.view(job), event: e });
    if (change) this.emitState(job);
    // Not at once: the ack of a cancel or stop arrives after the job's last events (the worker
    // acknowledges once the job has ended), and must still find the channel.
    if (e.type === 'job_complete' || e.type === 'job_failed') this.releaseLater(jobId);
  }

  private onPeerMessage(from: string, payload: { app_message_type: string; [k: string]: unknown }): void {
    const r = jobPeerPayload.safeParse(payload);
    if (!r.success) return;
    const p = r.data;
    const job = this.o.ledger.job(p.job_id);
    if (!job || job.worker !== from) return;
    if (p.app_message_type === 'job_response') {
      this.requests.answer(p.job_id, { accepted: p.accepted, reason: p.reason, ...(p.position !== undefined ? { position: p.position } : {}) });
      return;
    }
    if (p.app_message_type === 'job_status') {
      this.queries.answer(p.job_id, { accepted: true });
      return;
    }
    // The worker does not know the job (it restarted since): submitted again, once.
    if (p.app_message_type === 'job_failed' && p.error.code === 'unknown_job') {
      if (this.queries.answer(p.job_id, { accepted: false, reason: p.error.message })) return;
      if (job.accepted && !isFinal(job.status) && !this.closed) {
        void this.lost(job, p.error.message).catch((e: unknown) => this.log.error('could not resubmit a job', { job_id: job.id, error: String(e) }));
        return;
      }
    }
    // The final messages also come as peer messages: they settle a job whose link is down. The
    // DataChannel says more (stopped vs completed, the last events), so it is given a moment first,
    // and longer while its events still come: a channel re-attached after a restart can be a long
    // replay behind the worker, and ending the job then made a stopped job `completed` and let go
    // of the channel before its closing events arrived.
    if (p.app_message_type !== 'job_complete' && p.app_message_type !== 'job_failed') return;
    const end: PeerEnd = p.app_message_type === 'job_complete' ? { type: 'job_complete', completion: { model_id: p.model_id, s3_path: p.s3_path, metrics: p.metrics } } : { type: 'job_failed', error: p.error };
    const live = this.live.get(p.job_id);
    if (live && this.links.current(from)?.state === 'open') live.whenQuiet('peerEnd', PEER_FINAL_GRACE_MS, () => this.endFromPeer(p.job_id, end));
    else this.endFromPeer(p.job_id, end);
  }

  private endFromPeer(jobId: string, end: PeerEnd): void {
    const job = this.o.ledger.job(jobId);
    if (!job || this.closed) return;
    const change = changeOnPeerEnd(job, end);
    if (change) void this.end(job, change);
  }

  /** A worker left signaling: its jobs are lost if its link has also gone quiet. */
  private onPeerLeft(peer: string): void {
    const jobs = this.o.ledger.jobs().filter((j) => j.worker === peer && j.accepted && !isFinal(j.status));
    if (jobs.length === 0) return;
    void this.links.afterLeave(peer);
  }

  private workerLost(peer: string, why: string): void {
    if (this.closed) return;
    for (const j of this.o.ledger.jobs()) {
      if (j.worker !== peer || !j.accepted || isFinal(j.status)) continue;
      if (j.status === 'queued') {
        // A queued job had not started: it waits for its worker to return (then resubmitted if the
        // worker lost it, or failed if it was resubmitted once already). A resubmitted one too: the
        // verdict may be about the link of the worker's previous run, arriving after the worker came
        // back and took the job again (a CI run failed it as worker_lost so).
        this.log.info('a queued job waits for its worker to return', { job_id: j.id, worker: peer, why });
        const live = this.live.get(j.id);
        this.live.delete(j.id);
        void live?.drop();
        continue;
      }
      void this.finish(j, 'failed', { code: 'worker_lost', message: `worker ${peer} was lost (${why}); job ${j.id} did not finish. Submit it again.` });
    }
    this.links.drop(peer);
    // A worker that restarted quickly may be back already (its peer_joined came before this verdict).
    void this.links.isPresent(peer).then((here) => {
      if (here) this.onPeerJoined(peer);
    });
  }

  /** A worker (re)joined the room: its queued jobs that wait for it are followed again (it says unknown_job for one it lost). */
  private onPeerJoined(peer: string): void {
    if (this.closed) return;
    for (const j of this.o.ledger.jobs()) {
      if (j.worker !== peer || !j.accepted || j.status !== 'queued' || this.live.has(j.id) || this.driving.has(j.id)) continue;
      this.log.info('worker back: following its queued job again', { job_id: j.id, worker: peer });
      this.track(this.drive(j));
    }
  }

  /** Ends a job with the agent's own verdict (a final job only gets an error it lacked). */
  private finish(job: LedgerJob, status: JobStatusValue, error?: { code: string; message: string }): Promise<void> {
    return this.end(job, changeOnEnd(job, status, error));
  }

  private async end(job: LedgerJob, change: NonNullable<JobRecordChange>): Promise<void> {
    Object.assign(job, change);
    await this.o.ledger.putJob(job).catch((e: unknown) => this.log.error('could not write the ledger', { error: String(e) }));
    this.emitState(job);
    this.log.info('job ended', { job_id: job.id, status: job.status, error: job.error?.code });
    // Let a replay still in flight land in the history before the channel is let go.
    this.releaseLater(job.id);
  }

  private async cancelQueued(job: LedgerJob): Promise<void> {
    if (job.uploadId) await this.o.uploads.pause(job.uploadId).catch(() => undefined);
    if (job.requested && job.worker) await this.signaling.sendPeerMessage(job.worker, { app_message_type: 'job_cancel', job_id: job.id }).catch(() => undefined);
    this.requests.cancel(job.id, 'cancelled: by the user before the worker answered');
    await this.finish(job, 'cancelled', { code: 'cancelled', message: `job ${job.id} was cancelled before a worker took it` });
  }

  /** The job's channel is let go after RELEASE_AFTER_FINAL_MS (the first end that asks sets the time). */
  private releaseLater(jobId: string): void {
    const live = this.live.get(jobId);
    live?.later('release', RELEASE_AFTER_FINAL_MS, () => {
      if (this.live.get(jobId) !== live) return;
      this.live.delete(jobId);
      void live.drop();
    });
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** The jobs followed now on `worker`. */
  private liveOn(worker: string): FollowedJob[] {
    return [...this.live].filter(([id]) => this.o.ledger.job(id)?.worker === worker).map(([, live]) => live);
  }

  /** discover_peers, for a room (there is none: a clear error). */
  private async discover(filters: PeerFilters): Promise<PeerInfo[]> {
    if (!this.o.room) throw noRoomError();
    return this.signalingCall(() => this.signaling.discover(filters));
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
    this.changed.fire(c);
  }

  view(j: LedgerJob): JobView {
    // last_seq (while followed): max(channel, history), the last event this agent holds.
    return jobView(j, this.live.get(j.id)?.lastSeq);
  }
}
