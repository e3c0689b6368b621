import type { S3Client } from '@aws-sdk/client-s3';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAppError } from '../core/errors.js';
import { answerCommand, CommandRefused } from '../core/jobs/index.js';
import type { Logger } from '../core/log.js';
import { keyInRoom, roomPrefix } from '../core/roomKeys.js';
import { RtcLink, type AppMessage } from '../core/rtc/RtcLink.js';
import type { RtcLinkConfigInput } from '../core/rtc/linkConfig.js';
import { jobQuery, jobRequest, LINK_PROBE_TTL_MS, linkProbe } from '../core/schemas/jobs.js';
import { SignalingClient, type SignalingClientOptions } from '../core/signaling/SignalingClient.js';
import type { GpuInfo } from './identity.js';
import { JobRunner } from './JobRunner.js';
import { LinkOutbox } from './LinkOutbox.js';
import { queueOrder } from './queueOrder.js';
import type { Trainer } from './trainers/index.js';

export interface WorkerOptions {
  peerId: string;
  room: string;
  roomToken: string;
  /** Signaling WebSocket URL (ws://host/ws). */
  signalingUrl: string;
  s3: S3Client;
  bucket: string;
  trainer: Trainer;
  maxJobs: number;
  /** Jobs that may wait for a free slot (0: a busy worker refuses with worker_busy). */
  queue: number;
  cacheDir: string;
  jobsDir: string;
  gpu: GpuInfo;
  versions: { sleap_rtc: string; node: string };
  link: RtcLinkConfigInput;
  log: Logger;
  /** Extra SignalingClient options (tests: backoff, liveness). */
  signaling?: Partial<SignalingClientOptions>;
}

interface LinkEntry {
  link: RtcLink;
  outbox: LinkOutbox;
  /** Job id -> unsubscribe from its event log. */
  follows: Map<string, () => void>;
}

/** Link probes (`sleap-rtc doctor`) waiting for their offer at once. */
const MAX_PROBES = 4;

/** Finished jobs kept for late hellos and commands (answered `job_finished`). */
const KEEP_FINISHED = 100;

/**
 * `sleap-rtc worker`: registers in its room as a worker, accepts `job_request` peer messages
 * while it has a free slot, answers each client's WebRTC offer (one RtcLink per client), and
 * streams each job's events to every link that said `hello` for it. The jobs themselves are
 * JobRunners; this class is coordination only.
 */
export class Worker {
  readonly signaling: SignalingClient;
  private readonly jobs = new Map<string, JobRunner>();
  private readonly links = new Map<string, LinkEntry>();
  private readonly log: Logger;
  private closing = false;
  /** Peers allowed one offer without a job (`link_probe`), until when. */
  private readonly probes = new Map<string, number>();
  /** Per client, the tick of its last job started from the queue (the queue's round-robin). */
  private readonly lastServed = new Map<string, number>();
  private tick = 0;

  constructor(private readonly o: WorkerOptions) {
    this.log = o.log;
    this.signaling = new SignalingClient({
      url: o.signalingUrl,
      peerId: o.peerId,
      role: 'worker',
      roomId: o.room,
      token: o.roomToken,
      metadata: { tags: ['worker', o.trainer.kind], properties: this.properties() },
      log: o.log,
      ...o.signaling,
    });
    this.signaling.onPeerMessage((m) => void this.onPeerMessage(m.from_peer_id, m.payload));
    this.signaling.onOffer((m) => void this.onOffer(m.sender, m.sdp));
    this.signaling.onCandidate((m) => {
      const entry = this.links.get(m.sender);
      entry?.link.handleCandidate(m.candidate).catch((e: unknown) => this.log.debug('candidate refused', { from: m.sender, error: String(e) }));
    });
  }

  get peerId(): string {
    return this.o.peerId;
  }
  get room(): string {
    return this.o.room;
  }

