// Reading the Training Monitor webview's DOM through the bridge: its root element #monitor keeps
// data-* attributes current (points drawn and held, best epoch, status, last seq).
import type { JobEvent } from '../../../src/core/jobs/index.js';
import { webviewEval } from './bridge.js';

export interface MonitorDom {
  drawn: number;
  total: number;
  bestEpoch?: number;
  status: string;
  lastSeq: number;
  jobId: string;
  text: string;
}

/** The monitor webview of `jobId` (matched by its data-job-id attribute). */
export async function monitorDom(jobId: string): Promise<MonitorDom> {
  return webviewEval<MonitorDom>(
    `data-job-id=${jobId}`,
    `(() => { const d = document.getElementById('monitor').dataset; return { drawn: Number(d.pointsDrawn), total: Number(d.pointsTotal), bestEpoch: d.bestEpoch === undefined ? undefined : Number(d.bestEpoch), status: d.status, lastSeq: Number(d.lastSeq ?? 0), jobId: d.jobId, text: document.body.innerText }; })()`,
    { timeoutMs: 20_000 },
  );
}

const num = (logs: Record<string, number>, keys: string[]) => keys.map((k) => logs[k]).find((v) => typeof v === 'number');

/** What the monitor must hold for a history: train + val + batch points, the best val epoch, the last seq. */
export function expectedFromHistory(events: JobEvent[]): { total: number; bestEpoch?: number; lastSeq: number } {
  let total = 0;
  let best: { epoch: number; v: number } | undefined;
  for (const e of events) {
    if (e.type !== 'progress') continue;
    const d = e.data;
    if (d.event === 'batch_end' && num(d.logs, ['loss', 'train/loss', 'train_loss']) !== undefined) total++;
    if (d.event === 'epoch_end') {
      if (num(d.logs, ['train/loss', 'train_loss', 'loss']) !== undefined) total++;
      const v = num(d.logs, ['val/loss', 'val_loss']);
      if (v !== undefined) {
        total++;
        if (!best || v < best.v) best = { epoch: d.epoch, v };
      }
    }
  }
  return { total, bestEpoch: best?.epoch, lastSeq: events.at(-1)?.seq ?? 0 };
}
