import * as vscode from 'vscode';
import type { AgentState, Section } from '../state/AgentState.js';
import { jobRow, modelRow, uploadRow, workerRow, type Row } from './describe.js';
import { SleapTreeProvider, type Node } from './SleapTreeProvider.js';

export interface Views {
  providers: Record<'uploads' | 'jobs' | 'workers' | 'models', SleapTreeProvider>;
  trees: Record<'uploads' | 'jobs' | 'workers' | 'models', vscode.TreeView<Node>>;
  /** Says in every view why it is empty (agent down, a section that failed to load). */
  setBanner(text: string | undefined): void;
}

const watchRow = (w: { path: string; auto_upload: boolean }): Row => ({ label: w.path, description: w.auto_upload ? 'auto-upload' : 'watch only', tooltip: `watched folder ${w.path}`, context: 'watch', icon: 'eye' });

/** The four sidebar views, filled from the agent's state and kept current by its events. */
export function registerViews(state: AgentState, subs: vscode.Disposable[]): Views {
  const providers = {
    uploads: new SleapTreeProvider(() => {
      const nodes: Node[] = state.uploadList().map((u) => ({ id: `upload:${u.id}`, row: uploadRow(u), value: u }));
      if (state.watches.length) {
        nodes.push({
          id: 'watches',
          row: { label: 'Watched folders', description: String(state.watches.length), tooltip: 'Folders the agent watches for new or changed datasets', context: 'watches', icon: 'eye' },
          value: undefined,
          children: state.watches.map((w) => ({ id: `watch:${w.path}`, row: watchRow(w), value: w })),
        });
      }
      return nodes;
    }),
    jobs: new SleapTreeProvider(() => state.jobList().map((e) => ({ id: `job:${e.job.id}`, row: jobRow(e), value: e, command: 'sleapRtc.openMonitor' }))),
    workers: new SleapTreeProvider(() => state.workers.map((w) => ({ id: `worker:${w.peer_id}`, row: workerRow(w), value: w }))),
    models: new SleapTreeProvider(() => state.models.map((m) => ({ id: `model:${m.id}`, row: modelRow(m), value: m }))),
  };
  const trees = {
    uploads: vscode.window.createTreeView('sleapRtc.uploads', { treeDataProvider: providers.uploads, showCollapseAll: false }),
    jobs: vscode.window.createTreeView('sleapRtc.jobs', { treeDataProvider: providers.jobs }),
    workers: vscode.window.createTreeView('sleapRtc.workers', { treeDataProvider: providers.workers }),
    models: vscode.window.createTreeView('sleapRtc.models', { treeDataProvider: providers.models }),
  };
  subs.push(...Object.values(providers), ...Object.values(trees));
  let banner: string | undefined;
  const show = (): void => {
    for (const [k, t] of Object.entries(trees) as [keyof typeof trees, vscode.TreeView<Node>][]) {
      const err = state.errors.get(k as Section);
      const message = banner ?? (err ? `Could not read ${k}: ${err}` : undefined);
      // Only when it changes: every assignment makes VS Code restart its refresh delay, and at
      // a few hundred events a second the rows would never redraw (seen in the UI smoke test).
      if (t.message !== message) t.message = message;
    }
  };
  subs.push({
    dispose: state.onDidChange((s) => {
      if (s === 'watches') providers.uploads.refresh();
      else providers[s].refresh();
      show();
    }),
  });
  return {
    providers,
    trees,
    setBanner(text) {
      banner = text;
      show();
    },
  };
}