  get running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (!j.finished && !j.queued) n++;
    return n;
  }

  /** The jobs waiting in the queue, in arrival order (the jobs map's order). */
  private waiting(): JobRunner[] {
    return [...this.jobs.values()].filter((j) => j.queued);
  }

  async start(): Promise<void> {
    // Event files of an earlier run: their jobs died with it (a client asking gets unknown_job).
    await rm(this.eventsDir, { recursive: true, force: true });
    await mkdir(this.eventsDir, { recursive: true, mode: 0o700 });
    await this.signaling.connect();
  }

  private get eventsDir(): string {
    return join(this.o.jobsDir, 'events');
  }

  /**
   * Cancels running jobs (waiting for them to end), closes every link and signaling. Queued jobs
   * are left as they are, not cancelled: the queue is in memory, and the client, finding the job
   * gone once the worker is back, submits it again (once).
   */
  async close(): Promise<void> {
    this.closing = true;
    const waiting = this.waiting();
    if (waiting.length > 0) this.log.info('leaving queued jobs to their clients', { jobs: waiting.map((j) => j.jobId) });
    await Promise.allSettled([...this.jobs.values()].filter((j) => !j.finished && !j.queued).map((j) => j.cancel('the worker is shutting down')));
    // Let the final events reach the links before they close.
    await new Promise((r) => setTimeout(r, 100));
    await Promise.allSettled([...this.links.values()].map((e) => e.link.close()));
    this.links.clear();
    await this.signaling.close();
    for (const j of this.jobs.values()) j.events.close();
  }

  private properties(): Record<string, string | number | null | Array<string | number>> {
    const running = this.running;
    return {
      status: running >= this.o.maxJobs ? 'busy' : 'available',
      gpu_model: this.o.gpu.gpu_model,
      gpu_memory_mb: this.o.gpu.gpu_memory_mb,
      max_jobs: this.o.maxJobs,
      running_jobs: running,
      // Clients send a job to a free worker, else to the shortest queue that has room.
      queue_length: this.waiting().length,
      max_queue: this.o.queue,
      // Metadata values are scalars (or lists of them): the versions are flat keys.
      sleap_rtc_version: this.o.versions.sleap_rtc,
      node_version: this.o.versions.node,
    };
  }

  private publishStatus(): void {
    if (this.closing) return;
    this.signaling.updateMetadata({ properties: this.properties() }).catch((e: unknown) => this.log.warn('could not update metadata', { error: String(e) }));
  }

  private async send(to: string, payload: { app_message_type: string; [k: string]: unknown }): Promise<void> {
    try {
      await this.signaling.sendPeerMessage(to, payload);
    } catch (e) {
      this.log.warn('could not send a peer message', { to, type: payload.app_message_type, error: String(e) });
    }
  }

  private async onPeerMessage(from: string, payload: { app_message_type: string; [k: string]: unknown }): Promise<void> {
    if (linkProbe.safeParse(payload).success) return this.allowProbe(from);
    if (payload.app_message_type === 'job_cancel') {
      const job = typeof payload.job_id === 'string' ? this.jobs.get(payload.job_id) : undefined;
      if (job && job.clientPeerId === from) await job.cancel('cancelled by the client (job_cancel)');
      return;
    }
    if (payload.app_message_type === 'job_query') {
      const q = jobQuery.safeParse(payload);
      if (!q.success) return;
      const job = this.jobs.get(q.data.job_id);
      if (job && job.clientPeerId === from) await this.send(from, { app_message_type: 'job_status', job_id: job.jobId, status: job.events.status ?? 'accepted' });
      else await this.send(from, this.unknownJob(from, q.data.job_id));
      return;
    }
    if (payload.app_message_type !== 'job_request') return;
    const jobIdGuess = typeof payload.job_id === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(payload.job_id) ? payload.job_id : 'invalid';
    const refuse = (reason: string): Promise<void> => {
      this.log.info('job refused', { job_id: jobIdGuess, from, reason });
      return this.send(from, { app_message_type: 'job_response', job_id: jobIdGuess, accepted: false, reason });
    };
    const parsed = jobRequest.safeParse(payload);
    if (!parsed.success) return refuse(`bad_request: ${parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}`);
    const req = parsed.data;
    if (this.closing) return refuse('worker_shutting_down');
    if (req.room_id !== this.o.room) return refuse(`bad_request: this worker serves room ${this.o.room}, not ${req.room_id}`);
    // The server's own check of the keys it signs: another room, bucket or a key with empty,
    // ".", ".." or backslash segments is refused before anything is downloaded.
    try {
      keyInRoom(this.o.room, this.o.bucket, req.dataset.path);
    } catch (e) {
      if (!isAppError(e)) throw e;
      return refuse(`${e.code}: the dataset must be in s3://${this.o.bucket}/${roomPrefix(this.o.room)} (${e.message})`);
    }
    const asked = (payload.config as { trainer?: unknown } | undefined)?.trainer;
    if (asked !== undefined && asked !== this.o.trainer.kind) return refuse(`unsupported_trainer: this worker trains with ${this.o.trainer.kind}, not ${String(asked)}`);
    if (this.jobs.has(req.job_id)) return refuse(`duplicate_job: job ${req.job_id} is known to this worker already`);
    const waiting = this.waiting();
    const startNow = this.running < this.o.maxJobs && waiting.length === 0;
    if (!startNow && waiting.length >= this.o.queue) {
      return refuse(`worker_busy: ${this.running} job(s) running and ${this.o.queue === 0 ? 'no queue (--queue 0)' : `the queue full (${waiting.length} of ${this.o.queue})`}; try another worker, or again later`);
    }
    // Its place among the waiting jobs, as the round-robin between clients puts it.
    const position = startNow ? undefined : queueOrder([...waiting, { clientPeerId: from }], this.lastServed, this.tick).findIndex((j) => !(j instanceof JobRunner)) + 1;

    const job = new JobRunner(req, from, {
      s3: this.o.s3,
      bucket: this.o.bucket,
      room: this.o.room,
      workerId: this.o.peerId,
      cacheDir: this.o.cacheDir,
      jobsDir: this.o.jobsDir,
      eventsDir: this.eventsDir,
      trainer: this.o.trainer,
      log: this.log,
      notify: (p) => void this.send(from, p),
    }, position);
    this.jobs.set(req.job_id, job);
    this.log.info(startNow ? 'job accepted' : 'job queued', { job_id: req.job_id, from, ...(position ? { position } : {}), ...(req.seq_base ? { seq_base: req.seq_base } : {}) });
    void job.done.then(() => {
      this.startQueued();
      this.publishStatus();
      this.forgetOldJobs();
    });
    // The answer goes out before the job's first peer message (a fast job_failed).
    await this.send(from, { app_message_type: 'job_response', job_id: req.job_id, accepted: true, ...(position ? { position } : {}) });
    if (startNow) {
      this.lastServed.set(from, ++this.tick);
      job.start();
    } else this.reposition();
    this.publishStatus();
  }

  /** Starts waiting jobs while there are free slots (round-robin between clients), then tells the others their new places. */
  private startQueued(): void {
    if (this.closing) return;
    while (this.running < this.o.maxJobs) {
      const next = queueOrder(this.waiting(), this.lastServed, this.tick)[0];
      if (!next) break;
      this.lastServed.set(next.clientPeerId, ++this.tick);
      this.log.info('job leaves the queue', { job_id: next.jobId, client: next.clientPeerId });
      next.start();
    }
    this.reposition();
  }

  /** Each waiting job's place (1: next), as a `queued` status event when it changed. */
  private reposition(): void {
    queueOrder(this.waiting(), this.lastServed, this.tick).forEach((j, i) => j.moveTo(i + 1));
  }

  /** The answer about a job this worker does not have for `client` (it restarted since, or the job is another client's). */
  private unknownJob(client: string, jobId: string): { app_message_type: 'job_failed'; job_id: string; error: { code: string; message: string } } {
    this.log.info('asked about a job it does not have', { client, job_id: jobId });
    return { app_message_type: 'job_failed', job_id: jobId, error: { code: 'unknown_job', message: `worker ${this.o.peerId} has no job ${jobId} of yours (it may have restarted since); submit the job again` } };
  }

  private forgetOldJobs(): void {
    const finished = [...this.jobs.values()].filter((j) => j.finished);
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.jobs.delete(j.jobId);
      j.events.close();
    }
  }

  /** A client's offer: a new link for that client (replacing its previous one). Only clients with a job, or one link probe, may connect. */
  private async onOffer(from: string, sdp: string): Promise<void> {
    if (this.closing) return;
    const probe = this.probes.get(from);
    this.probes.delete(from);
    const probed = probe !== undefined && probe > Date.now();
    if (!probed && ![...this.jobs.values()].some((j) => j.clientPeerId === from)) {
      this.log.warn('ignored an offer from a peer with no job here', { from });
      return;
    }
    const old = this.links.get(from);
    if (old) this.dropLink(from, old.link);
    const link = new RtcLink({
      role: 'answerer',
      config: this.o.link,
      log: this.log,
      signal: {
        sendOffer: () => undefined,
        sendAnswer: (answer) => this.signaling.sendAnswer(from, answer),
        sendCandidate: (c) => this.signaling.sendCandidate(from, c),
      },
    });
    const entry: LinkEntry = { link, outbox: new LinkOutbox(link, { log: this.log }), follows: new Map<string, () => void>() };
    this.links.set(from, entry);
    link.onMessage((m) => this.onLinkMessage(from, entry, m));
    link.onClose((reason) => {
      this.log.info('client link closed', { client: from, reason });
      for (const off of entry.follows.values()) off();
      entry.follows.clear();
      if (this.links.get(from) === entry) this.links.delete(from);
    });
    try {
      await link.handleOffer(sdp);
    } catch (e) {
      this.log.warn('could not answer an offer', { from, error: String(e) });
      this.dropLink(from, link);
    }
  }

  /**
   * A `link_probe`: this peer's next offer is answered although it has no job here (one offer,
   * within LINK_PROBE_TTL_MS). At most MAX_PROBES wait at once, so a room member cannot make
   * the worker hold many links; the heartbeat ends a probe link its peer left open.
   */
  private allowProbe(from: string): void {
    const now = Date.now();
    for (const [peer, until] of this.probes) if (until <= now) this.probes.delete(peer);
    if (this.probes.size >= MAX_PROBES && !this.probes.has(from)) {
      this.log.warn('ignored a link probe: too many pending', { from });
      return;
    }
    this.probes.set(from, now + LINK_PROBE_TTL_MS);
  }

  private dropLink(peer: string, link: RtcLink): void {
    if (this.links.get(peer)?.link === link) this.links.delete(peer);
    link.close().catch(() => undefined);
  }

  private onLinkMessage(from: string, entry: LinkEntry, m: AppMessage): void {
    if (m.type === 'hello') {
      const job = this.jobs.get(m.job_id);
      if (!job || job.clientPeerId !== from) {
        this.log.warn('hello for a job this client does not own', { client: from, job_id: m.job_id });
        // Said plainly, so that a client re-attaching after a worker restart does not wait forever.
        void this.send(from, this.unknownJob(from, m.job_id));
        return;
      }
      entry.follows.get(m.job_id)?.();
      entry.follows.set(
        m.job_id,
        job.events.follow(
          m.after_seq,
          (e) => entry.outbox.push(e),
          (missed) => entry.outbox.pushAll(missed),
        ),
      );
      return;
    }
    if (m.type === 'command') {
      const job = this.jobs.get(m.job_id);
      const t0 = performance.now();
      void answerCommand(m, async (name) => {
        if (!job || job.clientPeerId !== from) throw new CommandRefused('unknown_job', `no job ${m.job_id} of yours on this worker`);
        await job.command(name);
      }).then((ack) => {
        this.log.info('command', { job_id: m.job_id, command: m.command, ok: ack.ok, error: ack.error, ms: Math.round(performance.now() - t0), queued: entry.outbox.pending });
        // Acks go ahead of queued events: the client waits on them, and matches them by id.
        entry.outbox.pushFirst(ack);
      });
    }
  }
}
