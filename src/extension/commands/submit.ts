import * as vscode from 'vscode';
import { AppError } from '../../core/errors.js';
import type { JobView } from '../../core/schemas/agent.js';
import { looksLikeTrainingConfig, parseTrainingConfigText } from '../../core/trainingConfigText.js';
import { baseName } from '../format.js';
import type { Services } from '../Services.js';
import type { PeerInfo } from '../state/AgentState.js';
import { register } from './command.js';
import { localPath } from './uploads.js';

type Pick<T> = vscode.QuickPickItem & { value: T };
const BROWSE = Symbol('browse');
const EXCLUDE = '{**/node_modules/**,**/.git/**,**/.venv/**}';

/** One step of the flow: a QuickPick whose first item is the default, so Enter accepts it. */
async function step<T>(title: string, stepNo: number, items: Pick<T | typeof BROWSE>[]): Promise<T | typeof BROWSE | undefined> {
  const picked = await vscode.window.showQuickPick(items, { title: `Train (${stepNo}/4): ${title}`, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true });
  return picked?.value;
}

/** Datasets offered: the right-clicked one, open .slp tabs, the workspace's .slp files, datasets already uploaded. */
async function chooseDataset(s: Services, given?: vscode.Uri): Promise<string | undefined> {
  if (given) return localPath(given);
  const items: Pick<string | typeof BROWSE>[] = [];
  const seen = new Set<string>();
  const add = (value: string, label: string, description: string): void => {
    if (seen.has(value)) return;
    seen.add(value);
    items.push({ label, description, value });
  };
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      const uri = (tab.input as { uri?: vscode.Uri } | undefined)?.uri;
      if (uri?.scheme === 'file' && uri.fsPath.endsWith('.slp')) add(uri.fsPath, `$(file) ${baseName(uri.fsPath)}`, 'open in the editor');
    }
  }
  for (const uri of await vscode.workspace.findFiles('**/*.slp', EXCLUDE, 50)) add(uri.fsPath, `$(file) ${baseName(uri.fsPath)}`, vscode.workspace.asRelativePath(uri));
  for (const u of s.state.uploadList()) if (u.state === 'completed' && u.s3_path && !u.path.endsWith('.zip')) add(u.path, `$(cloud) ${baseName(u.path)}`, 'uploaded (reused if unchanged)');
  items.push({ label: '$(folder-opened) Browse…', description: 'pick a .slp or .pkg.slp file', value: BROWSE });
  const v = await step('dataset', 1, items);
  if (v !== BROWSE) return v;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'SLEAP labels': ['slp'] }, openLabel: 'Train on this', title: 'Dataset to train on' });
  return picked?.[0] ? localPath(picked[0]) : undefined;
}

async function readConfig(uri: vscode.Uri): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  return parseTrainingConfigText(text, uri.fsPath);
}

/** Training configs of the workspace (YAML/JSON files that name a config section), or the default. */
async function chooseConfig(s: Services): Promise<{ config: Record<string, unknown>; name: string } | undefined> {
  const items: Pick<vscode.Uri | null | typeof BROWSE>[] = [];
  const preset = s.settings().defaultConfigFile;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (preset) {
    const uri = preset.startsWith('/') || !folder ? vscode.Uri.file(preset) : vscode.Uri.joinPath(folder, preset);
    items.push({ label: `$(settings-gear) ${baseName(preset)}`, description: 'sleapRtc.defaultConfigFile', value: uri });
  }
  items.push({ label: '$(star-full) Default', description: `${s.settings().defaultTrainer} trainer, its default settings`, value: null });
  for (const uri of await vscode.workspace.findFiles('**/*.{yaml,yml,json}', EXCLUDE, 200)) {
    if (items.some((i) => i.value instanceof vscode.Uri && i.value.fsPath === uri.fsPath)) continue;
    try {
      const st = await vscode.workspace.fs.stat(uri);
      if (st.size > 1024 * 1024) continue;
      if (looksLikeTrainingConfig(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)))) items.push({ label: `$(file-code) ${baseName(uri.fsPath)}`, description: vscode.workspace.asRelativePath(uri), value: uri });
    } catch {
      // A file that vanished or cannot be read is simply not offered.
    }
  }
  items.push({ label: '$(folder-opened) Browse…', description: 'a YAML (sleap-nn) or JSON training config', value: BROWSE });
  let v = await step('training config', 2, items);
  if (v === undefined) return undefined;
  if (v === BROWSE) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Training config': ['yaml', 'yml', 'json'] }, title: 'Training config' });
    if (!picked?.[0]) return undefined;
    v = picked[0];
  }
  if (v === null) return { config: {}, name: 'default' };
  return { config: await readConfig(v), name: baseName(v.fsPath) };
}

