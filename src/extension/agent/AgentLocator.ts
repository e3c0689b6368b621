import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../../core/AgentClient.js';
import { agentConnectionFile, readAgentConnection, type AgentConnection } from '../../core/agentConnection.js';
import { AppError, isAppError } from '../../core/errors.js';
import { readStackInfo, stackInfoFile } from '../../core/stackInfo.js';
import { VERSION } from '../../core/version.js';

export interface AgentLocatorOptions {
  /** The data folder (sleapRtc.dataFolder, else the default one). */
  dataDir: string;
  /** sleapRtc.agentUrl: an agent to use and never start (its token from the data folder). */
  agentUrl?: string;
  /** How long GET /health may take. Default 2 s. */
  healthTimeoutMs?: number;
  /** The version an agent must have to be used (default this build's). */
  expectedVersion?: string;
}

/** Where the agent is, as far as this client can tell. */
export type AgentLocation =
  /** An agent of our version answers. */
  | { kind: 'found'; client: AgentClient; pid: number; version: string; source: 'setting' | 'connection_file' }
  /** An agent answers, of another version: reported, never used. */
  | { kind: 'version_mismatch'; url: string; pid: number; version: string; expected: string; message: string }
  /** There is one (the setting names it, or a live process owns the connection file) but it cannot be used now. */
  | { kind: 'unreachable'; url?: string; message: string }
  /** No agent runs for the data folder: one may be started. */
  | { kind: 'none'; message: string };

/** The settings that shape a new agent (read again at each start: they may have changed). */
export interface AgentLaunchSettings {
  /** sleapRtc.serverUrl; else the local stack's (`<data>/stack.json`). */
  serverUrl?: string;
  /** sleapRtc.room; else the local stack's room. */
  room?: string;
  /** From the extension's SecretStorage; else `<data>/stack-secrets.json` when it exists. */
  roomToken?: string;
  partSize?: number;
  concurrency?: number;
}

/** The flags after `agent --data <dir>`, and the environment entries to set (undefined: remove). */
export interface AgentLaunch {
  args: string[];
  env: Record<string, string | undefined>;
}

/**
 * Decides where the agent of a data folder is, and how a new one is started. The rules: an
 * explicit sleapRtc.agentUrl wins (and is never started by us); else the connection file names
 * the agent, whose /health must answer with the same pid (a pid alone can be reused) and whose
 * version must be ours; else there is none.
 */
export class AgentLocator {
  private readonly expected: string;

  constructor(readonly o: AgentLocatorOptions) {
    this.expected = o.expectedVersion ?? VERSION;
  }

  get dataDir(): string {
    return this.o.dataDir;
  }

  /** Whether this client may start (and restart) agents: not when the user named one. */
  get mayStart(): boolean {
    return !this.o.agentUrl;
  }

  async locate(): Promise<AgentLocation> {
    return this.o.agentUrl ? this.fromSetting(this.o.agentUrl.replace(/\/+$/, '')) : this.fromConnectionFile();
  }

  private async fromSetting(url: string): Promise<AgentLocation> {
    let conn: AgentConnection | undefined;
    try {
      conn = readAgentConnection(this.o.dataDir);
    } catch (e) {
      return { kind: 'unreachable', url, message: (e as Error).message };
    }
    const token = conn?.token ?? readToken(join(this.o.dataDir, 'agent', 'token'));
    if (!token) {
      return { kind: 'unreachable', url, message: `sleapRtc.agentUrl is ${url}, but there is no token for it: copy that agent's token (its <data>/agent/token) into ${join(this.o.dataDir, 'agent', 'token')}, or set sleapRtc.dataFolder to that agent's data folder` };
    }
    const client = new AgentClient(url, token);
    let h;
    try {
      h = await client.health(this.o.healthTimeoutMs);
    } catch (e) {
      return { kind: 'unreachable', url, message: `the agent at ${url} (sleapRtc.agentUrl) does not answer: ${(e as Error).message}; start it, or clear sleapRtc.agentUrl to let the extension find or start one` };
    }
    if (h.version !== this.expected) return this.mismatch(url, h.pid, h.version, 'sleapRtc.agentUrl');
    return { kind: 'found', client, pid: h.pid, version: h.version, source: 'setting' };
  }

