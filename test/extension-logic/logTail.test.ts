import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogTail, type LogLevel } from '../../src/extension/LogTail.js';

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
