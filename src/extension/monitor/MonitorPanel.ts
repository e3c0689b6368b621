import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as vscode from 'vscode';
import type { AgentEvent } from '../../core/AgentClient.js';
import type { JobEvent } from '../../core/jobs/index.js';
import { jobEventData, uploadView, type JobView } from '../../core/schemas/agent.js';
import { csvLines } from '../../core/monitor/csv.js';
import { webviewMessage, type ExtensionMessage, type RenderedMessage } from '../../core/monitor/protocol.js';
import { sendJobCommand } from '../commands/jobs.js';
import { baseName } from '../format.js';
import type { Services } from '../Services.js';
import { jobEventPages, jobWithConfig } from './historyPages.js';
import { monitorHtml } from '../../core/monitor/html.js';

export const MONITOR_VIEW_TYPE = 'sleapRtc.monitor';
/** How long events gather before they are posted together (about one frame). */
const FLUSH_MS = 16;

/**
 * One Training Monitor: a webview panel for a job (and the runs overlaid on it). The panel
 * never sees the agent's token: this side reads the job's history from the agent, page by
 * page, and relays live events by postMessage. Every job it shows is tracked by the last seq
 * sent, so after a reload, a hidden tab or an agent restart it re-sends from there: the curve
 * has no gap, and the webview drops any seq it already holds, so none is doubled.
 */
