import * as vscode from 'vscode';
import type { AgentEvent } from '../../core/AgentClient.js';
import { Emitter } from '../../core/Emitter.js';
import type { RenderedMessage } from '../../core/monitor/protocol.js';
import { baseName } from '../format.js';
import type { Services } from '../Services.js';
import { jobWithConfig } from './historyPages.js';
import { MONITOR_VIEW_TYPE, MonitorPanel } from './MonitorPanel.js';

export type Rendered = RenderedMessage;

/**
 * The Training Monitors: one panel per job (opening a job's monitor again reveals it), brought
 * back after a window reload by a WebviewPanelSerializer from the state the webview saved with
 * setState (its job id; the points are re-sent from the agent).
 */
export class MonitorPanels implements vscode.Disposable {
  private readonly panels = new Map<string, MonitorPanel>();
  private readonly rendered = new Emitter<Rendered>();
  /** Each draw of a monitor (tests and the latency benchmark read these). */
  readonly onDidRender = this.rendered.event;

  /**
   * Brings a monitor back after a window reload: VS Code hands over the panel and the state the
   * webview saved (its job id); the points are then read from the agent again.
   */
  readonly serializer: vscode.WebviewPanelSerializer = {
    deserializeWebviewPanel: async (panel, state: unknown) => {
      const jobId = state && typeof state === 'object' && typeof (state as { job_id?: unknown }).job_id === 'string' ? (state as { job_id: string }).job_id : undefined;
      if (!jobId || this.panels.has(jobId)) {
        panel.dispose();
        return;
      }
      this.adopt(panel, jobId);
    },
  };

  constructor(private readonly s: Services) {
    s.context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(MONITOR_VIEW_TYPE, this.serializer));
  }

  async open(jobId: string): Promise<MonitorPanel> {
    const existing = this.panels.get(jobId);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    // A job just submitted may not be in the state yet: its view is read for the title.
    const job = this.s.state.jobs.get(jobId)?.job ?? (await jobWithConfig(await this.s.agent.ensure(), jobId).catch(() => undefined));
    // The dataset names the tab; the end of the job id tells runs on one dataset apart.
    const title = `Monitor: ${job ? `${baseName(job.dataset)} · ${jobId.slice(-6)}` : jobId}`;
    const panel = vscode.window.createWebviewPanel(MONITOR_VIEW_TYPE, title, vscode.ViewColumn.Active, { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.s.context.extensionUri, 'media')] });
    return this.adopt(panel, jobId);
  }

  get(jobId: string): MonitorPanel | undefined {
    return this.panels.get(jobId);
  }

  get size(): number {
    return this.panels.size;
  }

  agentEvent(ev: AgentEvent): void {
    for (const p of this.panels.values()) p.agentEvent(ev);
  }

  /** The agent restarted or lost events: every monitor re-reads after its last seq. */
  async resync(): Promise<void> {
    await Promise.allSettled([...this.panels.values()].map((p) => p.resync()));
  }

  private adopt(panel: vscode.WebviewPanel, jobId: string): MonitorPanel {
    const m = new MonitorPanel(this.s, panel, jobId, (r) => this.rendered.fire(r));
    this.panels.set(jobId, m);
    m.onDidDispose(() => this.panels.delete(jobId));
    return m;
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.rendered.dispose();
  }
}
