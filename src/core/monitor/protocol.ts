import { z } from 'zod';
import { jobView, slpSummaryView } from '../schemas/agent.js';
import { jobCommandName, jobEventSchema } from '../schemas/datachannel.js';
import { jobId, jobStatusValue } from '../schemas/jobs.js';

/**
 * The messages between the extension and the Training Monitor webview (postMessage, both ways).
 * The webview never sees the agent's token nor opens a socket: the extension relays the agent's
 * job events to it and carries its commands back. The extension validates everything the webview
 * posts (`webviewMessage`); the webview imports only the types (zod stays out of its bundle, and
 * what the extension sends has been validated when it came from the agent).
 */

// ---- extension -> webview ----

/**
 * A run to draw. The panel's own job first (`overlay` absent or false); `overlay: true` for a run
 * the webview asked to compare. Sent again after a webview reload (the points are not kept in the
 * webview's state: the history follows as `events`).
 */
export const initMessage = z.object({
  type: z.literal('init'),
  job_id: jobId,
  job: jobView,
  /** The training config as submitted (sleap-nn's sections; `trainer_config.max_epochs` gives the ETA). */
  config: z.record(z.string(), z.unknown()),
  /** The dataset's labels file as the agent read it, when the job's dataset was uploaded from here. */
  summary: slpSummaryView.optional(),
  overlay: z.boolean().optional(),
});

/**
 * Some of a job's events, ordered by seq. Pages may overlap what was sent before (history, then
 * live, then a replay after an agent restart): the webview keeps each seq once, so no point is
 * drawn twice. Events may also fill a gap below what was sent (they are merged in seq order).
 */
export const eventsMessage = z.object({ type: z.literal('events'), job_id: jobId, events: z.array(jobEventSchema) });

/** The job changed state (the buttons follow `job.status`). */
export const jobMessage = z.object({ type: z.literal('job'), job: jobView });

/** The worker's answer to a `command` (matched by request_id); `job` when the agent returned the new view. */
export const ackMessage = z.object({ type: z.literal('ack'), request_id: z.string().min(1).max(64), ok: z.boolean(), message: z.string(), job: jobView.optional() });

export const runSummary = z.object({ id: jobId, label: z.string(), status: jobStatusValue });
export type RunSummary = z.infer<typeof runSummary>;
/** The jobs that can be overlaid (the picker lists them; the panel's own job may be among them). */
export const runsMessage = z.object({ type: z.literal('runs'), runs: z.array(runSummary) });

/** Something went wrong on the extension side (agent unreachable, export failed): shown in the status line. */
export const errorMessage = z.object({ type: z.literal('error'), message: z.string() });

export const extensionMessage = z.discriminatedUnion('type', [initMessage, eventsMessage, jobMessage, ackMessage, runsMessage, errorMessage]);
export type ExtensionMessage = z.infer<typeof extensionMessage>;
export type InitMessage = z.infer<typeof initMessage>;
export type EventsMessage = z.infer<typeof eventsMessage>;
export type AckMessage = z.infer<typeof ackMessage>;

// ---- webview -> extension ----

/** The webview's script runs (first load or reload): answer with `init` + history `events` (+ `runs`). */
export const readyMessage = z.object({ type: z.literal('ready'), job_id: jobId.optional() });

/** A button was pressed; the extension sends it to the agent and answers with `ack` (same request_id). */
export const commandMessage = z.object({ type: z.literal('command'), request_id: z.string().min(1).max(64), job_id: jobId, command: jobCommandName });

/**
 * The full set of runs to overlay (the panel's own job excluded); the extension sends `init`
 * (`overlay: true`) and `events` for each new one and stops relaying the ones left out.
 */
export const compareMessage = z.object({ type: z.literal('compare'), job_ids: z.array(jobId).max(32) });

/**
 * Export. CSV: the extension writes the full history itself (the webview holds only what it
 * draws), paging the agent through `csvLines` (src/core/monitor/csv.ts); `job_ids` names the
 * run(s) drawn, the panel's own job first.
 * PNG: the chart as drawn, as a data URL (at most ~16 MB).
 */
export const exportMessage = z.discriminatedUnion('format', [
  z.object({ type: z.literal('export'), format: z.literal('csv'), job_ids: z.array(jobId).max(32).optional() }),
  z.object({ type: z.literal('export'), format: z.literal('png'), data_url: z.string().max(16 * 1024 * 1024).regex(/^data:image\/png;base64,[A-Za-z0-9+/=]*$/, 'a PNG data URL') }),
]);

/**
 * Posted after each draw: points drawn (after decimation) and in the store, the best validation
 * epoch (sleap-nn's 0-based index), the last seq drawn and how long the draw took. For tests and
 * the latency benchmark; the extension may ignore it.
 */
export const renderedMessage = z.object({
  type: z.literal('rendered'),
  job_id: jobId,
  points: z.number().int().min(0),
  total: z.number().int().min(0).optional(),
  best_epoch: z.number().int().min(0).optional(),
  last_seq: z.number().int().min(0).optional(),
  draw_ms: z.number().min(0).optional(),
  /** Wall clock (Date.now()) when the draw ended. */
  t: z.number(),
});

export const webviewMessage = z.discriminatedUnion('type', [readyMessage, commandMessage, compareMessage, exportMessage, renderedMessage]);
export type WebviewMessage = z.infer<typeof webviewMessage>;
export type CommandMessage = z.infer<typeof commandMessage>;
export type ExportMessage = z.infer<typeof exportMessage>;
export type RenderedMessage = z.infer<typeof renderedMessage>;
