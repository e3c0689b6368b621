import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogTail, type LogLevel } from '../../src/extension/LogTail.js';
import { monitorHtml } from '../../src/extension/monitor/monitorHtml.js';

test('the log tail shows new lines only, JSON log lines by level, a partial line once complete', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sleap-rtc-tail-')), 'agent.log');
  writeFileSync(file, 'old line from before the window opened\n');
  const got: [LogLevel, string][] = [];
  const tail = new LogTail(file, (l, t) => got.push([l, t]), 60_000);
  try {
    appendFileSync(file, '{"t":"x","level":"warn","ns":"agent:jobs","msg":"worker lost","job_id":"j1"}\nplain text\n{"level":"info","msg":"half');
    tail.poll();
    appendFileSync(file, ' done"}\n');
    tail.poll();
    assert.deepEqual(got, [
      ['warn', '[agent:jobs] worker lost {"job_id":"j1"}'],
      ['info', 'plain text'],
      ['info', '[agent] half done'],
    ]);
    writeFileSync(file, 'after truncation\n');
    tail.poll();
    assert.deepEqual(got.at(-1), ['info', 'after truncation']);
  } finally {
    tail.dispose();
  }
});

test('the monitor shell: strict CSP with a nonce, nothing inline, titles escaped', () => {
  const html = monitorHtml({ cspSource: 'vscode-resource:', nonce: 'abc123', scriptUri: 'vscode-resource:/media/dist/monitor.js', styleUri: 'vscode-resource:/media/dist/monitor.css', title: 'Monitor: <b>x</b>' });
  assert.match(html, /default-src 'none'/);
  assert.match(html, /script-src 'nonce-abc123'/);
  assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
  assert.match(html, /<script nonce="abc123" src="vscode-resource:\/media\/dist\/monitor.js"><\/script>/);
  assert.doesNotMatch(html, /<b>x<\/b>/);
  assert.equal((html.match(/<script/g) ?? []).length, 1);
});
