import { AgentClient } from '../../core/AgentClient.js';
import { AppError, isAppError, toAppError } from '../../core/errors.js';
import { processAlive } from '../../core/processAlive.js';
import { Emitter, type Subscribe } from '../../core/Emitter.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../../core/backoff.js';
import { AgentProcess, type AgentStartOptions } from './AgentProcess.js';
import type { AgentLaunchSettings, AgentLocator } from './AgentLocator.js';
import { tryLaunchLock } from './LaunchLock.js';

/** What the extension shows about its agent. */
export type AgentSupervisorState = 'searching' | 'starting' | 'connected' | 'restarting' | 'unreachable' | 'version_mismatch' | 'stopped';

export interface AgentSupervisorStateChange {
  state: AgentSupervisorState;
  /** What is going on, in words for the user (names the agent, the error, what to do). */
  message?: string;
}

export interface AgentSupervisorOptions {
  locator: AgentLocator;
  /** sleapRtc.autoStartAgent (a function: read at each decision, the setting may change). */
  autoStart: boolean | (() => boolean);
  /** The settings for a new agent, read at each start. */
  launchSettings: () => AgentLaunchSettings | Promise<AgentLaunchSettings>;
  /** The Node that runs the agent (the extension: process.execPath) and the bundled CLI. */
  nodePath: string;
  cliPath: string;
  /** The agent's base environment (the extension: process.env + ELECTRON_RUN_AS_NODE=1). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** /health poll while connected. Default 2 s. */
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  /** How often to look again while unreachable or mismatched (another window may start one). Default 2 s. */
  searchIntervalMs?: number;
  /** How often to look while another window is starting the agent. Default 250 ms. */
  waitIntervalMs?: number;
  startTimeoutMs?: number;
  /** restart(): how long the old agent may take to stop on SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  /** Restarts after a death are spaced by core's backoffDelay with these options. */
  backoff?: BackoffOptions;
  random?: () => number;
  /** An agent connected this long has its restart backoff reset. Default 60 s. */
  stableMs?: number;
  /** How a process is started (tests count the starts). Default AgentProcess.start. */
  startProcess?: (o: AgentStartOptions) => Promise<AgentProcess>;
  log?: (line: string) => void;
}

interface Current {
  client: AgentClient;
  pid: number;
  version: string;
  source: 'setting' | 'connection_file';
  since: number;
}

/**
 * The agent as one window keeps it: finds it (AgentLocator), starts it when none runs and
 * autoStart allows (one window at a time: LaunchLock), watches it by /health polling and by
 * being told when an event stream ended (check()), and when it dies restarts it with backoff,
 * or, when this window may not start agents, looks for one another window started. Every step
 * runs in one queue, so no two decisions overlap.
 */
export class AgentSupervisor {
  private st: AgentSupervisorState = 'searching';
  private msg: string | undefined;
  private current: Current | undefined;
  private child: AgentProcess | undefined;
  private failures = 0;
  private attempt = 0;
  private nextStartAt = 0;
  private lastStartError: AppError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private checkQueued = false;
  /** Set while another window holds the launch lock (is starting the agent). */
  private waiting = false;
  private disposed = false;
  private readonly changed = new Emitter<AgentSupervisorStateChange>((e) => this.log(`a state listener failed: ${String(e)}`));

  readonly onDidChangeState: Subscribe<AgentSupervisorStateChange> = this.changed.event;

  constructor(private readonly o: AgentSupervisorOptions) {}

  get state(): AgentSupervisorState {
    return this.st;
  }

  get message(): string | undefined {
    return this.msg;
  }

  /** The client of the agent while connected. */
  get client(): AgentClient | undefined {
    return this.st === 'connected' ? this.current?.client : undefined;
  }

  /** Which agent we are connected to. */
  get agent(): { url: string; pid: number; version: string } | undefined {
    const c = this.st === 'connected' ? this.current : undefined;
    return c && { url: c.client.url, pid: c.pid, version: c.version };
  }

  /** Finds the agent, else starts one (autoStart), now; the client, or undefined with the reason in `message`. */
  async ensure(): Promise<AgentClient | undefined> {
    if (this.disposed) throw new AppError('unavailable', 'the agent supervisor was disposed (the window is closing)');
    if (this.client) return this.client;
    // While another window is starting the agent, its agent is the answer: wait for it.
    const end = Date.now() + (this.o.startTimeoutMs ?? 60_000);
    for (;;) {
      await this.enqueue(() => (this.client ? Promise.resolve() : this.step(true)));
      if (this.client || !this.waiting || this.disposed || Date.now() > end) return this.client;
      await new Promise((r) => setTimeout(r, this.o.waitIntervalMs ?? 250));
    }
  }

