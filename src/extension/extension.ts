import * as vscode from 'vscode';
import { readAgentConnection } from '../core/agentConnection.js';
import { readStackInfo } from '../core/stackInfo.js';
import { AgentLink } from './AgentLink.js';
import { AgentProcess } from './agent/AgentProcess.js';
import { registerAgentCommands, ROOM_TOKEN_SECRET } from './commands/agent.js';
import { onDidShowError } from './commands/command.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerModelCommands } from './commands/models.js';
import { registerSubmitCommands } from './commands/submit.js';
import { registerUploadCommands } from './commands/uploads.js';
import { baseName } from './format.js';
import { earlyStopNote } from '../core/jobs/earlyStop.js';
import { startLocalStack } from './LocalStack.js';
import { MonitorPanels } from './monitor/MonitorPanels.js';
import type { Services } from './Services.js';
import { readSettings, type Settings } from './settings.js';
import { AgentState, type JobEntry } from './state/AgentState.js';
import { registerViews, type Views } from './views/registerViews.js';
import { StatusBar } from './views/StatusBar.js';
import { waitUntil } from './waitUntil.js';

/** What activate() returns: for other extensions and for the tests that run inside VS Code. */
export interface SleapRtcApi {
  services: Services;
  state: AgentState;
  link: AgentLink;
  monitors: MonitorPanels;
  statusBar: StatusBar;
  views: Views;
  /** Each error message shown to the user, with its buttons. */
  onDidShowError: typeof onDidShowError;
  /** How long activate() itself ran (ms): VS Code's loading of the bundle comes before it. */
  activationMs: number;
}

let active: { link: AgentLink } | undefined;

export function activate(context: vscode.ExtensionContext): SleapRtcApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('SLEAP RTC', { log: true });
  context.subscriptions.push(log);
  let current = loadSettings(log);
  const settings = (): Settings => current;
  const roomToken = async () => (await context.secrets.get(ROOM_TOKEN_SECRET)) || undefined;
  const link = new AgentLink({ settings, roomToken, cliPath: context.asAbsolutePath('dist/bundled/sleap-rtc.mjs'), log });
  active = { link };
  context.subscriptions.push(link);
  const state = new AgentState(() => link.supervisor.client, (m) => log.warn(m));
  context.subscriptions.push({ dispose: () => state.dispose() });

  let monitors: MonitorPanels | undefined;
  const services: Services = {
    context,
    log,
    state,
    settings,
    roomToken,
    agent: { current: () => link.supervisor.client, ensure: () => link.ensure(), restart: async () => void (await link.supervisor.restart()), dataFolder: () => link.dataFolder },
    openMonitor: async (jobId) => void (await monitors!.open(jobId)),
  };
  monitors = new MonitorPanels(services);
  context.subscriptions.push(monitors);
  const views = registerViews(state, context.subscriptions);
  const statusBar = new StatusBar(state);
  context.subscriptions.push(statusBar);

  // Agent events feed the views and every open monitor; a reset (first stream, agent restart,
  // events lost) re-reads the state, and each monitor re-reads its jobs after its last seq.
  const on = (off: () => void) => context.subscriptions.push({ dispose: off });
  on(link.onEvent((e) => {
    state.apply(e);
    monitors!.agentEvent(e);
  }));
  on(link.onReset(() => {
    void state.reload().then(() => syncWatches(services));
    void monitors!.resync();
  }));
  on(link.onDidChangeState((c) => {
    const connected = c.state === 'connected';
    void vscode.commands.executeCommand('setContext', 'sleapRtc.agentConnected', connected);
    const words = { searching: 'Looking for the agent…', starting: 'Starting the agent…', restarting: 'Restarting the agent…', stopped: 'The agent link is closed.' } as Record<string, string>;
    views.setBanner(connected ? undefined : (c.message ?? words[c.state] ?? `The agent is ${c.state}.`));
    statusBar.setProblem(c.state === 'unreachable' || c.state === 'version_mismatch' ? (c.message ?? c.state) : undefined);
    log.info(`agent: ${c.state}${c.message ? ` (${c.message})` : ''}`);
    if (!connected) state.clear();
  }));
  on(state.onDidFinishJob((e) => void notifyFinished(e)));
  // The walkthrough's steps complete on what happened, not on a command that may have been cancelled.
  const done = { hasUpload: false, hasJob: false };
  on(state.onDidChange(() => {
    const now = { hasUpload: done.hasUpload || state.uploadList().some((u) => u.state === 'completed'), hasJob: done.hasJob || state.jobs.size > 0 };
    for (const k of ['hasUpload', 'hasJob'] as const) {
      if (now[k] && !done[k]) {
        done[k] = true;
        void vscode.commands.executeCommand('setContext', `sleapRtc.${k}`, true);
      }
    }
  }));

  // Workers come and go without events to the agent: re-read them while the view is visible.
  const workersTimer = setInterval(() => {
    if (views.trees.workers.visible && link.supervisor.client) void state.loadWorkers();
  }, 10_000);
  on(() => clearInterval(workersTimer));

  registerUploadCommands(services);
  registerJobCommands(services);
  registerSubmitCommands(services);
  registerModelCommands(services);
  registerAgentCommands(services, { startLocalStack: () => runLocalStack(services, link, context) });

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('sleapRtc')) return;
      const before = current;
      current = loadSettings(log);
      if (before.dataFolder !== current.dataFolder || before.agentUrl !== current.agentUrl) link.rebuild();
      else if (e.affectsConfiguration('sleapRtc.watchedFolders')) void syncWatches(services);
    }),
  );

  // Looked for (or started) in the background: activation returns at once.
  void link.supervisor.ensure().catch((e: unknown) => log.warn(`agent: ${String(e)}`));
  const activationMs = performance.now() - started;
  log.info(`activated in ${activationMs.toFixed(1)} ms`);
  return { services, state, link, monitors, statusBar, views, onDidShowError, activationMs };
}

