import type * as vscode from 'vscode';
import type { AgentClient } from '../core/AgentClient.js';
import type { AgentState } from './state/AgentState.js';
import type { Settings } from './settings.js';

/** The agent as commands use it: a connected client, found or started on demand. */
export interface AgentAccess {
  /** The client when connected now. */
  current(): AgentClient | undefined;
  /** Finds or starts the agent (per the settings); throws an AppError that says what to do. */
  ensure(): Promise<AgentClient>;
  /** Stops the agent of the data folder and starts it again. */
  restart(): Promise<void>;
  /** The agent's data folder (connection file, log, local stack). */
  dataFolder(): string;
}

/** What every command handler gets. */
export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  agent: AgentAccess;
  state: AgentState;
  settings(): Settings;
  /** The room token from SecretStorage, if set. */
  roomToken(): Promise<string | undefined>;
  /** Opens (or reveals) the Training Monitor of a job. */
  openMonitor(jobId: string): Promise<void>;
}
