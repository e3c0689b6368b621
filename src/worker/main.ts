import { join, resolve } from 'node:path';
import { loadCommandConfig } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { dataHome } from '../core/paths.js';
import { makeS3Client } from '../core/s3client.js';
import { runUntilSignal } from '../core/service.js';
import { iceServer } from '../core/rtc/linkConfig.js';
import { AppError } from '../core/errors.js';
import { resolveSecrets, signalingUrlOf, trainerEnvironment, workerConfigSchema, type WorkerConfig } from './config.js';
import { detectGpu, loadPeerId } from './identity.js';
import { createTrainer, type TrainersConfig } from './trainers/index.js';
import { Worker } from './Worker.js';

export const WORKER_VERSION = '0.1.0';

export async function runWorker(flags: Record<string, unknown>): Promise<void> {
  const cfg = loadCommandConfig(workerConfigSchema, flags);
  const log = createLogger('worker');
  const worker = await buildWorker(cfg, log, process.env);
  worker.signaling.onClosed((err) => {
    if (!err) return;
    // Refused for good (token revoked, peer id taken over): a worker nobody can reach ends.
    log.error('signaling stopped for good; exiting', { error: err.message });
    void worker.close().finally(() => process.exit(1));
  });
  await worker.start();
  process.stdout.write(`worker ${worker.peerId} registered in room ${worker.room}\n`);
  log.info('worker ready', { peer_id: worker.peerId, room: worker.room, trainer: cfg.trainer, max_jobs: cfg.maxJobs, queue: cfg.queue });
  await runUntilSignal({ close: () => worker.close() }, log, 20_000);
}

/** Builds and starts a worker in this process (what `sleap-rtc stack` runs). */
export async function startWorker(cfg: WorkerConfig, log: ReturnType<typeof createLogger>, env: NodeJS.ProcessEnv): Promise<Worker> {
  const worker = await buildWorker(cfg, log, env);
  await worker.start();
  return worker;
}

async function buildWorker(cfg: WorkerConfig, log: ReturnType<typeof createLogger>, env: NodeJS.ProcessEnv): Promise<Worker> {
  const secrets = resolveSecrets(cfg);
  const dir = cfg.data ? resolve(cfg.data) : join(dataHome(undefined, env), 'worker');
  const peerId = await loadPeerId(dir, cfg.peerId);
  const trainerEnv = trainerEnvironment(env);
  const trainersCfg: TrainersConfig = { logger: log, sleapNn: { env: trainerEnv, ...(cfg.sleapNnCommand ? { command: cfg.sleapNnCommand } : {}) } };
  if (cfg.trainerCommand) trainersCfg.command = { argv: cfg.trainerCommand, env: trainerEnv };
  const trainer = createTrainer(cfg.trainer, trainersCfg);
  const ice = iceServer.array().safeParse(cfg.iceServers ?? []);
  if (!ice.success) throw new AppError('config_invalid', `--ice-servers: ${ice.error.issues[0]?.message}; give a JSON list like [{"urls":"stun:host:3478"}]`);
  const s3 = makeS3Client({ endpoint: cfg.s3Endpoint, region: cfg.s3Region, accessKeyId: secrets.s3AccessKey, secretAccessKey: secrets.s3SecretKey });
  return new Worker({
    peerId,
    room: secrets.room,
    roomToken: secrets.roomToken,
    signalingUrl: signalingUrlOf(cfg.server),
    s3,
    bucket: cfg.bucket,
    trainer,
    maxJobs: cfg.maxJobs,
    queue: cfg.queue,
    cacheDir: join(dir, 'cache'),
    jobsDir: join(dir, 'jobs'),
    gpu: await detectGpu(),
    versions: { sleap_rtc: WORKER_VERSION, node: process.version },
    link: { iceServers: ice.data, loopbackOnly: cfg.loopbackOnly, deadAfterMs: Math.round(cfg.linkDeadAfter * 1000) },
    log,
  });
}
