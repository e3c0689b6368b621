import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorCsp, monitorHtml } from '../../src/core/monitor/html.js';
import { extensionMessage, webviewMessage } from '../../src/core/monitor/protocol.js';
import { syntheticRun } from './support/synthetic.js';

const job = { id: 'job-1', status: 'training', dataset: 's3://b/d.pkg.slp', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };

test('protocol: the extension\'s messages parse', () => {
  for (const m of [
    { type: 'init', job_id: 'job-1', job, config: { trainer: 'builtin', trainer_config: { max_epochs: 20 } } },
    { type: 'init', job_id: 'job-2', job: { ...job, id: 'job-2' }, config: {}, overlay: true },
    { type: 'events', job_id: 'job-1', events: syntheticRun({ jobId: 'job-1', epochs: 2, batchesPerEpoch: 2 }) },
    { type: 'job', job: { ...job, status: 'paused' } },
    { type: 'ack', request_id: 'r1', ok: true, message: 'paused', job },
    { type: 'runs', runs: [{ id: 'job-2', label: 'flies, 20 epochs', status: 'completed' }] },
    { type: 'error', message: 'agent unreachable' },
  ]) assert.ok(extensionMessage.safeParse(m).success, JSON.stringify(m).slice(0, 80));
});

test('protocol: what the webview may post, and what the extension refuses', () => {
  const ok = [
    { type: 'ready' },
    { type: 'ready', job_id: 'job-1' },
    { type: 'command', request_id: 'r1', job_id: 'job-1', command: 'pause' },
    { type: 'compare', job_ids: ['job-2', 'job-3'] },
    { type: 'export', format: 'csv' },
    { type: 'export', format: 'png', data_url: 'data:image/png;base64,iVBORw0KGgo=' },
    { type: 'rendered', job_id: 'job-1', points: 240, best_epoch: 13, t: Date.now() },
  ];
  for (const m of ok) assert.ok(webviewMessage.safeParse(m).success, JSON.stringify(m));
  const bad = [
    { type: 'command', request_id: 'r1', job_id: 'job-1', command: 'rm -rf' },
    { type: 'command', request_id: 'r1', job_id: '../etc', command: 'stop' },
    { type: 'export', format: 'png', data_url: 'javascript:alert(1)' },
    { type: 'export', format: 'png' },
    { type: 'export', format: 'svg' },
    { type: 'compare', job_ids: Array.from({ length: 33 }, (_, i) => `j${i}`) },
    { type: 'nope' },
  ];
  for (const m of bad) assert.equal(webviewMessage.safeParse(m).success, false, JSON.stringify(m).slice(0, 80));
});

test('the HTML shell: strict CSP with the nonce, nothing inline, values escaped', () => {
  const html = monitorHtml({ cspSource: 'https://file+.vscode-resource.vscode-cdn.net', nonce: 'abcdefghijklmnop0123', scriptUri: 'https://x/monitor.js', styleUri: 'https://x/monitor.css', title: 'Job <1> & "2"' });
  assert.ok(html.includes(`content="${monitorCsp('https://file+.vscode-resource.vscode-cdn.net', 'abcdefghijklmnop0123').replace(/'/g, '&#39;')}"`));
  assert.match(html, /script-src &#39;nonce-abcdefghijklmnop0123&#39;/);
  assert.match(html, /<script nonce="abcdefghijklmnop0123" src="https:\/\/x\/monitor.js"><\/script>/);
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.doesNotMatch(html, /style=|<style|onclick|onload/i);
  assert.match(html, /<title>Job &lt;1&gt; &amp; &quot;2&quot;<\/title>/);
  assert.throws(() => monitorHtml({ cspSource: 'x', nonce: 'short', scriptUri: '', styleUri: '', title: '' }));
});
