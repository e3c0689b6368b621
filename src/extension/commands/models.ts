import * as vscode from 'vscode';
import type { ManifestModel } from '../../core/schemas/manifest.js';
import { bytes, loss, shortDate } from '../format.js';
import type { Services } from '../Services.js';
import { pickOne, register } from './command.js';
import { localPath } from './uploads.js';

export function registerModelCommands(s: Services): void {
  register(s, 'downloadModel', 'Download Model', async (arg?: unknown, destArg?: unknown) => {
    let id = typeof arg === 'string' ? arg : arg && typeof arg === 'object' && 'id' in arg ? String((arg as ManifestModel).id) : undefined;
    if (!id) {
      await s.state.loadModels();
      const m = await pickOne(s.state.models, (m) => ({ label: m.alias ?? m.id, description: [m.model_type, m.training.final_loss !== null ? `final loss ${loss(m.training.final_loss)}` : '', `${m.training.epochs} epochs`, shortDate(m.trained_at), bytes(m.size_bytes)].filter(Boolean).join(' · '), detail: m.s3_path }), 'Download which model?', 'no model in this room yet: train one first');
      id = m?.id;
      if (!id) return undefined;
    }
    let dest = typeof destArg === 'string' ? destArg : undefined;
    if (!dest) {
      const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
      const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, defaultUri: ws, openLabel: 'Download here', title: `Download model ${id} into (a folder ${id}/ is made inside)` });
      if (!picked?.[0]) return undefined;
      dest = localPath(picked[0]);
    }
    const client = await s.agent.ensure();
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Downloading model ${id}`, cancellable: false }, () =>
      client.call<{ model_id: string; dest: string; files: { name: string; size_bytes?: number }[] }>('POST', `/api/models/${encodeURIComponent(id)}/download`, { dest }),
    );
    s.log.info(`model ${r.model_id} downloaded to ${r.dest} (${r.files.length} files, SHA-256 verified)`);
    void vscode.window.showInformationMessage(`SLEAP RTC: model ${r.model_id} is in ${r.dest}`, 'Reveal').then((a) => {
      if (a) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(r.dest));
    });
    return r;
  });
}
