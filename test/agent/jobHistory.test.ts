import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { JobHistory } from '../../src/agent/jobs/JobHistory.js';
import { renderLossChart } from '../../src/agent/LossChart.js';
import { lossesOf } from '../../src/agent/trainCommand.js';

const dir = mkdtempSync(join(tmpdir(), 'job-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const progress = (seq: number) => ({ type: 'progress' as const, job_id: 'j1', seq, t: seq, data: { event: 'epoch_end' as const, epoch: seq, logs: { 'train/loss': 1 / seq } } });

test('a job history is appended line by line and read back in order', () => {
  const h = new JobHistory(dir, 'j1');
  for (let i = 1; i <= 5; i++) h.append(progress(i));
  h.append(progress(3)); // a replayed event already held is ignored
  assert.throws(() => h.append(progress(9)), /seq 9 after 5/);
  h.close();
  assert.equal(readFileSync(join(dir, 'j1.jsonl'), 'utf8').trim().split('\n').length, 5, 'one line per event, never rewritten');
  const again = new JobHistory(dir, 'j1');
  assert.equal(again.lastSeq, 5);
  assert.deepEqual(again.after(3).map((e) => e.seq), [4, 5]);
  again.close();
});

test('a line cut short by a kill -9 is dropped and cut off, so the next append starts clean', () => {
  const h = new JobHistory(dir, 'j2');
  h.append({ ...progress(1), job_id: 'j2' });
  h.close();
  appendFileSync(join(dir, 'j2.jsonl'), '{"type":"progress","job_id":"j2","se');
  const again = new JobHistory(dir, 'j2');
  assert.equal(again.lastSeq, 1);
  again.append({ ...progress(2), job_id: 'j2' });
  again.close();
  assert.deepEqual(JobHistory.read(join(dir, 'j2.jsonl')).map((e) => e.seq), [1, 2]);
});

test('the loss chart plots train (*) and val (o), labels the range and the epochs, and switches to a log scale over two decades', () => {
  const lines = renderLossChart([
    { epoch: 0, train: 4, val: 5 },
    { epoch: 1, train: 2, val: 3 },
    { epoch: 2, train: 1, val: 1.5 },
  ], { width: 20, height: 5 });
  assert.equal(lines.length, 5 + 3);
  assert.match(lines[0], /^\s*5\.000 \|/);
  assert.match(lines[4], /^\s*1\.000 \|/);
  assert.ok(lines.slice(0, 5).join('').includes('*') && lines.slice(0, 5).join('').includes('o'));
  assert.match(lines[6], /0\s+2\s+epoch$/);
  assert.match(lines[7], /\* train 1\.000\s+o val 1\.500/);
  const log = renderLossChart(Array.from({ length: 200 }, (_, i) => ({ epoch: i, train: 1000 / (i + 1) })), { width: 40, height: 8 });
  assert.match(log.join('\n'), /log scale/);
  assert.equal(log[0].split('|')[1].length, 40, '200 epochs are averaged into 40 columns');
  assert.deepEqual(renderLossChart([]), ['(no losses yet)']);
});

test('a loss that goes to ~0 keeps the log axis to the useful decades: the validation curve is not drawn flat', () => {
  // The case seen: a one-frame dataset, train loss down to 6.9e-33, validation near 0.01-0.1.
  const pts = Array.from({ length: 40 }, (_, i) => ({ epoch: i, train: 0.099 * 10 ** (-i * 0.8), val: 0.099 - i * 0.002 }));
  const lines = renderLossChart(pts, { width: 40, height: 10 });
  const bottom = Number(lines[9].split('|')[0].trim());
  assert.ok(bottom >= 0.099e-4 && bottom <= 0.0022, `the axis ends within 4 decades of the top and a decade under val (${bottom}), not at 6.9e-33`);
  const valRows = new Set(lines.slice(0, 10).flatMap((l, r) => (l.includes('o') || l.includes('@') ? [r] : [])));
  assert.ok(valRows.size >= 3, `the validation curve spans rows (${[...valRows].join(',')}), it is not flat`);
  assert.ok(lines[9].includes('*'), 'train losses below the range sit on the bottom row');
});

test('losses are read under sleap-nn names or the short ones', () => {
  assert.deepEqual(lossesOf({ 'train/loss': 1, 'val/loss': 2 }), { train: 1, val: 2 });
  assert.deepEqual(lossesOf({ train_loss: 3, val_loss: 4 }), { train: 3, val: 4 });
  assert.deepEqual(lossesOf({ loss: 5 }), { train: 5, val: undefined });
});