  private async fromConnectionFile(): Promise<AgentLocation> {
    const file = agentConnectionFile(this.o.dataDir);
    let conn: AgentConnection | undefined;
    try {
      conn = readAgentConnection(this.o.dataDir);
    } catch (e) {
      return { kind: 'unreachable', message: (e as Error).message };
    }
    if (!conn) return { kind: 'none', message: `no agent is running for ${this.o.dataDir} (no live ${file})` };
    // Not probed first: an agent of another version may answer /health differently, or not at all.
    if (conn.version !== this.expected) return this.mismatch(conn.url, conn.pid, conn.version, file);
    const client = new AgentClient(conn.url, conn.token);
    try {
      const h = await client.health(this.o.healthTimeoutMs);
      if (h.pid === conn.pid) return { kind: 'found', client, pid: conn.pid, version: conn.version, source: 'connection_file' };
      return { kind: 'none', message: `${file} names pid ${conn.pid}, but the agent at ${conn.url} is pid ${h.pid}: the file is stale` };
    } catch (e) {
      // Nothing listens there: the pid was reused by another process, the file is stale.
      if (isAppError(e, 'unavailable') && e.details?.errno === 'ECONNREFUSED') return { kind: 'none', message: `${file} names pid ${conn.pid}, but nothing listens at ${conn.url}: the file is stale` };
      return { kind: 'unreachable', url: conn.url, message: `the agent (pid ${conn.pid}) at ${conn.url} does not answer: ${(e as Error).message}. It may be busy or hung: run SLEAP: Restart Agent` };
    }
  }

  private mismatch(url: string, pid: number, version: string, where: string): AgentLocation {
    return {
      kind: 'version_mismatch',
      url,
      pid,
      version,
      expected: this.expected,
      message: `the agent at ${url} (pid ${pid}, from ${where}) is version ${version}, but this extension is version ${this.expected}, so it is not used: run SLEAP: Restart Agent to replace it with version ${this.expected}, or stop it and reload the window`,
    };
  }

  /**
   * The pid of the agent that a restart would stop (undefined: none runs, or its file cannot be
   * trusted, and the new agent replaces it or fails on the agent's lock and says so). Throws
   * AppError conflict for an agent this client must not stop: one the settings name, or one
   * running inside `sleap-rtc stack` (stopping it would stop the whole stack).
   */
  replaceablePid(): number | undefined {
    if (this.o.agentUrl) throw new AppError('conflict', `sleapRtc.agentUrl is set (${this.o.agentUrl}): this window does not stop or start that agent; restart it where it runs, or clear the setting`);
    let pid: number | undefined;
    let stackPid: number | undefined;
    try {
      pid = readAgentConnection(this.o.dataDir)?.pid;
      stackPid = readStackInfo(this.o.dataDir)?.pid;
    } catch {
      // An untrusted file: see above.
    }
    if (pid !== undefined && pid === stackPid) throw new AppError('conflict', `the agent runs inside \`sleap-rtc stack\` (pid ${pid}): restart the stack, or run it with --no-agent so that the extension runs its own agent`);
    return pid;
  }

  /**
   * How to start a new agent for the data folder. Throws AppError config_invalid when nothing
   * says where the server is, or when there is no room token. The token goes by environment,
   * never on the command line (which other users can read).
   */
  launch(s: AgentLaunchSettings): AgentLaunch {
    const stack = readStackInfo(this.o.dataDir);
    const server = (s.serverUrl || stack?.server_url)?.replace(/\/+$/, '');
    if (!server) throw new AppError('config_invalid', `no server: set sleapRtc.serverUrl, or start the local stack (SLEAP: Start Local Stack), which writes ${stackInfoFile(this.o.dataDir)}`);
    // The local stack's room and token fit its own server only, not one the settings name.
    const otherServer = stack !== undefined && server !== stack.server_url.replace(/\/+$/, '');
    const args = ['--port', '0', '--server', server];
    const room = s.room || (otherServer ? undefined : stack?.room);
    if (room) args.push('--room', room);
    const secrets = join(this.o.dataDir, 'stack-secrets.json');
    // An inherited SLEAP_RTC_ROOM_TOKEN would win over --stack-secrets in the agent: removed then.
    const env: Record<string, string | undefined> = { SLEAP_RTC_ROOM_TOKEN: s.roomToken || undefined };
    if (!s.roomToken) {
      if (otherServer || !existsSync(secrets)) throw new AppError('config_invalid', `no room token for ${server}: set it with SLEAP: Set Room Token${otherServer ? ` (the local stack's token in ${secrets} is for its own server, ${stack.server_url})` : `, or start the local stack (SLEAP: Start Local Stack), which keeps it in ${secrets}`}`);
      args.push('--stack-secrets', secrets);
    }
    if (s.partSize !== undefined) args.push('--part-size', String(s.partSize));
    if (s.concurrency !== undefined) args.push('--concurrency', String(s.concurrency));
    return { args, env };
  }
}

function readToken(file: string): string | undefined {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t.length >= 16 ? t : undefined;
  } catch {
    return undefined;
  }
}
