import type { UploadView } from '../../core/schemas/agent.js';
import { FINAL_STATUSES } from '../../core/jobs/JobEventLog.js';
import { baseName, duration, loss, percent, rate } from '../format.js';
import type { JobEntry } from '../state/AgentState.js';

export interface StatusText {
  text: string;
  tooltip: string;
  /** What a click does: open this job's monitor, or show the Uploads view. */
  target?: { kind: 'job'; jobId: string } | { kind: 'uploads' };
}

const MOVING = new Set(['hashing', 'uploading', 'completing']);

/**
 * The one status-bar item: the active transfer (percent, rate, ETA) or else the running job
 * (epoch/max, loss); nothing when neither. A transfer wins because it is what the researcher
 * waits for before the job can start.
 */
export function statusText(uploads: UploadView[], jobs: JobEntry[]): StatusText | undefined {
  const active = uploads.filter((u) => MOVING.has(u.state));
  if (active.length) {
    const u = active[0];
    const more = active.length > 1 ? ` (+${active.length - 1})` : '';
    const eta = u.eta_s !== undefined ? ` · ETA ${duration(u.eta_s)}` : '';
    return { text: `$(cloud-upload) ${percent(u.bytes_done, u.size)} · ${rate(u.rate_bps) || u.state}${eta}${more}`, tooltip: `Uploading ${baseName(u.path)}: click for the Uploads view`, target: { kind: 'uploads' } };
  }
  const running = jobs.filter((j) => !FINAL_STATUSES.has(j.job.status) && j.job.status !== 'queued');
  if (running.length) {
    const { job, progress: p } = running[0];
    const epoch = p.epoch !== undefined ? `epoch ${p.epoch + 1}${p.maxEpochs ? `/${p.maxEpochs}` : ''}` : job.status;
    const l = p.trainLoss ?? p.batchLoss;
    const more = running.length > 1 ? ` (+${running.length - 1})` : '';
    return { text: `$(pulse) ${epoch}${l !== undefined ? ` · loss ${loss(l)}` : ''}${more}`, tooltip: `Job ${job.id} on ${baseName(job.dataset)} is ${job.status}: click to open the Training Monitor`, target: { kind: 'job', jobId: job.id } };
  }
  return undefined;
}
