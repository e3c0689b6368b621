import assert from 'node:assert/strict';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import { EXTENSION_ID, sleap } from './env.js';

suite('activation and commands', () => {
  test('nothing activates the extension at start-up; every contributed command is registered once it is', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'the extension is installed');
    assert.equal(ext.isActive, false, 'no SLEAP command or view was used yet, so the extension must not be active');
    const events: string[] = ext.packageJSON.activationEvents ?? [];
    assert.ok(!events.includes('*') && !events.includes('onStartupFinished'), `activationEvents: ${events.join(', ')}`);
    await sleap();
    const contributed: string[] = ext.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], 'every contributed command has a handler');
    for (const id of ['sleapRtc.uploadDataset', 'sleapRtc.submitJob', 'sleapRtc.openMonitor', 'sleapRtc.pauseJob', 'sleapRtc.resumeJob', 'sleapRtc.stopJob', 'sleapRtc.cancelJob', 'sleapRtc.pauseUpload', 'sleapRtc.resumeUpload', 'sleapRtc.cancelUpload', 'sleapRtc.watchFolder', 'sleapRtc.unwatchFolder', 'sleapRtc.downloadModel', 'sleapRtc.startLocalStack', 'sleapRtc.restartAgent', 'sleapRtc.showLog', 'sleapRtc.setRoomToken', 'sleapRtc.openApiDocs', 'sleapRtc.refresh']) {
      assert.ok(contributed.includes(id), `${id} is contributed`);
    }
    for (const c of ext.packageJSON.contributes.commands) assert.equal(c.category, 'SLEAP', `${c.command} is in the SLEAP category`);
  });
});
