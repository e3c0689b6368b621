import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, type ErrorCode } from '../core/errors.js';
import { errorBody } from '../core/schemas/backend.js';

/** One server-sent event of the agent's /api/events. */
export interface AgentEvent {
  id?: string;
  event: string;
  data: unknown;
}

/**
 * A client of the local agent's HTTP API (what `sleap-rtc train` and notebooks use): bearer
 * token from the agent's token file, JSON bodies, coded errors turned back into AppErrors, and
 * the SSE stream as an async iterator.
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
