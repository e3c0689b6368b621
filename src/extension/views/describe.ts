import { FINAL_STATUSES } from '../../core/jobs/JobEventLog.js';
import type { UploadView } from '../../core/schemas/agent.js';
import type { ManifestModel } from '../../core/schemas/manifest.js';
import { baseName, bytes, duration, loss, percent, rate, shortDate } from '../format.js';
import type { JobEntry, PeerInfo } from '../state/AgentState.js';

/**
 * What each row of the sidebar says (label, description, tooltip, context value), as pure
 * functions of the agent's views, so they are tested without VS Code.
 */
export interface Row {
  label: string;
  description: string;
  tooltip: string;
  /** `contextValue`: the `when` clauses of the inline actions match it (package.json menus). */
  context: string;
  icon: string;
  /** ThemeColor id for the icon, when the state deserves one. */
  color?: string;
}

const ACTIVE_UPLOAD = new Set(['queued', 'hashing', 'uploading', 'completing']);

export function uploadRow(u: UploadView, now: number = Date.now()): Row {
  const parts: string[] = [u.state];
  if (u.state !== 'completed' && u.state !== 'cancelled') parts.push(percent(u.bytes_done, u.size));
  // S3 or the backend does not answer: the upload waits for it (and says since when).
  const since = u.waiting ? Date.parse(u.waiting.since) : NaN;
  if (u.waiting) parts.push(`waiting for ${u.waiting.service === 'S3' ? 'S3' : 'the backend'} (${duration(Number.isFinite(since) ? Math.max(0, (now - since) / 1000) : u.waiting.waited_s)})`);
  else if (u.state === 'uploading') {
    if (u.rate_bps) parts.push(rate(u.rate_bps));
    if (u.eta_s !== undefined) parts.push(`ETA ${duration(u.eta_s)}`);
  }
  if (u.state === 'completed') parts.push(bytes(u.size));
  const tip = [u.path, `${bytes(u.bytes_done)} of ${bytes(u.size)}`, u.s3_path && `stored at ${u.s3_path}`, u.sha256 && `SHA-256 ${u.sha256}`, u.error && `error: ${u.error.message}`, u.waiting && `waiting for ${u.waiting.endpoint}: unreachable since ${u.waiting.since} (${u.waiting.reason})`, ...u.warnings.map((w) => `warning: ${w}`)];
  if (u.slp) tip.push(`${u.slp.labeled_frames} labelled frames, ${u.slp.videos.length} video(s), skeleton ${u.slp.skeletons.map((s) => s.nodes.length + ' nodes').join(', ')}`);
  const context = ACTIVE_UPLOAD.has(u.state) ? 'upload-active' : u.state === 'paused' ? 'upload-paused' : u.state === 'failed' ? 'upload-failed' : 'upload-done';
  const icon = { queued: 'clock', hashing: 'loading~spin', uploading: 'sync~spin', completing: 'loading~spin', paused: 'debug-pause', completed: 'pass', failed: 'error', cancelled: 'circle-slash' }[u.state];
  return { label: baseName(u.path), description: parts.join(' · '), tooltip: tip.filter(Boolean).join('\n'), context, icon, color: u.state === 'failed' ? 'errorForeground' : u.warnings.length ? 'editorWarning.foreground' : undefined };
}

const RUNNING = new Set(['accepted', 'downloading', 'uploading']);

export function jobRow(e: JobEntry): Row {
  const { job, progress: p } = e;
  // A job waiting in its worker's queue shows its place there: "queued (2)".
  const parts: string[] = [job.status === 'queued' && job.queue_position !== undefined ? `queued (${job.queue_position})` : job.status];
  if (p.epoch !== undefined) parts.push(`epoch ${p.epoch + 1}${p.maxEpochs ? `/${p.maxEpochs}` : ''}`);
  if (p.trainLoss !== undefined || p.valLoss !== undefined) parts.push(`loss ${loss(p.trainLoss)}${p.valLoss !== undefined ? ` / val ${loss(p.valLoss)}` : ''}`);
  else if (job.model?.metrics) {
    const m = job.model.metrics;
    const v = m.val_loss ?? m['val/loss'] ?? m.final_val_loss;
    if (v !== undefined) parts.push(`val ${loss(v)}`);
  }
  if (job.worker) parts.push(job.worker);
  const tip = [`job ${job.id}`, `dataset ${job.dataset}`, job.worker && `worker ${job.worker}`, `submitted ${shortDate(job.created_at)}`, job.model && `model ${job.model.model_id} at ${job.model.s3_path}`, job.error && `error (${job.error.code}): ${job.error.message}`];
  const context = RUNNING.has(job.status) ? `job-running-${job.status}` : `job-${job.status}`;
  const icon = FINAL_STATUSES.has(job.status)
    ? { completed: 'pass', stopped: 'debug-stop', cancelled: 'circle-slash', failed: 'error' }[job.status as 'completed']
    : { queued: 'clock', accepted: 'loading~spin', downloading: 'cloud-download', training: 'pulse', paused: 'debug-pause', uploading: 'cloud-upload' }[job.status as 'queued'];
  return { label: baseName(job.dataset), description: parts.join(' · '), tooltip: tip.filter(Boolean).join('\n'), context, icon, color: job.status === 'failed' ? 'errorForeground' : undefined };
}

export function workerRow(w: PeerInfo): Row {
  const props = w.metadata.properties;
  const status = String(props.status ?? 'unknown');
  const gpu = props.gpu_model ? String(props.gpu_model) : 'no GPU reported';
  const mem = typeof props.gpu_memory_mb === 'number' ? ` ${bytes(props.gpu_memory_mb * 1024 * 1024)}` : '';
  const trainers = w.metadata.tags.filter((t) => t !== 'worker');
  const tip = [`worker ${w.peer_id}`, `status ${status}`, `trainer ${trainers.join(', ') || '?'}`, `GPU ${gpu}${mem}`, props.running_jobs !== undefined && `jobs running ${String(props.running_jobs)} of ${String(props.max_jobs ?? '?')}`, props.sleap_rtc_version && `sleap-rtc ${String(props.sleap_rtc_version)}`];
  const icon = status === 'available' ? 'vm-active' : status === 'busy' ? 'vm-running' : 'vm-outline';
  return { label: w.peer_id, description: [status, trainers.join(', '), gpu + mem].filter(Boolean).join(' · '), tooltip: tip.filter(Boolean).join('\n'), context: 'worker', icon };
}

export function modelRow(m: ManifestModel): Row {
  const t = m.training;
  const parts = [m.model_type, t.final_loss !== null ? `final loss ${loss(t.final_loss)}` : '', `${t.epochs} epochs`, shortDate(m.trained_at)];
  const tip = [`model ${m.id}${m.alias ? ` (${m.alias})` : ''}`, `at ${m.s3_path}`, `${bytes(m.size_bytes)}`, `dataset ${t.dataset_hash}`, m.trained_on_worker && `trained on ${m.trained_on_worker}`, `training took ${duration(t.training_duration_sec)}`];
  return { label: m.alias ? `${m.alias} (${m.id})` : m.id, description: parts.filter(Boolean).join(' · '), tooltip: tip.filter(Boolean).join('\n'), context: 'model', icon: 'package' };
}
