import { z } from 'zod';
import { createJobBody, createUploadBody, createWatchBody, deleteWatchBody, jobCommandBody, jobView, modelDownloadBody, uploadView } from '../core/schemas/agent.js';
import { jobCommandName } from '../core/schemas/datachannel.js';
import { manifestModel } from '../core/schemas/manifest.js';
import { agentHealthSchema } from '../core/agentConnection.js';
import { VERSION } from '../core/version.js';

export const watchView = z.object({ path: z.string(), auto_upload: z.boolean() });
export const errorView = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export const uploadEventView = z.object({ type: z.enum(['state', 'progress', 'removed']), upload: uploadView });

export const jobEventView = z.object({ type: z.enum(['state', 'event']), job: jobView, event: z.record(z.string(), z.unknown()).optional().describe('a DataChannel job event (status, progress, job_complete, job_failed) with its seq') });
const jobWithHistory = jobView.extend({ events: z.array(z.record(z.string(), z.unknown())).describe('the progress history, in seq order') });
const workerView = z.object({ peer_id: z.string(), role: z.string(), metadata: z.object({ tags: z.array(z.string()), properties: z.record(z.string(), z.unknown()) }) });
const modelFiles = z.object({ model_id: z.string(), dest: z.string(), files: z.array(z.object({ name: z.string(), path: z.string(), size: z.number(), sha256: z.string() })) });

const json = (s: z.ZodType): unknown => z.toJSONSchema(s, { io: 'output', unrepresentable: 'any' });
const body = (s: z.ZodType) => ({ required: true, content: { 'application/json': { schema: z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) } } });
const ok = (s: z.ZodType, description = 'OK') => ({ description, content: { 'application/json': { schema: json(s) } } });
const errors = { '400': ok(errorView, 'bad request'), '401': ok(errorView, 'missing or wrong token'), '403': ok(errorView, 'Host or Origin not allowed'), '404': ok(errorView, 'not found') };
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];

/** The agent's OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
/** Path template -> method -> operation (what the 405 middleware reads too). */
export type OpenApiPaths = Record<string, Partial<Record<'get' | 'put' | 'post' | 'delete' | 'patch', unknown>>>;

