import { basename } from 'node:path';
import type { AgentClient } from '../core/AgentClient.js';
import { bytes } from '../core/bytes.js';
import { AppError, type ErrorCode } from '../core/errors.js';
import { uploadEventData, uploadView, type UploadView } from '../core/schemas/agent.js';
import type { Dataset } from './datasets.js';
import { ProgressBar } from './ProgressBar.js';
import { describeSlp } from './uploadView.js';

const ENDED = ['completed', 'failed', 'cancelled'];

/**
 * `sleap-rtc upload` while the data folder's agent runs: the agent holds the ledger's lock, so
 * the upload is its own (POST /api/uploads), shown in its API and the extension like any other,
 * and this process only draws the agent's progress (its SSE events) with the same lines as a
 * standalone run. An unfinished upload of the same path is resumed rather than started again.
 *
 * Ctrl-C pauses the upload in the agent instead of detaching: the user asked the transfer to
 * stop, as it does standalone, and the same command resumes it (POST /api/uploads/:id/resume).
 */
export async function uploadThroughAgent(agent: AgentClient, abs: string, dataset: Dataset, json: boolean): Promise<void> {
  const ctrl = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    ctrl.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let id: string | undefined;
  try {
    process.stderr.write(`uploading through the running agent at ${agent.url}\n`);
    // Open before the upload starts, so that none of its events is missed.
    const stream = await agent.openEvents(ctrl.signal);
    // Not aborted by Ctrl-C: once asked, the agent has the upload, and it is paused by its id.
    const start = await startOrResume(agent, abs, dataset);
    id = start.id;
    if (start.slp) process.stderr.write(`${describeSlp(start.slp)}\n`);
    for (const w of start.warnings) process.stderr.write(`warning: ${w}\n`);
    const bar = new ProgressBar(process.stderr, basename(abs));
    let toldResumed = false;
    let last = start;
    const show = (v: UploadView, force: boolean): void => {
      last = v;
      if (v.resumed && !toldResumed) {
        toldResumed = true;
        bar.note(`resuming: ${v.resumed.parts_reused} of ${v.resumed.part_count} parts, ${bytes(v.resumed.bytes_reused)}, already on the server`);
      }
      bar.setWaiting(v.waiting);
      bar.update({ bytesDone: v.bytes_done, total: v.size, rateBps: v.rate_bps, etaS: v.eta_s, state: v.state }, force);
    };
    show(start, true);
    if (!settled(start)) {
      try {
        for await (const ev of stream) {
          if (ev.event !== 'upload') continue;
          const d = uploadEventData.safeParse(ev.data);
          if (!d.success || d.data.upload.id !== id) continue;
          show(d.data.upload, d.data.type !== 'progress');
          if (settled(d.data.upload)) break;
        }
      } catch {
        // The agent went away mid-stream (its socket closed): said below, as an upload not settled.
      }
    }
    bar.done();
    if (interrupted) return;
    for (const w of last.warnings.filter((x) => !start.warnings.includes(x))) process.stderr.write(`warning: ${w}\n`);
    if (!settled(last)) {
      throw new AppError('unavailable', `the agent at ${agent.url} stopped answering during the upload of ${abs} (upload ${id}): it resumes the upload when it starts again; or run the same command again`);
    }
    if (last.state === 'paused') throw new AppError('conflict', `upload ${id} of ${abs} was paused in the agent by another client: run the same command again to resume it`);
    if (last.state === 'cancelled') throw new AppError('conflict', `upload ${id} of ${abs} was deleted in the agent by another client: run the same command again to upload it anew`);
    if (last.state !== 'completed') throw new AppError((last.error?.code as ErrorCode | undefined) ?? 'internal', `upload of ${abs} failed: ${last.error?.message ?? last.state}`);
    if (json) process.stdout.write(JSON.stringify({ upload_id: last.id, key: last.key, bucket: last.bucket, size: last.size, sha256: last.sha256 }) + '\n');
    else process.stderr.write(`uploaded ${abs} (${bytes(last.size)}) to ${last.s3_path}\n`);
  } catch (e) {
    // Ctrl-C while the stream was opening: the finally below says what became of the upload.
    if (!interrupted) throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    ctrl.abort();
    if (interrupted) await pauseOnInterrupt(agent, abs, id);
  }
}

/** Where a run of the command ends: the upload finished, failed, was removed, or paused by someone. */
function settled(v: UploadView): boolean {
  return ENDED.includes(v.state) || v.state === 'paused';
}

/** The agent's unfinished upload of this path, resumed (a folder whose files changed is started anew), else a new one. */
async function startOrResume(agent: AgentClient, abs: string, dataset: Dataset): Promise<UploadView> {
  const list = (await agent.call<{ uploads: unknown[] }>('GET', '/api/uploads')).uploads.map((u) => uploadView.parse(u));
  const old = list.filter((u) => u.path === abs && !['completed', 'cancelled'].includes(u.state)).at(-1);
  // A file that changed is restarted by the agent itself, with a warning; a folder's list of files is fixed at its start.
  if (old && (dataset.kind === 'file' || old.size === dataset.size)) {
    process.stderr.write(`resuming upload ${old.id} of ${abs} (${bytes(old.size)}): asking the server what it already has\n`);
    return uploadView.parse(await agent.call('POST', `/api/uploads/${encodeURIComponent(old.id)}/resume`));
  }
  if (old) await agent.call('DELETE', `/api/uploads/${encodeURIComponent(old.id)}`);
  return uploadView.parse(await agent.call('POST', '/api/uploads', { path: abs }));
}

async function pauseOnInterrupt(agent: AgentClient, abs: string, id: string | undefined): Promise<void> {
  process.exitCode = 130;
  if (!id) {
    process.stderr.write('\ninterrupted before the agent had the upload: nothing to pause\n');
    return;
  }
  try {
    await agent.call('POST', `/api/uploads/${encodeURIComponent(id)}/pause`);
    process.stderr.write(`\ninterrupted: upload ${id} of ${abs} is paused in the agent; run the same command again to resume\n`);
  } catch (e) {
    // Finished or failed meanwhile: nothing is left to pause.
    process.stderr.write(`\ninterrupted: upload ${id} could not be paused (${(e as Error).message})\n`);
  }
}
