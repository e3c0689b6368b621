import { agentConnectionFile, type AgentConnection } from '../core/agentConnection.js';
import { removeIfOwned, writePrivateJson } from '../core/privateJson.js';
import { VERSION } from '../core/version.js';

/**
 * The agent's side of `<data>/agent/agent.json` (schema and reader in core/agentConnection):
 * written once the agent answers requests, with the port it really got (also for --port 0), so
 * that clients need not guess; removed at a clean stop, only while it still names this process.
 */
export function writeAgentConnection(dataDir: string, where: Pick<AgentConnection, 'url' | 'token'>): string {
  const file = agentConnectionFile(dataDir);
  writePrivateJson(file, { url: where.url, token: where.token, pid: process.pid, version: VERSION } satisfies AgentConnection);
  return file;
}

export function removeAgentConnection(dataDir: string): void {
  removeIfOwned(agentConnectionFile(dataDir));
}