  /** ensure(), for commands: the client, or an AppError whose message is the state's (what is wrong, what to do). */
  async ensureClient(): Promise<AgentClient> {
    const c = await this.ensure();
    if (c) return c;
    throw new AppError(this.st === 'version_mismatch' ? 'conflict' : 'unavailable', this.msg ?? `the agent is ${this.st}`);
  }

  /** Checks at once that the agent still runs (an event stream ended, a request failed). */
  check(): void {
    if (this.disposed || this.checkQueued || !this.current) return;
    this.checkQueued = true;
    void this.enqueue(() => {
      this.checkQueued = false;
      return this.step(false);
    }).catch(() => undefined);
  }

  /**
   * Stops the agent of the connection file (whichever window started it) and starts a new one,
   * even when autoStart is off. Refused for an agent that the settings name or that runs inside
   * `sleap-rtc stack` (stopping it would stop the whole stack).
   */
  async restart(): Promise<AgentClient> {
    await this.enqueue(async () => {
      const pid = this.o.locator.replaceablePid();
      this.clearTimer();
      this.drop();
      this.set('restarting', pid !== undefined ? `stopping the agent (pid ${pid})` : 'starting the agent');
      try {
        if (pid !== undefined) await AgentProcess.stop(pid, { graceMs: this.o.stopGraceMs, dataDir: this.o.locator.dataDir });
      } catch (e) {
        this.set('unreachable', toAppError(e).message);
        this.schedule(this.o.searchIntervalMs ?? 2000);
        throw e;
      }
      this.attempt = 0;
      this.nextStartAt = 0;
      // Another window that saw the agent go may be starting one: then that one is ours too.
      const end = Date.now() + (this.o.startTimeoutMs ?? 60_000);
      while ((await this.start()) === 'waiting' && Date.now() < end && !this.disposed) await new Promise((r) => setTimeout(r, this.o.waitIntervalMs ?? 250));
      if (!this.current) throw this.lastStartError ?? new AppError('unavailable', this.msg ?? 'the agent did not start');
    });
    return this.client!;
  }

  /** Stops watching; the agent keeps running for the other windows. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.clearTimer();
    this.drop();
    this.set('stopped', undefined);
    this.disposed = true;
    this.changed.dispose();
  }

  // ---- the steps -------------------------------------------------------------------------------

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.queue.then(fn);
    this.queue = r.then(
      () => undefined,
      (e: unknown) => this.log(`agent supervisor: ${String(e)}`),
    );
    return r;
  }

  /** One decision: still alive? else where is it? else start one (when allowed and due, or `now`). */
  private async step(now: boolean): Promise<void> {
    if (this.disposed) return;
    this.clearTimer();
    this.waiting = false;
    try {
      if (this.current) {
        if (await this.alive()) return this.schedule(this.o.healthIntervalMs ?? 2000);
        if (this.disposed) return;
        this.lose();
      }
      const loc = await this.o.locator.locate();
      if (this.disposed) return;
      if (loc.kind === 'found') return void this.connect({ client: loc.client, pid: loc.pid, version: loc.version, source: loc.source, since: Date.now() });
      if (loc.kind !== 'none') {
        this.set(loc.kind, loc.message);
        return this.schedule(this.o.searchIntervalMs ?? 2000);
      }
      if (!this.mayStart()) {
        this.set('unreachable', `no agent running and sleapRtc.autoStartAgent is off: start one with \`sleap-rtc agent --data ${this.o.locator.dataDir}\` or SLEAP: Start Local Stack, or turn sleapRtc.autoStartAgent on`);
        return this.schedule(this.o.searchIntervalMs ?? 2000);
      }
      const wait = this.nextStartAt - Date.now();
      if (!now && wait > 0) return this.schedule(wait);
      await this.start();
    } catch (e) {
      if (this.disposed) return;
      this.set('unreachable', toAppError(e).message);
      this.schedule(this.o.searchIntervalMs ?? 2000);
    }
  }

