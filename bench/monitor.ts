// The Training Monitor's redraw time in real Chromium: the built bundle (media/dist/monitor.js)
// in the extension's HTML shell, fed 10k, 100k and 1,000,000 batch-loss points, then redrawn
// frame after frame (a) while the user pans and zooms with the keyboard and (b) while live
// batches keep arriving (zoomed out, following the run). Each draw is timed inside the page
// around everything it does (smoothing, decimation, y range, uPlot's draw, the side panel) and
// posted as `rendered.draw_ms`. Default view: log scale, smoothing 0.6, raw drawn under smoothed.
//
//   node --import tsx bench/monitor.ts [--points 10000,100000,1000000] [--frames 120]
import type { Page } from 'playwright-core';
import { openMonitorPage } from '../test/media/support/monitorPage.js';

export interface RedrawFigures {
  points: number;
  /** What drove the redraws. */
  scenario: 'pan-zoom' | 'append';
  frames: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface MonitorBenchOptions {
  sizes?: number[];
  /** Frames measured per size and scenario. */
  frames?: number;
  /** Batch events appended before each frame in the `append` scenario. */
  appendPerFrame?: number;
  batchesPerEpoch?: number;
  log?: (line: string) => void;
}

const JOB = 'bench-job';

function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function figures(points: number, scenario: RedrawFigures['scenario'], ms: number[]): RedrawFigures {
  const s = [...ms].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 100) / 100;
  return { points, scenario, frames: s.length, p50_ms: r(quantile(s, 0.5)), p99_ms: r(quantile(s, 0.99)), max_ms: r(s[s.length - 1]) };
}

/**
 * Generates a run's events inside the page (shipping 1,000,000 events over CDP would measure the
 * pipe) and delivers them as the extension would: `events` messages of `page` events each.
 * Returns the next seq.
 */
async function feed(page: Page, from: { seq: number; step: number }, count: number, nb: number, pageSize = 10_000): Promise<{ seq: number; step: number }> {
  return page.evaluate(
    ({ job, from, count, nb, pageSize }) => {
      let { seq, step } = from;
      const t0 = 1_767_225_600_000;
      let batch: unknown[] = [];
      const flush = () => {
        if (batch.length) window.postMessage({ type: 'events', job_id: job, events: batch }, '*');
        batch = [];
      };
      for (let i = 0; i < count; i++) {
        const epoch = Math.floor(step / nb);
        const b = step % nb;
        step++;
        const loss = 1 / (1 + step / nb) + 0.05 * Math.abs(Math.sin(step * 12.9898));
        batch.push({ type: 'progress', job_id: job, seq: ++seq, data: { event: 'batch_end', epoch, batch: b, logs: { loss } }, t: t0 + step * 20 });
        if (b === nb - 1) batch.push({ type: 'progress', job_id: job, seq: ++seq, data: { event: 'epoch_end', epoch, logs: { 'train/loss': loss, 'val/loss': loss * 1.1 + 0.01 * Math.abs(epoch - 700) / 700 } }, t: t0 + step * 20 + 5 });
        if (batch.length >= pageSize) flush();
      }
      flush();
      return { seq, step };
    },
    { job: JOB, from, count, nb, pageSize },
  );
}

/** The draw times (ms) of the next `frames` draws, each triggered by `step(k)` inside the page. */
async function timeFrames(page: Page, frames: number, kind: 'keys' | 'append', appendPerFrame: number, nb: number, from: { seq: number; step: number }): Promise<number[]> {
  return page.evaluate(
    async ({ frames, kind, appendPerFrame, nb, from, job }) => {
      const posted = (window as unknown as { __posted: { type: string; draw_ms?: number }[] }).__posted;
      const rendered = () => posted.filter((p) => p.type === 'rendered').length;
      const plot = document.querySelector<HTMLElement>('.chart-plot')!;
      const keys = ['+', '+', '+', 'ArrowLeft', 'ArrowLeft', 'ArrowRight', '-', 'ArrowLeft', '+', 'ArrowRight', '-', '-', '0'];
      let { seq, step } = from;
      const out: number[] = [];
      for (let k = 0; k < frames; k++) {
        const before = rendered();
        if (kind === 'keys') {
          plot.dispatchEvent(new KeyboardEvent('keydown', { key: keys[k % keys.length], bubbles: true }));
        } else {
          const events: unknown[] = [];
          for (let i = 0; i < appendPerFrame; i++) {
            const epoch = Math.floor(step / nb);
            step++;
            events.push({ type: 'progress', job_id: job, seq: ++seq, data: { event: 'batch_end', epoch, batch: (step - 1) % nb, logs: { loss: 1 / (1 + step / nb) } }, t: 1_767_225_600_000 + step * 20 });
          }
          window.postMessage({ type: 'events', job_id: job, events }, '*');
        }
        // One draw per frame: wait for it (rAF-driven), then read its time.
        while (rendered() === before) await new Promise((r) => requestAnimationFrame(r));
        const last = posted.filter((p) => p.type === 'rendered').at(-1)!;
        out.push(last.draw_ms ?? Number.NaN);
      }
      return out;
    },
    { frames, kind, appendPerFrame, nb, from, job: JOB },
  );
}

export async function measureMonitor(opts: MonitorBenchOptions = {}): Promise<{ redraw: RedrawFigures[] }> {
  const sizes = opts.sizes ?? [10_000, 100_000, 1_000_000];
  const frames = opts.frames ?? 120;
  const nb = opts.batchesPerEpoch ?? 1000;
  const log = opts.log ?? (() => undefined);
  const redraw: RedrawFigures[] = [];
  for (const n of sizes) {
    // A fresh page per size: no heap or JIT state carried over from the smaller runs.
    const m = await openMonitorPage({ width: 1280, height: 800 });
    try {
      const { page } = m;
      await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((p) => p.type === 'ready'));
      await m.send({
        type: 'init',
        job_id: JOB,
        job: { id: JOB, status: 'training', dataset: 's3://bench/d.pkg.slp', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' },
        config: { trainer: 'sleap-nn', trainer_config: { max_epochs: Math.ceil((n * 2) / nb) } },
      });
      const t = Date.now();
      const at = await feed(page, { seq: 0, step: 0 }, n, nb);
      const total = n + 2 * Math.floor(n / nb);
      await page.waitForFunction((total) => document.getElementById('monitor')?.dataset.pointsTotal === String(total), total, { timeout: 300_000 });
      log(`${n.toLocaleString('en-US')} points loaded and drawn in ${Date.now() - t} ms`);
      const pan = await timeFrames(page, frames, 'keys', 0, nb, at);
      redraw.push(figures(total, 'pan-zoom', pan));
      // Back to following the run, then live batches arrive.
      await page.locator('.chart-plot').press('0');
      const append = await timeFrames(page, frames, 'append', opts.appendPerFrame ?? 50, nb, at);
      redraw.push(figures(total, 'append', append));
      for (const f of redraw.slice(-2)) log(`${f.points.toLocaleString('en-US').padStart(10)} points ${f.scenario.padEnd(8)} p50 ${f.p50_ms} ms  p99 ${f.p99_ms} ms  max ${f.max_ms} ms  (${f.frames} frames)`);
      const problems = await m.problems();
      if (problems.length) throw new Error(`the page reported: ${problems.join('; ')}`);
    } finally {
      await m.close();
    }
  }
  return { redraw };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = arg('points')?.split(',').map(Number);
  const frames = arg('frames') ? Number(arg('frames')) : undefined;
  const r = await measureMonitor({ sizes, frames, log: (l) => console.log(l) });
  console.log(JSON.stringify(r, null, 2));
}
