import type * as vscode from 'vscode';
import type { AgentClient } from '../core/AgentClient.js';
import { dataHome } from '../core/paths.js';
import { AgentEvents, type AgentReset } from './agent/AgentEvents.js';
import { AgentLocator } from './agent/AgentLocator.js';
import { agentLogFile } from './agent/AgentProcess.js';
import { AgentSupervisor, type AgentSupervisorStateChange as AgentStateChange } from './agent/AgentSupervisor.js';
import type { AgentEvent } from '../core/AgentClient.js';
import { Emitter } from '../core/Emitter.js';
import { LogTail, type LogLevel } from './LogTail.js';
import type { Settings } from './settings.js';
import { join } from 'node:path';

export interface AgentLinkOptions {
  settings: () => Settings;
  roomToken: () => Promise<string | undefined>;
  /** The bundled CLI inside the extension (dist/bundled/sleap-rtc.mjs). */
  cliPath: string;
  log: vscode.LogOutputChannel;
}

/**
 * The extension's one connection to its agent: the supervisor (find, start, restart), the event
 * stream that follows it, and the tails of the agent's and the local stack's log files. Made
 * anew when the data folder or agent URL setting changes (`rebuild`); listeners registered here
 * survive the rebuild.
 */
export class AgentLink implements vscode.Disposable {
  supervisor!: AgentSupervisor;
  private events!: AgentEvents;
  private tails: LogTail[] = [];
  private offs: (() => void)[] = [];
  private dir = '';
  private readonly stateE = new Emitter<AgentStateChange>();
  private readonly eventE = new Emitter<AgentEvent>();
  private readonly resetE = new Emitter<AgentReset>();
  readonly onDidChangeState = this.stateE.event;
  readonly onEvent = this.eventE.event;
  readonly onReset = this.resetE.event;

  constructor(private readonly o: AgentLinkOptions) {
    this.build();
  }

  get dataFolder(): string {
    return this.dir;
  }

  /** The data folder the settings name now. */
  static dataFolderOf(s: Settings): string {
    return dataHome(s.dataFolder || undefined, process.env);
  }

  rebuild(): void {
    this.teardown();
    this.build();
    void this.supervisor.ensure().catch(() => undefined);
  }

  ensure(): Promise<AgentClient> {
    return this.supervisor.ensureClient();
  }

  private build(): void {
    const s = this.o.settings();
    this.dir = AgentLink.dataFolderOf(s);
    const log = (line: string) => this.o.log.info(line);
    const locator = new AgentLocator({ dataDir: this.dir, agentUrl: s.agentUrl || undefined });
    this.supervisor = new AgentSupervisor({
      locator,
      autoStart: () => this.o.settings().autoStartAgent,
      launchSettings: async () => {
        const now = this.o.settings();
        return { serverUrl: now.serverUrl || undefined, room: now.room || undefined, roomToken: await this.o.roomToken(), partSize: now.partSize, concurrency: now.concurrency };
      },
      // The editor's own runtime: Electron runs as Node with this variable (desktop VS Code);
      // under code-server and remote hosts process.execPath is node already.
      nodePath: process.execPath,
      cliPath: this.o.cliPath,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      log,
    });
    this.events = new AgentEvents({ source: this.supervisor, log });
    this.offs.push(this.supervisor.onDidChangeState((c) => this.stateE.fire(c)));
    this.offs.push(this.events.onEvent((e) => this.eventE.fire(e)));
    this.offs.push(this.events.onReset((r) => this.resetE.fire(r)));
    const emit = (level: LogLevel, text: string) => this.o.log[level](text);
    this.tails = [new LogTail(agentLogFile(this.dir), emit), new LogTail(join(this.dir, 'stack.log'), emit)];
  }

  private teardown(): void {
    for (const off of this.offs) off();
    this.offs = [];
    for (const t of this.tails) t.dispose();
    this.events.dispose();
    this.supervisor.dispose();
  }

  dispose(): void {
    this.teardown();
    this.stateE.dispose();
    this.eventE.dispose();
    this.resetE.dispose();
  }
}