  /** Starts an agent unless another window is doing so (then waits for its connection file). */
  private async start(): Promise<'connected' | 'waiting' | 'failed'> {
    const busy: AgentSupervisorState = this.st === 'restarting' ? 'restarting' : 'starting';
    const lock = tryLaunchLock(this.o.locator.dataDir);
    this.waiting = !lock;
    if (!lock) {
      const there = await this.o.locator.locate();
      if (this.disposed) return 'failed';
      if (there.kind === 'found') {
        this.waiting = false;
        return this.connect({ client: there.client, pid: there.pid, version: there.version, source: there.source, since: Date.now() });
      }
      this.set(busy, 'another window is starting the agent');
      this.schedule(this.o.waitIntervalMs ?? 250);
      return 'waiting';
    }
    try {
      // Another window may have started one between our look and the lock.
      const again = await this.o.locator.locate();
      if (again.kind === 'found') return this.connect({ client: again.client, pid: again.pid, version: again.version, source: again.source, since: Date.now() });
      if (again.kind !== 'none') {
        this.set(again.kind, again.message);
        this.schedule(this.o.searchIntervalMs ?? 2000);
        return 'failed';
      }
      this.set(busy, 'starting the agent');
      const launch = this.o.locator.launch(await this.o.launchSettings());
      const p = await (this.o.startProcess ?? AgentProcess.start)({
        nodePath: this.o.nodePath,
        cliPath: this.o.cliPath,
        dataDir: this.o.locator.dataDir,
        args: launch.args,
        env: { ...(this.o.env ?? process.env), ...launch.env },
        timeoutMs: this.o.startTimeoutMs,
      });
      if (this.disposed) {
        p.dispose();
        return 'failed';
      }
      this.child = p;
      // The window that started it hears of its exit at once; the others by /health.
      p.onDidExit(() => this.check());
      this.lastStartError = undefined;
      return this.connect({ client: new AgentClient(p.connection.url, p.connection.token), pid: p.pid, version: p.connection.version, source: 'connection_file', since: Date.now() });
    } catch (e) {
      if (this.disposed) return 'failed';
      const err = toAppError(e);
      this.lastStartError = err;
      const retry = this.mayStart();
      const delay = backoffDelay(this.attempt++, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random);
      this.nextStartAt = Date.now() + delay;
      this.set('unreachable', `could not start the agent: ${err.message}${retry ? ` (trying again in ${Math.ceil(delay / 1000)} s)` : ''}`);
      this.schedule(retry ? delay : (this.o.searchIntervalMs ?? 2000));
      return 'failed';
    } finally {
      lock.release();
    }
  }

  /** Whether the connected agent still runs. A busy agent gets three polls before it counts as gone. */
  private async alive(): Promise<boolean> {
    const c = this.current!;
    const ours = c.source === 'connection_file';
    try {
      const h = await c.client.health(this.o.healthTimeoutMs ?? 2000);
      if (ours && h.pid !== c.pid) return false;
      this.failures = 0;
      return true;
    } catch (e) {
      if (ours && !processAlive(c.pid)) return false;
      if (isAppError(e, 'unavailable') && e.details?.errno === 'ECONNREFUSED') return false;
      this.log(`the agent (pid ${c.pid}) did not answer /health: ${(e as Error).message}`);
      return ++this.failures < 3;
    }
  }

  private connect(c: Current): 'connected' {
    this.current = c;
    this.failures = 0;
    this.set('connected', `agent ${c.version} (pid ${c.pid}) at ${c.client.url}`);
    this.schedule(this.o.healthIntervalMs ?? 2000);
    return 'connected';
  }

  /** The agent is gone: restart after the backoff when we may start agents, else look for another. */
  private lose(): void {
    const gone = this.current!;
    this.drop();
    if (Date.now() - gone.since > (this.o.stableMs ?? 60_000)) this.attempt = 0;
    if (this.mayStart()) {
      this.nextStartAt = Date.now() + backoffDelay(this.attempt++, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random);
      this.set('restarting', `the agent (pid ${gone.pid}) stopped: starting a new one`);
    } else {
      this.set('searching', `the agent (pid ${gone.pid}) stopped: looking for another`);
    }
  }

  private drop(): void {
    this.current = undefined;
    this.failures = 0;
    this.child?.dispose();
    this.child = undefined;
  }

  private mayStart(): boolean {
    const auto = typeof this.o.autoStart === 'function' ? this.o.autoStart() : this.o.autoStart;
    return this.o.locator.mayStart && auto;
  }

  private set(state: AgentSupervisorState, message: string | undefined): void {
    if (this.disposed || (state === this.st && message === this.msg)) return;
    this.st = state;
    this.msg = message;
    this.changed.fire({ state, message });
  }

  private schedule(ms: number): void {
    this.clearTimer();
    if (this.disposed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue(() => this.step(false)).catch(() => undefined);
    }, Math.max(0, ms));
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private log(line: string): void {
    this.o.log?.(line);
  }
}
