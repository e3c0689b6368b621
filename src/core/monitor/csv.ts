/**
 * The full-data CSV of a run, written by the extension as it pages the agent's history (the
 * webview holds only what it draws). Long form, one row per logged number:
 *
 *   series,seq,epoch,batch,step,time_ms,value
 *   batch_loss,12,0,3,4,1767225600123,0.0831
 *   train_loss,40,0,,30,1767225600456,0.0712
 *
 * Why long rather than wide (one row per epoch with a column per metric): batch and epoch values
 * do not share rows (a wide file is mostly empty cells, or must average the batches away), new
 * metrics (sleap-nn's `eval/*`) need no header change mid-stream, and each row can be written as
 * its event arrives, with nothing held: a 1,000,000-point history streams in constant memory.
 * `df.pivot_table(index="epoch", columns="series", values="value")` gives the wide view.
 *
 * Columns: `series` is `batch_loss`, `train_loss`, `val_loss`, `learning_rate`, `epoch_time_s`
 * for the known keys of either vocabulary (sleap-nn's or the builtin trainer's), else the log key
 * itself (batch keys prefixed `batch:`); `epoch` and `batch` are sleap-nn's 0-based indices (as in
 * training_log.csv; `batch` empty on epoch rows); `step` is the global step, the count of
 * batch_end events so far (an epoch row has the step it ended at); `time_ms` is the worker's wall
 * clock (Unix ms).
 */
import type { JobEvent } from '../jobs/JobEventLog.js';
import { namedValues } from './metrics.js';

export const CSV_HEADER = 'series,seq,epoch,batch,step,time_ms,value';

/** A number as CSV: shortest round-trip form; NaN and infinities as numpy/pandas read them. */
export function csvNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  return String(v);
}

/** A name as a CSV field (RFC 4180 quoting when it holds a comma, quote or newline). */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The CSV text from a run's events given in pages, in seq order: the header line, then per page
 * one chunk of whole lines (each ending in "\n": fewer, larger writes for a file stream). Pages
 * may overlap: an event at or below the last seq written is skipped, so every point is written
 * once. Only the running step count and the last seq are kept between pages.
 */
export async function* csvLines(pages: AsyncIterable<readonly JobEvent[]> | Iterable<readonly JobEvent[]>): AsyncGenerator<string> {
  yield CSV_HEADER + '\n';
  let lastSeq = 0;
  let step = 0;
  for await (const page of pages) {
    let chunk = '';
    for (const e of page) {
      if (e.seq <= lastSeq) continue;
      lastSeq = e.seq;
      if (e.type !== 'progress') continue;
      const d = e.data;
      if (d.event === 'batch_end') {
        step++;
        for (const [name, v] of namedValues('batch', d.logs)) chunk += `${csvField(name)},${e.seq},${d.epoch},${d.batch},${step},${e.t},${csvNumber(v)}\n`;
      } else if (d.event === 'epoch_end') {
        for (const [name, v] of namedValues('epoch', d.logs)) chunk += `${csvField(name)},${e.seq},${d.epoch},,${step},${e.t},${csvNumber(v)}\n`;
      }
    }
    if (chunk) yield chunk;
  }
}