export class MonitorPanel implements vscode.Disposable {
  /** Job id -> the last seq sent to the webview (the main job and every compared run). */
  private readonly sent = new Map<string, number>();
  /** Live events that arrived while a job's history was still being sent. */
  private readonly buffered = new Map<string, JobEvent[]>();
  /** Events waiting for the next flush, per job (in seq order). */
  private readonly outbox = new Map<string, JobEvent[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private disposed = false;
  private readonly onDisposeListeners: (() => void)[] = [];

  constructor(
    private readonly s: Services,
    readonly panel: vscode.WebviewPanel,
    readonly jobId: string,
    private readonly onRendered: (m: RenderedMessage) => void,
  ) {
    const media = vscode.Uri.joinPath(s.context.extensionUri, 'media');
    panel.webview.options = { enableScripts: true, localResourceRoots: [media] };
    panel.iconPath = vscode.Uri.joinPath(media, 'icons', 'sleap-rtc.svg');
    const nonce = randomBytes(16).toString('base64');
    panel.webview.html = monitorHtml({
      cspSource: panel.webview.cspSource,
      nonce,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'dist', 'monitor.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'dist', 'monitor.css')).toString(),
      title: panel.title,
    });
    this.subs.push(panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)));
    this.subs.push(panel.onDidDispose(() => this.dispose()));
  }

  onDidDispose(fn: () => void): void {
    this.onDisposeListeners.push(fn);
  }

  /** Every agent event: the ones of the jobs shown here are relayed. */
  agentEvent(ev: AgentEvent): void {
    if (ev.event !== 'job') return;
    const d = jobEventData.safeParse(ev.data);
    if (!d.success || !this.sent.has(d.data.job.id)) return;
    const id = d.data.job.id;
    if (d.data.type === 'state') void this.post({ type: 'job', job: d.data.job });
    const e = d.data.event;
    if (!e) return;
    const buf = this.buffered.get(id);
    if (buf) buf.push(e);
    else this.sendEvents(id, [e]);
  }

  /** After the agent restarted or lost events: re-read every job shown after its last seq. */
  async resync(): Promise<void> {
    for (const id of this.sent.keys()) await this.sendHistory(id, this.sent.get(id) ?? 0);
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = webviewMessage.safeParse(raw);
    if (!parsed.success) return this.s.log.warn(`monitor: ignored a webview message that does not match its schema: ${parsed.error.issues[0]?.message}`);
    const m = parsed.data;
    try {
      switch (m.type) {
        case 'ready':
          // A (re)loaded webview holds nothing: send everything again.
          this.sent.clear();
          await this.showJob(this.jobId);
          this.postRuns();
          break;
        case 'command': {
          try {
            const r = await sendJobCommand(this.s, m.job_id, m.command);
            await this.post({ type: 'ack', request_id: m.request_id, ok: r.ok, message: `${m.command}: acknowledged by the worker`, job: r.job });
          } catch (e) {
            await this.post({ type: 'ack', request_id: m.request_id, ok: false, message: e instanceof Error ? e.message : String(e) });
          }
          break;
        }
        case 'compare': {
          // The full set of overlaid runs: new ones are sent, dropped ones no longer relayed.
          const wanted = new Set(m.job_ids.filter((id) => id !== this.jobId));
          for (const id of [...this.sent.keys()]) if (id !== this.jobId && !wanted.has(id)) this.sent.delete(id);
          for (const id of wanted) if (!this.sent.has(id)) await this.showJob(id, true);
          break;
        }
        case 'export':
          if (m.format === 'csv') await this.exportCsv(m.job_ids);
          else await this.exportPng(m.data_url);
          break;
        case 'rendered':
          this.onRendered(m);
          break;
      }
    } catch (e) {
      await this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  }

  /** init (job, config, dataset summary), then the whole history, then live events. */
  private async showJob(id: string, overlay = false): Promise<void> {
    const client = await this.s.agent.ensure();
    this.sent.set(id, 0);
    // Live events that arrive while the history is read wait here (sent after it, deduplicated).
    this.buffered.set(id, []);
    try {
      const job = await jobWithConfig(client, id);
      const summary = await this.summaryOf(job).catch(() => undefined);
      await this.post({ type: 'init', job_id: id, job, config: job.config ?? {}, ...(summary ? { summary } : {}), ...(overlay ? { overlay } : {}) });
      for await (const events of jobEventPages(client, id, 0)) this.sendEvents(id, events);
    } finally {
      const buf = this.buffered.get(id) ?? [];
      this.buffered.delete(id);
      this.sendEvents(id, buf);
    }
  }

  private async sendHistory(id: string, after: number): Promise<void> {
    const client = await this.s.agent.ensure();
    void this.post({ type: 'job', job: await jobWithConfig(client, id) });
    for await (const events of jobEventPages(client, id, after)) this.sendEvents(id, events);
  }

  private sendEvents(id: string, events: readonly JobEvent[]): void {
    const last = this.sent.get(id) ?? 0;
    const fresh = events.filter((e) => e.seq > last);
    if (!fresh.length) return;
    this.sent.set(id, fresh[fresh.length - 1].seq);
    const q = this.outbox.get(id);
    if (q) q.push(...fresh);
    else this.outbox.set(id, [...fresh]);
    // One message per frame and job, however many events arrived: a postMessage per event (a
    // few hundred a second from a fast trainer) queued up in the webview's channel and the
    // curve fell seconds behind (npm run bench -- extension).
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    for (const [id, events] of this.outbox) void this.post({ type: 'events', job_id: id, events });
    this.outbox.clear();
  }

  private async summaryOf(job: JobView) {
    if (!job.upload_id) return undefined;
    const client = await this.s.agent.ensure();
    return uploadView.parse(await client.call('GET', `/api/uploads/${encodeURIComponent(job.upload_id)}`)).slp;
  }

  private postRuns(): void {
    const runs = this.s.state.jobList().map((e) => ({ id: e.job.id, label: `${baseName(e.job.dataset)} · ${e.job.id.slice(-8)}`, status: e.job.status }));
    void this.post({ type: 'runs', runs });
  }

  /** The full history of the job (not only what is drawn), paged from the agent and streamed to disk. */
  private async exportCsv(jobIds?: string[]): Promise<void> {
    const id = jobIds?.[0] ?? this.jobId;
    const target = await vscode.window.showSaveDialog({ title: 'Export the full training history as CSV', filters: { CSV: ['csv'] }, defaultUri: this.defaultUri(`${id}.csv`) });
    if (!target) return;
    const client = await this.s.agent.ensure();
    const out = createWriteStream(target.fsPath);
    const write = (text: string) => new Promise<void>((resolve, reject) => (out.write(text) ? resolve() : out.once('drain', resolve).once('error', reject)));
    let rows = 0;
    try {
      for await (const chunk of csvLines(jobEventPages(client, id, 0))) {
        rows += chunk.split('\n').length - 1;
        await write(chunk);
      }
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
    this.s.log.info(`monitor: exported ${rows - 1} values of job ${id} to ${target.fsPath}`);
  }

  private async exportPng(dataUrl: string): Promise<void> {
    const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(dataUrl);
    if (!m) throw new Error('the chart image is not a PNG data URL');
    const target = await vscode.window.showSaveDialog({ title: 'Save the chart as PNG', filters: { PNG: ['png'] }, defaultUri: this.defaultUri(`${this.jobId}.png`) });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(m[1], 'base64'));
  }

  private defaultUri(name: string): vscode.Uri | undefined {
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
    return ws ? vscode.Uri.joinPath(ws, name) : undefined;
  }

  private post(m: ExtensionMessage): Thenable<boolean> {
    return this.disposed ? Promise.resolve(false) : this.panel.webview.postMessage(m);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const d of this.subs) d.dispose();
    this.panel.dispose();
    for (const fn of this.onDisposeListeners) fn();
  }
}

