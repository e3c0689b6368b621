import * as vscode from 'vscode';
import type { AgentState } from '../state/AgentState.js';
import { statusText } from './statusText.js';

/** One status-bar item for transfers and jobs; a warning when the agent is not reachable. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('sleapRtc.status', vscode.StatusBarAlignment.Left, 50);
  private problem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly off: () => void;

  constructor(private readonly state: AgentState) {
    this.item.name = 'SLEAP RTC';
    this.off = state.onDidChange((s) => {
      if (s === 'uploads' || s === 'jobs') this.schedule();
    });
  }

  /**
   * At most four updates a second: each one is a message to the window, and a trainer's batch
   * events (hundreds a second) competed with the monitor's draws for the renderer.
   */
  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.update();
    }, 250);
  }

  /** The agent's trouble, shown instead of progress until cleared (undefined). */
  setProblem(text: string | undefined): void {
    this.problem = text;
    this.update();
  }

  update(): void {
    if (this.problem) {
      this.item.text = '$(warning) SLEAP agent';
      this.item.tooltip = `${this.problem}: click to restart the agent`;
      this.item.command = 'sleapRtc.restartAgent';
      this.item.show();
      return;
    }
    const s = statusText(this.state.uploadList(), this.state.jobList());
    if (!s) return this.item.hide();
    this.item.text = s.text;
    this.item.tooltip = s.tooltip;
    this.item.command = s.target?.kind === 'job' ? { command: 'sleapRtc.openMonitor', title: 'Open Training Monitor', arguments: [s.target.jobId] } : { command: 'sleapRtc.uploads.focus', title: 'Show Uploads' };
    this.item.show();
  }

  /** For tests: what the item shows now. */
  get text(): string {
    return this.item.text;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.off();
    this.item.dispose();
  }
}