export function openApiDocument(url: string): { paths: OpenApiPaths } & Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'sleap-rtc agent', version: VERSION, description: 'Local agent API on 127.0.0.1. Every /api route needs "Authorization: Bearer <token>" (the token is in <data>/agent/token). Clients find the agent of a data folder, its URL and token, in <data>/agent/agent.json {url, token, pid, version} (mode 0600, present while the agent runs).' },
    servers: [{ url }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: withCommonErrors({
      '/health': {
        get: {
          summary: 'Liveness: that an agent answers here, its version and pid (no token; Host and Origin are still checked). Clients use it to tell a live agent from a stale connection file and to notice a restart.',
          security: [],
          responses: { '200': ok(agentHealthSchema), '403': ok(errorView, 'Host or Origin not allowed') },
        },
      },
      '/api/uploads': {
        post: { summary: 'Upload a dataset (.slp, .pkg.slp, .zip or a folder)', requestBody: body(createUploadBody), responses: { '201': ok(uploadView, 'created'), ...errors } },
        get: { summary: 'All uploads', responses: { '200': ok(z.object({ uploads: z.array(uploadView) })), ...errors } },
      },
      '/api/uploads/{id}': {
        get: { summary: 'One upload', parameters: idParam, responses: { '200': ok(uploadView), ...errors } },
        delete: { summary: 'Cancel (abort the multipart upload) and forget an upload', parameters: idParam, responses: { '204': { description: 'deleted' }, ...errors } },
      },
      '/api/uploads/{id}/pause': { post: { summary: 'Pause', parameters: idParam, responses: { '200': ok(uploadView), ...errors } } },
      '/api/uploads/{id}/resume': { post: { summary: 'Resume', parameters: idParam, responses: { '200': ok(uploadView), ...errors } } },
      '/api/events': {
        get: {
          summary:
            'Server-sent events: `event: upload` with data ' +
            JSON.stringify(Object.keys(uploadEventView.shape)) +
            ', `event: job` with data ' +
            JSON.stringify(Object.keys(jobEventView.shape)) +
            '. Each has an id `<run>.<n>`; reconnecting with Last-Event-ID (or ?last_event_id=) first sends the events missed (the last 10,000 are kept), or `event: reset` with data {reason, message} when they are not all kept or the agent restarted: then re-read GET /api/uploads and /api/jobs.',
          parameters: [
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'the id of the last event received (EventSource sends it when it reconnects)' },
            { name: 'last_event_id', in: 'query', required: false, schema: { type: 'string' }, description: 'the same, for clients that cannot set headers' },
          ],
          responses: { '200': { description: 'text/event-stream', content: { 'text/event-stream': { schema: json(z.union([uploadEventView, jobEventView])) } } }, ...errors },
        },
      },
      '/api/jobs': {
        post: {
          summary:
            'Submit a training job (a local dataset is uploaded first; the worker is picked when not named: a free one, else the one with the shortest queue). A job waiting in its worker\'s queue has status `queued` and `queue_position` (1: next); its `status` events carry `position` as it moves up. A queued job can be cancelled. If its worker restarts and no longer has it, the agent submits it again, once (`resubmitted`: true, and a `queued` event "resubmitted: the worker restarted and no longer had this job").',
          requestBody: body(createJobBody),
          responses: { '201': ok(jobView, 'created'), ...errors, '503': ok(errorView, 'no worker free and every queue full, or signaling unreachable') },
        },
        get: { summary: 'All jobs', responses: { '200': ok(z.object({ jobs: z.array(jobView) })), ...errors } },
      },
      '/api/jobs/{id}': {
        get: {
          summary: 'One job with its progress history (query after_seq=N for the events after N, limit=M for at most M of them)',
          parameters: [
            ...idParam,
            { name: 'after_seq', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
          ],
          responses: { '200': ok(jobWithHistory), ...errors },
        },
      },
      '/api/jobs/{id}/commands': {
        post: { summary: `Send a command (${jobCommandName.options.join(', ')}); answers after the worker's ack`, parameters: idParam, requestBody: body(jobCommandBody), responses: { '200': ok(z.object({ ok: z.literal(true), command: jobCommandName, job: jobView })), ...errors, '409': ok(errorView, 'job_finished, or refused by the worker') } },
      },
      '/api/workers': { get: { summary: 'The workers in the room', responses: { '200': ok(z.object({ workers: z.array(workerView) })), ...errors } } },
      '/api/models': { get: { summary: "The room's models (its manifest)", responses: { '200': ok(z.object({ models: z.array(manifestModel) })), ...errors } } },
      '/api/models/{id}': { get: { summary: 'One model by id or alias', parameters: idParam, responses: { '200': ok(manifestModel), ...errors } } },
      '/api/models/{id}/download': {
        post: { summary: 'Download every file of a model into dest/<model id>/ (resumable, SHA-256 verified)', parameters: idParam, requestBody: body(modelDownloadBody), responses: { '200': ok(modelFiles), ...errors } },
      },
      '/api/watches': {
        post: { summary: 'Watch a folder; new or changed datasets are uploaded when auto_upload', requestBody: body(createWatchBody), responses: { '201': ok(watchView, 'created'), ...errors } },
        get: { summary: 'Watched folders', responses: { '200': ok(z.object({ watches: z.array(watchView) })), ...errors } },
        delete: { summary: 'Stop watching a folder', requestBody: body(deleteWatchBody), responses: { '204': { description: 'deleted' }, ...errors } },
      },
      '/openapi.json': {
        get: { summary: 'This document (no token; Host, Origin and Sec-Fetch-Site are still checked)', security: [], responses: { '200': { description: 'the OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } }, '403': ok(errorView, 'Host or Origin not allowed') } },
      },
      '/docs': {
        get: { summary: 'This document as a page (Swagger UI, served by the agent, nothing fetched from elsewhere); no token to read it, the token (Authorize) to try a call', security: [], responses: { '200': { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } }, '403': ok(errorView, 'Host, Origin or Sec-Fetch-Site not allowed') } },
      },
      '/docs/{file}': {
        get: {
          summary: 'A file of the docs page (its script, styles, icon, licence)',
          security: [],
          parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'the file' }, '403': ok(errorView, 'Host, Origin or Sec-Fetch-Site not allowed'), '404': ok(errorView, 'no such file') },
        },
      },
    }),
  };
}

/**
 * What every route with a JSON body may also answer: 413 (over 64 KiB) and 415 (not JSON), and
 * what every /api route may: 405 for a method it does not take there.
 */
function withCommonErrors(paths: OpenApiPaths): OpenApiPaths {
  for (const [path, item] of Object.entries(paths)) {
    for (const op of Object.values(item) as { requestBody?: unknown; responses: Record<string, unknown> }[]) {
      if (op.requestBody) Object.assign(op.responses, { '413': ok(errorView, 'body too large'), '415': ok(errorView, 'body not sent as application/json') });
      if (path.startsWith('/api/')) Object.assign(op.responses, { '405': ok(errorView, 'method not allowed on this path (header Allow lists the methods)') });
    }
  }
  return paths;
}