async function chooseEpochs(config: Record<string, unknown>): Promise<number | undefined> {
  const tc = (config.trainer_config ?? {}) as Record<string, unknown>;
  const start = typeof tc.max_epochs === 'number' ? tc.max_epochs : 10;
  const v = await vscode.window.showInputBox({
    title: 'Train (3/4): maximum epochs',
    value: String(start),
    prompt: 'Training stops after this many epochs (or earlier: Stop Early keeps the model)',
    ignoreFocusOut: true,
    validateInput: (t) => (/^\d+$/.test(t.trim()) && Number(t) >= 1 && Number(t) <= 100_000 ? undefined : 'a whole number from 1 to 100000'),
  });
  return v === undefined ? undefined : Number(v.trim());
}

async function chooseWorker(s: Services, trainer: string): Promise<string | null | undefined> {
  await s.state.loadWorkers();
  const workers = s.state.workers;
  const fits = (w: PeerInfo) => w.metadata.tags.includes(trainer);
  const free = workers.filter((w) => fits(w) && w.metadata.properties.status === 'available');
  const items: Pick<string | null>[] = [{ label: '$(zap) First free worker', description: `${free.length} free with the ${trainer} trainer`, value: null }];
  for (const w of workers) {
    const p = w.metadata.properties;
    items.push({ label: `$(vm) ${w.peer_id}`, description: [String(p.status ?? '?'), p.gpu_model ? String(p.gpu_model) : 'no GPU', fits(w) ? '' : `no ${trainer} trainer`].filter(Boolean).join(' · '), value: w.peer_id });
  }
  const v = await step('worker', 4, items);
  return v === BROWSE ? undefined : v;
}

/**
 * Submit a training job: dataset -> config -> max epochs -> worker, every step defaulted, then
 * the monitor opens. Returns the job (for callers such as tests), undefined if the user left.
 */
export async function submitFlow(s: Services, given?: vscode.Uri): Promise<JobView | undefined> {
  const client = await s.agent.ensure();
  const dataset = await chooseDataset(s, given);
  if (!dataset) return undefined;
  if (!dataset.endsWith('.slp')) throw new AppError('bad_request', `${baseName(dataset)} is not a labels file: a job trains on one .slp or .pkg.slp file (a folder or .zip can be uploaded, not trained on directly)`);
  const chosen = await chooseConfig(s);
  if (!chosen) return undefined;
  const config = { ...chosen.config };
  if (!config.trainer) config.trainer = s.settings().defaultTrainer;
  const epochs = await chooseEpochs(config);
  if (epochs === undefined) return undefined;
  config.trainer_config = { ...((config.trainer_config ?? {}) as Record<string, unknown>), max_epochs: epochs };
  const worker = await chooseWorker(s, String(config.trainer));
  if (worker === undefined) return undefined;
  const job = await client.call<JobView>('POST', '/api/jobs', { dataset, config, ...(worker ? { worker } : {}) });
  s.log.info(`job ${job.id} submitted: ${dataset}, config ${chosen.name}, ${epochs} epochs, worker ${job.worker ?? 'first free'}`);
  await s.openMonitor(job.id);
  return job;
}

export function registerSubmitCommands(s: Services): void {
  register(s, 'submitJob', 'Submit Training Job', (uri?: unknown) => submitFlow(s, uri instanceof vscode.Uri ? uri : undefined));
  register(s, 'trainDataset', 'Train on This Dataset', (uri?: unknown) => submitFlow(s, uri instanceof vscode.Uri ? uri : undefined));
}
