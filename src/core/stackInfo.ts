import { join } from 'node:path';
import { z } from 'zod';
import { readLiveJson, removeIfOwned, writePrivateJson } from './privateJson.js';
import { VERSION } from './version.js';

/**
 * `<data>/stack.json`, written by `sleap-rtc stack` once every part runs and removed when it
 * stops: where the local stack's server and store are and which room it made, so that other
 * tools (the VS Code extension starting its own agent, scripts) need not be told. No secrets:
 * those stay in `<data>/stack-secrets.json`.
 */
export const stackInfoSchema = z.object({
  server_url: z.string().url(),
  store_url: z.string().url(),
  room: z.string().min(1),
  pid: z.number().int().positive(),
  version: z.string().min(1),
});
export type StackInfo = z.infer<typeof stackInfoSchema>;

export function stackInfoFile(dataDir: string): string {
  return join(dataDir, 'stack.json');
}

/** The running stack of `dataDir`, or undefined (no file, not JSON, or its process ended). */
export function readStackInfo(dataDir: string): StackInfo | undefined {
  return readLiveJson(stackInfoFile(dataDir), stackInfoSchema, { what: 'stack file ({server_url, store_url, room, pid, version})', private: false });
}

/** Written by the stack's own process (its pid and version). */
export function writeStackInfo(dataDir: string, info: Pick<StackInfo, 'server_url' | 'store_url' | 'room'>): string {
  const file = stackInfoFile(dataDir);
  writePrivateJson(file, { ...info, pid: process.pid, version: VERSION } satisfies StackInfo);
  return file;
}

export function removeStackInfo(dataDir: string): void {
  removeIfOwned(stackInfoFile(dataDir));
}
