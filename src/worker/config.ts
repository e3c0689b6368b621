import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { readSecretsFlag, type StackSecrets } from '../core/stackSecrets.js';
import { trainerKind } from '../core/schemas/jobs.js';
import { roomIdSchema } from '../core/schemas/signaling.js';

const boolish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')]);
const argvList = z.union([z.string().transform((s) => JSON.parse(s) as unknown), z.array(z.string())]).pipe(z.array(z.string()).min(1));

/** `sleap-rtc worker`: flags > SLEAP_RTC_* environment > --config file. Secrets come by environment or files. */
export const workerConfigSchema = z.object({
  /** The server: http://host:port (signaling is ws://host:port/ws) or the ws:// URL itself. */
  server: z.string().url('the server URL, e.g. http://127.0.0.1:8080'),
  room: roomIdSchema.optional(),
  /** SLEAP_RTC_ROOM_TOKEN; or --stack-secrets. */
  roomToken: z.string().min(1).optional(),
  /** A `sleap-rtc stack` secrets file: room, room token and store keys. */
  stackSecrets: z.string().optional(),
  s3Endpoint: z.string().url().optional(),
  s3Region: z.string().default('us-east-1'),
  s3AccessKey: z.string().min(1).optional(),
  s3SecretKey: z.string().min(1).optional(),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name').default('sleap-rtc'),
  trainer: trainerKind.default('builtin'),
  /** sleap-nn trainer: argv prefix as a JSON array, default ["sleap-nn"]. */
  sleapNnCommand: argvList.optional(),
  /** command trainer: argv as a JSON array with {dataset} {outDir} {config} {jobId} placeholders. */
  trainerCommand: argvList.optional(),
  maxJobs: z.coerce.number().int().min(1).max(64).default(1),
  /** Jobs that wait for a free slot, in a FIFO per client, round-robin between clients; 0: a busy worker refuses. */
  queue: z.coerce.number().int().min(0).max(1000).default(16),
  peerId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/).optional(),
  /** The data folder: <data>/worker holds the peer id, cache/ and jobs/. Default: the installation's data folder. */
  data: z.string().optional(),
  /** ICE servers as JSON ([{"urls": "stun:..."}]); none by default. */
  iceServers: z.union([z.string().transform((s) => JSON.parse(s) as unknown), z.array(z.unknown())]).optional(),
  /** Gather only 127.0.0.1 candidates (one-machine setups and tests). Default true for now. */
  loopbackOnly: boolish.default(true),
  /** Seconds of DataChannel silence after which a client link is dead. */
  linkDeadAfter: z.coerce.number().min(0.1).max(600).default(10),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export interface ResolvedSecrets {
  room: string;
  roomToken: string;
  s3AccessKey: string;
  s3SecretKey: string;
}

/** Room, token and S3 keys from the config, completed by a stack secrets file; each one required. */
export function resolveSecrets(cfg: WorkerConfig): ResolvedSecrets {
  const fromFile: StackSecrets | undefined = cfg.stackSecrets ? readSecretsFlag(cfg.stackSecrets) : undefined;
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new AppError('config_invalid', `${what} is required`);
    return v;
  };
  return {
    room: need(cfg.room ?? fromFile?.room_id, 'the room (--room or SLEAP_RTC_ROOM)'),
    roomToken: need(cfg.roomToken ?? fromFile?.room_token, 'the room token (SLEAP_RTC_ROOM_TOKEN or --stack-secrets)'),
    s3AccessKey: need(cfg.s3AccessKey ?? fromFile?.access_key, 'the S3 access key (SLEAP_RTC_S3_ACCESS_KEY or --stack-secrets)'),
    s3SecretKey: need(cfg.s3SecretKey ?? fromFile?.secret_key, 'the S3 secret key (SLEAP_RTC_S3_SECRET_KEY or --stack-secrets)'),
  };
}

/** ws://host/ws from http://host (wss from https); a ws(s):// URL is kept. */
export function signalingUrlOf(server: string): string {
  const u = new URL(server);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.toString();
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AppError('config_invalid', `--server must be http(s):// or ws(s)://, not ${u.protocol}`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ws';
  return u.toString();
}

/**
 * The environment trainer processes run with: the worker's own, less its secrets (room token,
 * S3 keys, all SLEAP_RTC_*): a training script has no business with them.
 */
export function trainerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('SLEAP_RTC_')));
}
