import { z } from 'zod';
import { createUploadBody, createWatchBody, deleteWatchBody, uploadView } from '../core/schemas/agent.js';

export const watchView = z.object({ path: z.string(), auto_upload: z.boolean() });
export const errorView = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export const uploadEventView = z.object({ type: z.enum(['state', 'progress', 'removed']), upload: uploadView });

const json = (s: z.ZodType): unknown => z.toJSONSchema(s, { io: 'output', unrepresentable: 'any' });
const body = (s: z.ZodType) => ({ required: true, content: { 'application/json': { schema: z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) } } });
const ok = (s: z.ZodType, description = 'OK') => ({ description, content: { 'application/json': { schema: json(s) } } });
const errors = { '400': ok(errorView, 'bad request'), '401': ok(errorView, 'missing or wrong token'), '403': ok(errorView, 'Host or Origin not allowed'), '404': ok(errorView, 'not found') };
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];

/** The agent's OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument(url: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'sleap-rtc agent', version: '0.1.0', description: 'Local agent API on 127.0.0.1. Every /api route needs "Authorization: Bearer <token>" (the token is in <data>/agent/token).' },
    servers: [{ url }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
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
        get: { summary: 'Server-sent events: `event: upload` with data ' + JSON.stringify(Object.keys(uploadEventView.shape)), responses: { '200': { description: 'text/event-stream', content: { 'text/event-stream': { schema: json(uploadEventView) } } }, ...errors } },
      },
      '/api/watches': {
        post: { summary: 'Watch a folder; new or changed datasets are uploaded when auto_upload', requestBody: body(createWatchBody), responses: { '201': ok(watchView, 'created'), ...errors } },
        get: { summary: 'Watched folders', responses: { '200': ok(z.object({ watches: z.array(watchView) })), ...errors } },
        delete: { summary: 'Stop watching a folder', requestBody: body(deleteWatchBody), responses: { '204': { description: 'deleted' }, ...errors } },
      },
    },
  };
}
