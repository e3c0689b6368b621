import { z } from 'zod';
import { portSchema } from '../core/config.js';
import { AppError } from '../core/errors.js';
import { readSecretsFlag } from '../core/stackSecrets.js';
import { MAX_PART_SIZE, MIN_PART_SIZE } from '../core/schemas/backend.js';

const list = z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter(Boolean));

/** Shared by `sleap-rtc agent` and `sleap-rtc upload`: how to reach the backend, and the data folder. */
export const uploadClientSchema = z.object({
  data: z.string().min(1).optional(),
  server: z.string().url('the backend URL, e.g. http://127.0.0.1:8080 (--server or SLEAP_RTC_SERVER)'),
  /** The room token (better by env SLEAP_RTC_ROOM_TOKEN than on a command line). */
  roomToken: z.string().min(16).optional(),
  /** The stack's secrets JSON ({room_token, ...}), instead of --room-token. */
  stackSecrets: z.string().optional(),
  /** Parts in flight: 'auto' (adapted to the link, AdaptiveConcurrency) unless fixed here. */
  concurrency: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(64)], { error: "--concurrency is 'auto' or a whole number from 1 to 64" })
    .default('auto'),
  partSize: z.coerce.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).default(8 * 1024 * 1024),
  /**
   * Seconds a transfer waits for S3 or the backend when it does not answer (a restart, a network
   * change) before it fails; it goes on by itself if the endpoint answers within that time.
   */
  outageLimit: z.coerce.number().min(1).max(7 * 24 * 3600).default(3600),
});

const boolish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

export const agentConfigSchema = uploadClientSchema.extend({
  port: portSchema.default(8765),
  /** The signaling room (default: the stack secrets' room). */
  room: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'room ids are 1-64 letters, digits, ".", "_" or "-"').optional(),
  /** ICE servers as JSON ([{"urls": "stun:..."}]); none by default. */
  iceServers: z.union([z.string().transform((s) => JSON.parse(s) as unknown), z.array(z.unknown())]).optional(),
  /** Gather only 127.0.0.1 candidates (one-machine setups and tests). Default true, as the worker. */
  loopbackOnly: boolish.default(true),
  /** Seconds of DataChannel silence after which a worker's link is dead. */
  linkDeadAfter: z.coerce.number().min(0.1).max(600).default(5),
  /** Browser origins allowed to call the API ("http://localhost:3000,..."); default none. */
  allowedOrigins: list.optional(),
  /** Folders the API may upload from, watch and download into ("/data/lab,/scratch"); default anywhere. */
  allowedRoots: list.optional(),
  /** Seconds a watched file must stay unchanged before it is uploaded. */
  watchStability: z.coerce.number().min(0.05).max(600).default(1),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type UploadClientConfig = z.infer<typeof uploadClientSchema>;

/** The room: --room / SLEAP_RTC_ROOM, else the stack's secrets file; none means no jobs (uploads still work). */
export function resolveRoom(cfg: Pick<AgentConfig, 'room' | 'stackSecrets'>): string | undefined {
  if (cfg.room) return cfg.room;
  if (cfg.stackSecrets) return readSecretsFlag(cfg.stackSecrets).room_id;
  return undefined;
}

/** What job and model routes answer when the agent was started without a room. */
export function noRoomError(): AppError {
  return new AppError('config_invalid', 'this agent has no room, so it cannot submit jobs or read models: restart it with --room <id> (or SLEAP_RTC_ROOM), or --stack-secrets <data>/stack-secrets.json');
}

/** The room token: --room-token / SLEAP_RTC_ROOM_TOKEN, else the stack's secrets file. */
export function resolveRoomToken(cfg: Pick<UploadClientConfig, 'roomToken' | 'stackSecrets'>): string {
  if (cfg.roomToken) return cfg.roomToken;
  if (cfg.stackSecrets) return readSecretsFlag(cfg.stackSecrets).room_token;
  throw new AppError('config_invalid', 'no room token: set SLEAP_RTC_ROOM_TOKEN (or --room-token), or give --stack-secrets <data>/stack-secrets.json');
}
