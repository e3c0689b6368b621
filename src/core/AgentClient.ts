import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentConnectionFile, agentHealthSchema, readAgentConnection, type AgentHealth } from './agentConnection.js';
import { AppError, type ErrorCode } from './errors.js';
import { errorBody } from './schemas/backend.js';

/** One server-sent event of the agent's /api/events. */
export interface AgentEvent {
  id?: string;
  event: string;
  data: unknown;
}

/**
 * A client of the local agent's HTTP API (what `sleap-rtc train`, the VS Code extension and
 * notebooks use): bearer token, JSON bodies, coded errors turned back into AppErrors, the SSE
 * stream as an async iterator. In core because the extension may not import agent code.
 */
export class AgentClient {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  /** The token from `<data>/agent/token` (written by the agent, mode 0600). */
  static tokenFrom(dataDir: string): string {
    const file = join(dataDir, 'agent', 'token');
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new AppError('config_invalid', `cannot read the agent's token ${file} (${(e as NodeJS.ErrnoException).code}): is the agent (or \`npm start\`) running with this data folder? (--data or SLEAP_RTC_DATA)`);
    }
  }

  /**
   * The agent of a data folder, from its connection file `<data>/agent/agent.json`. Throws
   * AppError unavailable, naming the file and how to start an agent, when none runs.
   */
  static fromConnection(dataDir: string): AgentClient {
    const c = readAgentConnection(dataDir);
    if (!c) throw noAgentError(dataDir, 'is missing, or names a process that has ended');
    return new AgentClient(c.url, c.token);
  }

  /**
   * The agent of a data folder when one really runs there: its connection file names a live pid
   * and /health at its URL answers with that pid. Undefined when none does, also for a stale file
   * whose pid was reused by another process (nothing listens at its URL, another agent or
   * another program does).
   * Throws what readAgentConnection throws, and AppError timeout for an agent that is hung.
   */
  static async running(dataDir: string, timeoutMs = 2000): Promise<{ client?: AgentClient; stale?: string }> {
    const c = readAgentConnection(dataDir);
    if (!c) return {};
    const client = new AgentClient(c.url, c.token);
    try {
      const h = await client.health(timeoutMs);
      if (h.pid === c.pid) return { client };
      return { stale: `it names pid ${c.pid}, but the agent at ${c.url} is pid ${h.pid}` };
    } catch (e) {
      if (e instanceof AppError && e.code === 'unavailable') return { stale: `it names pid ${c.pid}, but nothing answers at ${c.url}` };
      if (e instanceof AppError && e.code === 'upstream_error') return { stale: `it names pid ${c.pid}, but what answers at ${c.url} is not a sleap-rtc agent` };
      if (e instanceof AppError && e.code === 'timeout') throw new AppError('timeout', `the agent of the data folder ${dataDir} (pid ${c.pid}, ${c.url}) did not answer /health within ${timeoutMs} ms: it may be busy or hung; stop it (kill ${c.pid}) and start it again`);
      throw e;
    }
  }

  /** The running agent of a data folder (see running()); AppError unavailable saying how to start one when none runs. */
  static async connect(dataDir: string, timeoutMs = 2000): Promise<AgentClient> {
    const r = await AgentClient.running(dataDir, timeoutMs);
    if (r.client) return r.client;
    throw noAgentError(dataDir, r.stale ? `is stale: ${r.stale}` : 'is missing, or names a process that has ended');
  }

  /**
   * GET /health (no token): whether an agent answers at this URL, its version and pid. Throws
   * AppError timeout after `timeoutMs`, or unavailable with `details.errno` (ECONNREFUSED: nothing
   * listens there) when it cannot be reached.
   */
  async health(timeoutMs = 2000, signal?: AbortSignal): Promise<AgentHealth> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${this.url}/health`, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headers: { accept: 'application/json' } });
    } catch (e) {
      if (signal?.aborted) throw e;
      if (timeout.aborted) throw new AppError('timeout', `the agent at ${this.url} did not answer /health within ${timeoutMs} ms`);
      const errno = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      throw new AppError('unavailable', `the agent at ${this.url} is not reachable (${errno ?? (e as Error).message})`, { details: { errno } });
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    const h = agentHealthSchema.safeParse(body);
    if (!res.ok || !h.success) throw new AppError('upstream_error', `${this.url}/health answered HTTP ${res.status} without {status: "ok", version, pid}: it is not a sleap-rtc agent of this kind`);
    return h.data;
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new AppError('unavailable', `the agent at ${this.url} is not reachable (${(e as Error).cause ? String((e as { cause: unknown }).cause) : (e as Error).message}): start it with \`npm start\` or \`sleap-rtc agent\``);
    }
    const text = await res.text();
    const json: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const err = errorBody.safeParse(json);
      if (err.success) throw new AppError(err.data.error.code as ErrorCode, err.data.error.message, { details: err.data.error.details });
      throw new AppError('upstream_error', `the agent answered ${method} ${path} with HTTP ${res.status}`);
    }
    return json as T;
  }

  /**
   * Opens the agent's event stream; resolves once the agent accepted it (so nothing that happens
   * after this resolves is missed), with the events until `signal` aborts. With `lastEventId`
   * (the `id` of the last event a previous stream gave), the events since then come first, or an
   * `event: reset` when the agent no longer has them all.
   */
  async openEvents(signal: AbortSignal, lastEventId?: string): Promise<AsyncGenerator<AgentEvent>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await fetch(`${this.url}/api/events`, { headers, signal });
    if (!res.ok || !res.body) throw new AppError('upstream_error', `the agent refused the event stream: HTTP ${res.status}`);
    return readEvents(res.body as unknown as AsyncIterable<Uint8Array>, signal);
  }
}

/** The one line a client prints when no agent runs for a data folder: which folder, and how to start one. */
function noAgentError(dataDir: string, why: string): AppError {
  const file = agentConnectionFile(dataDir);
  return new AppError('unavailable', `no agent is running for the data folder ${dataDir} (${file} ${why}): start one with \`sleap-rtc agent --data ${dataDir}\` or \`sleap-rtc stack --data ${dataDir}\` (npm start), or give its URL with --agent`, { details: { file } });
}

async function* readEvents(body: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<AgentEvent> {
  const dec = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of body) {
      buf += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: AgentEvent = { event: 'message', data: undefined };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) ev.id = line.slice(4);
          else if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
        }
        if (ev.data !== undefined) yield ev;
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}
