import * as vscode from 'vscode';
import { AppError } from '../../core/errors.js';
import type { UploadView } from '../../core/schemas/agent.js';
import { baseName } from '../format.js';
import type { Services } from '../Services.js';
import { pickOne, register } from './command.js';

const ACTIVE = new Set(['queued', 'hashing', 'uploading', 'completing']);

/** A local path of a Uri from the explorer or a picker (the extension runs where the files are). */
export function localPath(uri: vscode.Uri): string {
  if (uri.scheme !== 'file') throw new AppError('bad_request', `${uri.toString()} is not a local file: the agent uploads files of the machine it runs on`);
  return uri.fsPath;
}

async function uploadArg(s: Services, arg: unknown, what: (u: UploadView) => boolean, none: string): Promise<UploadView | undefined> {
  if (arg && typeof arg === 'object' && 'id' in arg && 'state' in arg) return arg as UploadView;
  if (typeof arg === 'string') return s.state.uploads.get(arg) ?? ({ id: arg } as UploadView);
  return pickOne(s.state.uploadList().filter(what), (u) => ({ label: baseName(u.path), description: u.state, detail: u.path }), 'Which upload?', none);
}

export function registerUploadCommands(s: Services): void {
  register(s, 'uploadDataset', 'Upload Dataset', async (uri?: unknown, selected?: unknown) => {
    // The Explorer passes the clicked resource and, with several selected, all of them.
    const all = Array.isArray(selected) ? selected.filter((u): u is vscode.Uri => u instanceof vscode.Uri) : [];
    let uris = all.length ? all : uri instanceof vscode.Uri ? [uri] : undefined;
    if (!uris) {
      uris = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Upload', title: 'Upload a SLEAP dataset', filters: { 'SLEAP datasets': ['slp', 'zip'] } });
      if (!uris?.length) return undefined;
    }
    const client = await s.agent.ensure();
    const made: UploadView[] = [];
    for (const u of uris) {
      const view = await client.call<UploadView>('POST', '/api/uploads', { path: localPath(u) });
      s.log.info(`upload ${view.id} of ${view.path}: ${view.state}`);
      s.state.uploads.set(view.id, view);
      made.push(view);
      if (view.warnings.length) void vscode.window.showWarningMessage(`SLEAP RTC: ${baseName(view.path)}: ${view.warnings.join(' ')}`);
    }
    void s.state.loadUploads();
    return made.length === 1 ? made[0] : made;
  });

  const control = (id: string, title: string, verb: 'pause' | 'resume' | 'cancel', filter: (u: UploadView) => boolean, none: string): void =>
    register(s, id, title, async (arg?: unknown) => {
      const u = await uploadArg(s, arg, filter, none);
      if (!u) return undefined;
      const client = await s.agent.ensure();
      if (verb === 'cancel') await client.call('DELETE', `/api/uploads/${encodeURIComponent(u.id)}`);
      else await client.call('POST', `/api/uploads/${encodeURIComponent(u.id)}/${verb}`);
      await s.state.loadUploads();
      return s.state.uploads.get(u.id);
    });
  control('pauseUpload', 'Pause Upload', 'pause', (u) => ACTIVE.has(u.state), 'no upload is running');
  control('resumeUpload', 'Resume Upload', 'resume', (u) => u.state === 'paused' || u.state === 'failed', 'no upload is paused');
  control('cancelUpload', 'Cancel Upload', 'cancel', (u) => u.state !== 'completed' && u.state !== 'cancelled', 'no upload to cancel');

  register(s, 'watchFolder', 'Watch Folder', async (uri?: unknown) => {
    let folder = uri instanceof vscode.Uri ? uri : undefined;
    if (!folder) {
      const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, openLabel: 'Watch', title: 'Watch a folder for new or changed datasets' });
      folder = picked?.[0];
      if (!folder) return undefined;
    }
    const path = localPath(folder);
    const client = await s.agent.ensure();
    const w = await client.call<{ path: string; auto_upload: boolean }>('POST', '/api/watches', { path, auto_upload: true });
    await rememberWatch(s, w.path, true);
    await s.state.loadWatches();
    return w;
  });

  register(s, 'unwatchFolder', 'Stop Watching Folder', async (arg?: unknown) => {
    let path = arg && typeof arg === 'object' && 'path' in arg ? String((arg as { path: string }).path) : arg instanceof vscode.Uri ? localPath(arg) : undefined;
    if (!path) {
      const w = await pickOne(s.state.watches, (w) => ({ label: w.path }), 'Stop watching which folder?', 'no folder is watched');
      path = w?.path;
      if (!path) return undefined;
    }
    const client = await s.agent.ensure();
    await client.call('DELETE', '/api/watches', { path });
    await rememberWatch(s, path, false);
    await s.state.loadWatches();
    return path;
  });
}

/** Keeps `sleapRtc.watchedFolders` in step with the agent (so a new agent watches them too). */
async function rememberWatch(s: Services, path: string, on: boolean): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('sleapRtc');
  const list = (cfg.get<{ path: string; autoUpload?: boolean }[]>('watchedFolders') ?? []).filter((w) => w.path !== path);
  if (on) list.push({ path, autoUpload: true });
  await cfg.update('watchedFolders', list, vscode.ConfigurationTarget.Global);
}
