import { AgentClient } from '../../core/AgentClient.js';
import { agentConnectionFile, readAgentConnection } from '../../core/agentConnection.js';
import { toAppError } from '../../core/errors.js';
import { VERSION } from '../../core/version.js';
import { failed, passed, type Finding } from './check.js';

/** The data folder's agent: its connection file, that it answers /health, and its version. */
export async function checkAgent(data: string): Promise<Finding> {
  const file = agentConnectionFile(data);
  const start = `start it with \`sleap-rtc agent --data ${data}\` or \`sleap-rtc stack --data ${data}\``;
  let conn;
  try {
    conn = readAgentConnection(data);
  } catch (e) {
    return failed(`${file}: ${toAppError(e).message}`, `stop whatever wrote it, delete it, and ${start}`);
  }
  if (!conn) return failed(`no agent runs for ${data}: ${file} is missing or names a process that has ended`, start);
  let health;
  try {
    health = await new AgentClient(conn.url, conn.token).health(3000);
  } catch (e) {
    return failed(`${conn.url} (pid ${conn.pid}, from ${file}): ${toAppError(e).message}`, `the agent may have hung or its pid been reused: stop pid ${conn.pid}, then ${start}`);
  }
  const what = `${conn.url} (v${health.version}, pid ${health.pid})`;
  // As AgentClient.running(): a file whose pid was reused names another folder's agent.
  if (health.pid !== conn.pid) return failed(`${file} is stale: it names pid ${conn.pid}, but the agent at ${conn.url} is pid ${health.pid}`, `delete ${file}, then ${start}`);
  if (health.version !== VERSION) return failed(`${what}: this sleap-rtc is v${VERSION}`, `restart the agent with this version (stop pid ${health.pid}, then ${start})`);
  return passed(what);
}
