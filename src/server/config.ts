import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { portSchema } from '../core/config.js';
import { AppError } from '../core/errors.js';
import { MAX_PART_SIZE, MIN_PART_SIZE } from '../core/schemas/backend.js';

const roomId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'room ids are 1-64 letters, digits, ".", "_" or "-"');
const boolish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')]);

export const serverConfigSchema = z.object({
  port: portSchema.default(8080),
  host: z.string().default('127.0.0.1'),
  s3Endpoint: z.string().url().optional(),
  /** Endpoint written into presigned URLs when clients reach S3 by another address than the server does. */
  s3PublicEndpoint: z.string().url().optional(),
  s3Region: z.string().default('us-east-1'),
  s3AccessKey: z.string().min(1, 'the S3 access key is required'),
  s3SecretKey: z.string().min(1, 'the S3 secret key is required'),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name').default('sleap-rtc'),
  /** "room=token,room2=token2" from a flag or env, or an object from the config file. */
  rooms: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
  roomsFile: z.string().optional(),
  urlTtl: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  partSize: z.coerce.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).default(100 * 1024 * 1024),
  createBucket: boolish.default(false),
  /** Signaling: seconds between server pings (sleap-rtc: 30). Optional so that code building a config in place need not give it. */
  pingInterval: z.coerce.number().min(0.05).max(3600).optional(),
  /** Signaling: seconds of silence after which a peer is dropped and its room told `peer_left` (default 2 ping intervals). */
  peerTimeout: z.coerce.number().min(0.1).max(7200).optional(),
  /** Signaling: browser origins allowed to open the WebSocket ("https://a,https://b"); default none. Native clients send no Origin. */
  allowedOrigins: z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter(Boolean)).optional(),
});
export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Room id -> token, from --rooms and --rooms-file; at least one room is required. */
export function resolveRooms(cfg: Pick<ServerConfig, 'rooms' | 'roomsFile'>): Map<string, string> {
  const rooms = new Map<string, string>();
  const add = (id: string, token: string, from: string): void => {
    const idOk = roomId.safeParse(id);
    if (!idOk.success) throw new AppError('config_invalid', `room "${id}" in ${from}: ${idOk.error.issues[0]?.message}`);
    if (token.length < 16) throw new AppError('config_invalid', `the token of room "${id}" in ${from} is shorter than 16 characters; use a long random token`);
    rooms.set(id, token);
  };
  if (typeof cfg.rooms === 'string') {
    for (const pair of cfg.rooms.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new AppError('config_invalid', `--rooms takes room_id=token pairs separated by commas; "${pair.slice(0, 20)}" has no "="`);
      add(pair.slice(0, eq), pair.slice(eq + 1), '--rooms');
    }
  } else if (cfg.rooms) {
    for (const [id, token] of Object.entries(cfg.rooms)) add(id, token, 'config file "rooms"');
  }
  if (cfg.roomsFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(cfg.roomsFile, 'utf8'));
    } catch (e) {
      throw new AppError('config_invalid', `cannot read --rooms-file ${cfg.roomsFile}: ${(e as Error).message}`);
    }
    const r = z.record(z.string(), z.string()).safeParse(parsed);
    if (!r.success) throw new AppError('config_invalid', `--rooms-file ${cfg.roomsFile} must hold {"<room_id>": "<token>", ...}`);
    for (const [id, token] of Object.entries(r.data)) add(id, token, cfg.roomsFile);
  }
  if (rooms.size === 0) throw new AppError('config_invalid', 'no rooms configured: give --rooms room_id=token (or SLEAP_RTC_ROOMS) or --rooms-file FILE');
  return rooms;
}
