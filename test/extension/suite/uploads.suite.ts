import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import type { UploadView } from '../../../src/core/schemas/agent.js';
import { sleap, testEnv, until } from './env.js';

suite('uploads', () => {
  test('Upload Dataset given a file Uri uploads it, and the Uploads view shows it finish', async () => {
    const api = await sleap();
    const view = (await vscode.commands.executeCommand('sleapRtc.uploadDataset', vscode.Uri.file(testEnv.dataset()))) as UploadView;
    assert.ok(view?.id, 'the command returns the agent upload');
    assert.equal(view.path, testEnv.dataset());
    await until(() => api.state.uploads.get(view.id)?.state === 'completed', 60_000, () => `upload is ${api.state.uploads.get(view.id)?.state}`);
    const rows = api.views.providers.uploads.getChildren();
    const row = rows.find((n) => n.id === `upload:${view.id}`);
    assert.ok(row, 'the Uploads view lists the upload');
    assert.match(row.row.description, /^completed · /);
    const item = api.views.providers.uploads.getTreeItem(row);
    assert.equal(item.contextValue, 'upload-done');
    const done = api.state.uploads.get(view.id)!;
    assert.match(done.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(done.slp && done.slp.labeled_frames > 0, 'the agent read the labels file');
  });

  test('a watched folder uploads a new dataset put into it', async function () {
    this.timeout(120_000);
    const api = await sleap();
    const folder = join(testEnv.scratch(), 'watched');
    await mkdir(folder, { recursive: true });
    const watched = await vscode.commands.executeCommand<{ path: string } | undefined>('sleapRtc.watchFolder', vscode.Uri.file(folder));
    assert.equal(watched?.path, folder, 'the command returns the watch');
    await until(() => api.state.watches.some((w) => w.path === folder), 10_000, () => `watches: ${JSON.stringify(api.state.watches)}`);
    const cfg = vscode.workspace.getConfiguration('sleapRtc').get<{ path: string }[]>('watchedFolders') ?? [];
    assert.ok(cfg.some((w) => w.path === folder), 'the folder is kept in sleapRtc.watchedFolders');
    const file = join(folder, 'new-labels.pkg.slp');
    await copyFile(testEnv.dataset(), file);
    const up = await until(() => [...api.state.uploads.values()].find((u) => u.path === file && u.state === 'completed'), 30_000, () => `uploads: ${[...api.state.uploads.values()].map((u) => `${u.path} ${u.state}`).join('; ')}`);
    assert.equal(up.size > 0, true);
    await vscode.commands.executeCommand('sleapRtc.unwatchFolder', { path: folder });
    await until(() => !api.state.watches.some((w) => w.path === folder), 10_000, () => 'the watch is still listed');
  });
});
