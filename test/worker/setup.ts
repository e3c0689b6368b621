import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { JobChannel } from '../../src/core/jobs/index.js';
import { silentLogger } from '../../src/core/log.js';
import { RtcLink } from '../../src/core/rtc/RtcLink.js';
import { makeS3Client } from '../../src/core/s3client.js';
import { SignalingClient } from '../../src/core/signaling/SignalingClient.js';
import { sha256File, uploadFile } from '../../src/core/transfer/index.js';
import { spawnCli, type Spawned } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from '../support/server.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';
import { waitFor } from '../support/wait.js';

/** The one setup of the worker tests: embedded store + `sleap-rtc server` + `sleap-rtc worker`, and a client. */
export interface WorkerEnv {
  store: EmbeddedStoreTarget;
  server: ServerProcess;
  worker: Spawned;
  workerId: string;
  dataDir: string;
  s3: S3Client;
  client: SignalingClient;
  /** Peer messages the client received, in order. */
  inbox: Array<{ from: string; payload: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startWorkerEnv(extraArgs: string[] = []): Promise<WorkerEnv> {
  const store = await startEmbeddedStore();
  const server = await startServerProcess(store);
  const dataDir = await mkdtemp(join(tmpdir(), 'sleap-rtc-worker-'));
  const worker = await spawnCli(
    ['worker', '--server', server.url, '--room', 'lab', '--s3-endpoint', store.endpoint, '--s3-region', store.region, '--bucket', server.bucket, '--data', dataDir, '--trainer', 'builtin', '--link-dead-after', '10', ...extraArgs],
    {
      waitFor: /worker (\S+) registered in room lab/,
      env: { SLEAP_RTC_CONFIG: '', SLEAP_RTC_ROOM_TOKEN: server.rooms.lab, SLEAP_RTC_S3_ACCESS_KEY: store.accessKeyId, SLEAP_RTC_S3_SECRET_KEY: store.secretAccessKey },
    },
  );
  const s3 = makeS3Client(store);
  const client = new SignalingClient({ url: server.url, peerId: `client-${randomBytes(3).toString('hex')}`, role: 'client', roomId: 'lab', token: server.rooms.lab, backoff: { initialMs: 100, maxMs: 1000 }, requestTimeoutMs: 5000 });
  const inbox: WorkerEnv['inbox'] = [];
  client.onPeerMessage((m) => inbox.push({ from: m.from_peer_id, payload: m.payload }));
  await client.connect();
  return {
    store,
    server,
    worker,
    workerId: worker.line[1],
    dataDir,
    s3,
    client,
    inbox,
    async stop() {
      await client.close();
      await worker.stop();
      await server.stop();
      s3.destroy();
      await store.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Uploads a labels file with the transfer engine (direct S3) under the room's datasets; returns its dataset ref. */
export async function uploadDataset(env: WorkerEnv, path: string): Promise<{ type: 's3'; path: string; size_bytes: number; checksum: string }> {
  const key = `rooms/lab/datasets/${randomBytes(4).toString('hex')}/${basename(path)}`;
  await uploadFile({ path, target: { kind: 's3', s3: env.s3, bucket: env.server.bucket, key } });
  const { sha256, size } = await sha256File(path);
  return { type: 's3', path: `s3://${env.server.bucket}/${key}`, size_bytes: size, checksum: `sha256:${sha256}` };
}

/** The first peer message (already received or to come) matching `pred`. */
export async function waitPeerMessage(env: WorkerEnv, pred: (p: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> {
  const hit = await waitFor(() => env.inbox.find((m) => pred(m.payload)), 'a matching peer message', ms, { intervalMs: 20, lastSeen: () => `inbox ${JSON.stringify(env.inbox.map((m) => m.payload))}` });
  return hit.payload;
}

export async function submit(env: WorkerEnv, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  await env.client.sendPeerMessage(env.workerId, { app_message_type: 'job_request', room_id: 'lab', ...request });
  return waitPeerMessage(env, (p) => p.app_message_type === 'job_response' && p.job_id === (typeof request.job_id === 'string' ? request.job_id : 'invalid'));
}

/** The client's side of one WebRTC connection to the worker (the client offers). */
export async function openLink(env: WorkerEnv): Promise<RtcLink> {
  const target = env.workerId;
  const link = new RtcLink({
    role: 'offerer',
    // Generous: the burst test loads both cores, and a starved heartbeat must not end the link.
    config: { loopbackOnly: true, deadAfterMs: 10_000 },
    log: silentLogger,
    signal: {
      sendOffer: (sdp) => env.client.sendOffer(target, sdp),
      sendAnswer: (sdp) => env.client.sendAnswer(target, sdp),
      sendCandidate: (c) => env.client.sendCandidate(target, c),
    },
  });
  const onAnswer = (m: { sender: string; sdp: string }): void => {
    if (m.sender === target) void link.handleAnswer(m.sdp).catch(() => undefined);
  };
  const onCandidate = (m: { sender: string; candidate: unknown }): void => {
    if (m.sender === target) void link.handleCandidate(m.candidate).catch(() => undefined);
  };
  const offs = [env.client.onAnswer(onAnswer), env.client.onCandidate(onCandidate)];
  link.onClose(() => {
    for (const off of offs) off();
  });
  await link.start();
  await link.waitOpen();
  return link;
}

export function channel(jobId: string): JobChannel {
  return new JobChannel(jobId, { log: silentLogger, commandTimeoutMs: 10_000 });
}

/** A builtin-trainer config that runs for minutes unless stopped (an epoch every few hundred ms). */
export const longConfig = { trainer: 'builtin', trainer_config: { max_epochs: 100_000, min_train_steps_per_epoch: 3000 } };
/** A builtin-trainer config that completes in well under a second. */
export const shortConfig = { trainer: 'builtin', trainer_config: { max_epochs: 3, min_train_steps_per_epoch: 10 } };
/** Hundreds of epochs a second: a stress for the event stream. */
export const burstConfig = { trainer: 'builtin', trainer_config: { max_epochs: 100_000, min_train_steps_per_epoch: 30 } };