export async function deactivate(): Promise<void> {
  // The agent keeps running (other windows, uploads in flight); only our link to it closes.
  active?.link.dispose();
  active = undefined;
}

function loadSettings(log: vscode.LogOutputChannel): Settings {
  const cfg = vscode.workspace.getConfiguration('sleapRtc');
  const { settings, problems } = readSettings((k) => cfg.get(k));
  for (const p of problems) log.warn(p);
  if (problems.length) void vscode.window.showWarningMessage(`SLEAP RTC: ${problems[0]}`, 'Open Settings').then((a) => a && vscode.commands.executeCommand('workbench.action.openSettings', 'sleapRtc'));
  return settings;
}

/** The folders of `sleapRtc.watchedFolders` that the agent does not watch yet are added. */
async function syncWatches(s: Services): Promise<void> {
  const client = s.agent.current();
  if (!client) return;
  // What the agent watches now (the state may not have caught up with a watch just added).
  await s.state.loadWatches();
  const have = new Set(s.state.watches.map((w) => w.path));
  for (const w of s.settings().watchedFolders) {
    if (have.has(w.path)) continue;
    try {
      await client.call('POST', '/api/watches', { path: w.path, auto_upload: w.autoUpload });
    } catch (e) {
      s.log.warn(`could not watch ${w.path} (from sleapRtc.watchedFolders): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  await s.state.loadWatches();
}

/** One notification when a job ends, with the next steps. */
async function notifyFinished(e: JobEntry): Promise<void> {
  const { job } = e;
  const name = baseName(job.dataset);
  if (job.status === 'failed') {
    const a = await vscode.window.showErrorMessage(`SLEAP RTC: training on ${name} failed: ${job.error?.message ?? 'see the monitor'}`, 'Open Monitor');
    if (a) await vscode.commands.executeCommand('sleapRtc.openMonitor', job.id);
    return;
  }
  const model = job.model ? ` Model ${job.model.model_id}.` : '';
  const actions = job.model ? ['Open Monitor', 'Download Model'] : ['Open Monitor'];
  const p = e.progress;
  const early = job.status === 'completed' && p.epoch !== undefined ? earlyStopNote(job.config, p.epoch + 1, p.valLoss !== undefined ? 'val/loss' : 'train/loss') : undefined;
  const a = await vscode.window.showInformationMessage(`SLEAP RTC: training on ${name} ${job.status}${early ? ` (${early})` : ''}.${model}`, ...actions);
  if (a === 'Open Monitor') await vscode.commands.executeCommand('sleapRtc.openMonitor', job.id);
  if (a === 'Download Model' && job.model) await vscode.commands.executeCommand('sleapRtc.downloadModel', job.model.model_id);
}

/** SLEAP: Start Local Stack: the whole system on this machine, its agent then found as usual. */
async function runLocalStack(s: Services, link: AgentLink, context: vscode.ExtensionContext): Promise<unknown> {
  const dir = link.dataFolder;
  const running = readStackInfo(dir);
  if (running) {
    void vscode.window.showInformationMessage(`SLEAP RTC: the local stack already runs (server ${running.server_url}, room ${running.room}).`);
    await link.supervisor.ensure();
    return running;
  }
  // The stack brings its own agent: one started for this data folder before must make room.
  const conn = readAgentConnection(dir);
  if (conn) {
    s.log.info(`stopping the agent (pid ${conn.pid}) so that the local stack can run its own`);
    await AgentProcess.stop(conn.pid, { dataDir: dir });
  }
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Starting the local stack (store, server, worker, agent)…' }, async () => {
    const pid = await startLocalStack({ nodePath: process.execPath, cliPath: context.asAbsolutePath('dist/bundled/sleap-rtc.mjs'), dataFolder: dir }, () => waitUntil(() => readStackInfo(dir) !== undefined && readAgentConnection(dir) !== undefined, 60_000, 'the local stack did not get ready'));
    s.log.info(`local stack running (pid ${pid}, data folder ${dir}); its log is ${dir}/stack.log`);
    await link.supervisor.ensure();
    await s.state.reload();
    const info = readStackInfo(dir);
    void vscode.window.showInformationMessage(`SLEAP RTC: the local stack runs (server ${info?.server_url ?? '?'}, room ${info?.room ?? '?'}, a builtin CPU worker). Upload a dataset or submit a job next.`, 'Submit Training Job').then((a) => a && vscode.commands.executeCommand('sleapRtc.submitJob'));
    return info;
  });
}
