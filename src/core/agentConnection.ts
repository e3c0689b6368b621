import { join } from 'node:path';
import { z } from 'zod';
import { readLiveJson } from './privateJson.js';

/**
 * `<data>/agent/agent.json`: how every client (the VS Code extension in each window, `sleap-rtc
 * train`, notebooks) finds the agent of a data folder, whatever port it got. The agent writes it
 * (mode 0600, atomically) once it answers requests, and removes it when it stops cleanly; after
 * a crash or kill -9 the file stays, and its dead pid marks it stale.
 */
export const agentConnectionSchema = z.object({
  url: z.string().url(),
  /** The bearer token of /api/* (the same as `<data>/agent/token`). */
  token: z.string().min(16),
  pid: z.number().int().positive(),
  /** The agent's package version; a client of another version reports it instead of using it. */
  version: z.string().min(1),
});
export type AgentConnection = z.infer<typeof agentConnectionSchema>;

/** GET /health (no token): that an agent answers here, which one, of which version. */
export const agentHealthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  pid: z.number().int(),
});
export type AgentHealth = z.infer<typeof agentHealthSchema>;

export function agentConnectionFile(dataDir: string): string {
  return join(dataDir, 'agent', 'agent.json');
}

/**
 * The running agent of `dataDir`, or undefined when none: no file, a file that is not JSON, or
 * one whose process has ended (stale). Throws AppError config_invalid for a live process's file
 * that does not match the schema, and forbidden for one that is not private to this user
 * (rules in readLiveJson). The pid being alive does not prove the agent answers (the pid may
 * have been reused): callers check GET /health.
 */
export function readAgentConnection(dataDir: string): AgentConnection | undefined {
  return readLiveJson(agentConnectionFile(dataDir), agentConnectionSchema, { what: 'agent connection file ({url, token, pid, version})', private: true });
}
