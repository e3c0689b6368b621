import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobEvent } from '../../src/core/jobs/JobEventLog.js';
import { CSV_HEADER, csvField, csvLines, csvNumber } from '../../src/core/monitor/csv.js';
import { historyPages } from '../../src/core/monitor/historyPages.js';
import { overlappingPages, syntheticRun } from './support/synthetic.js';

async function text(pages: Iterable<readonly JobEvent[]> | AsyncIterable<readonly JobEvent[]>): Promise<string> {
  let s = '';
  for await (const chunk of csvLines(pages)) s += chunk;
  return s;
}

function rows(csv: string): string[][] {
  return csv.trimEnd().split('\n').slice(1).map((l) => l.split(','));
}

test('csv: every logged number exported once, with seq, epoch, batch, step and time', async () => {
  const events = syntheticRun({ epochs: 20, batchesPerEpoch: 10 });
  const csv = await text([events]);
  assert.equal(csv.split('\n')[0], CSV_HEADER);
  const r = rows(csv);
  // 200 batch losses + 20 x (train_loss, val_loss, learning_rate, epoch_time_s).
  assert.equal(r.length, 200 + 20 * 4);
  const count = (name: string) => r.filter((x) => x[0] === name).length;
  assert.equal(count('batch_loss'), 200);
  assert.equal(count('train_loss'), 20);
  assert.equal(count('val_loss'), 20);
  assert.equal(count('learning_rate'), 20);
  assert.equal(count('epoch_time_s'), 20);
  const firstBatch = r.find((x) => x[0] === 'batch_loss')!;
  const e = events.find((x) => x.type === 'progress' && x.data.event === 'batch_end')!;
  assert.ok(e.type === 'progress' && e.data.event === 'batch_end');
  assert.deepEqual(firstBatch, ['batch_loss', String(e.seq), '0', '0', '1', String(e.t), String(e.data.logs.loss)]);
  const lastVal = r.filter((x) => x[0] === 'val_loss').at(-1)!;
  assert.equal(lastVal[2], '19');
  assert.equal(lastVal[3], '', 'no batch on an epoch row');
  assert.equal(lastVal[4], '200', 'the step the epoch ended at');
  // Values round-trip exactly.
  for (const x of r) assert.equal(String(Number(x[6])), x[6]);
});

test('csv: pages that overlap give the same file as one page', async () => {
  const events = syntheticRun({ epochs: 20, batchesPerEpoch: 10 });
  const one = await text([events]);
  assert.equal(await text(overlappingPages(events, 33, 9)), one);
  assert.equal(await text([events, events.slice(100), events]), one, 'replays add nothing');
});

test('csv: the builtin trainer\'s keys map to the same series; unknown keys keep their names', async () => {
  const ev: JobEvent[] = [
    { type: 'progress', job_id: 'j', seq: 1, data: { event: 'batch_end', epoch: 0, batch: 0, logs: { 'train/loss': 0.5, grad_norm: 2 } }, t: 10 },
    { type: 'progress', job_id: 'j', seq: 2, data: { event: 'epoch_end', epoch: 0, logs: { 'train/loss': 0.4, 'val/loss': 0.6, learning_rate: 0.001, 'eval/mOKS': 0.7 } }, t: 20 },
  ];
  assert.deepEqual(rows(await text([ev])), [
    ['batch_loss', '1', '0', '0', '1', '10', '0.5'],
    ['batch:grad_norm', '1', '0', '0', '1', '10', '2'],
    ['train_loss', '2', '0', '', '1', '20', '0.4'],
    ['val_loss', '2', '0', '', '1', '20', '0.6'],
    ['learning_rate', '2', '0', '', '1', '20', '0.001'],
    ['eval/mOKS', '2', '0', '', '1', '20', '0.7'],
  ]);
});

test('csv: streaming a 1,000,000-point history by pages holds one page at a time', async () => {
  const n = 1_000_000;
  const pageSize = 5000;
  let served = 0;
  // The agent's history: made page by page on request, as GET /api/jobs/:id?after_seq&limit does.
  const fetchPage = async (after: number, limit: number): Promise<JobEvent[]> => {
    const page: JobEvent[] = [];
    for (let seq = after + 1; seq <= Math.min(n, after + limit); seq++) page.push({ type: 'progress', job_id: 'j', seq, data: { event: 'batch_end', epoch: Math.floor((seq - 1) / 1000), batch: (seq - 1) % 1000, logs: { loss: 1 / seq } }, t: seq });
    served += page.length;
    return page;
  };
  let lines = 0;
  let bytes = 0;
  let maxChunk = 0;
  for await (const chunk of csvLines(historyPages(fetchPage, { pageSize }))) {
    lines += chunk.split('\n').length - 1;
    bytes += chunk.length;
    maxChunk = Math.max(maxChunk, chunk.length);
  }
  assert.equal(served, n);
  assert.equal(lines, n + 1);
  assert.ok(maxChunk < 100 * pageSize, `chunks are one page each (${maxChunk} chars)`);
  console.log(`csv of 1,000,000 points: ${(bytes / 1e6).toFixed(1)} MB in chunks of at most ${maxChunk} chars`);
});

test('historyPages stops on a short page, an empty one, or one that does not advance', async () => {
  const calls: number[] = [];
  const pages = [[1, 2], [3]].map((seqs) => seqs.map((seq) => ({ type: 'status', job_id: 'j', seq, status: 'training', t: 0 }) as JobEvent));
  let i = 0;
  for await (const p of historyPages(async (after) => (calls.push(after), pages[i++] ?? []), { pageSize: 2 })) assert.ok(p.length > 0);
  assert.deepEqual(calls, [0, 2]);
  const stuck = historyPages(async () => pages[0], { pageSize: 2, afterSeq: 5 });
  let n = 0;
  for await (const _ of stuck) n++;
  assert.equal(n, 1, 'a page that does not move past after_seq ends the paging');
});

test('csv numbers and fields', () => {
  assert.equal(csvNumber(0.1), '0.1');
  assert.equal(csvNumber(1e-7), '1e-7');
  assert.equal(csvNumber(Number.NaN), 'nan');
  assert.equal(csvNumber(Number.NEGATIVE_INFINITY), '-inf');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
});
