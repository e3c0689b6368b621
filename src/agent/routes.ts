import express, { type Router } from 'express';
import { bodyOf, parseWith } from '../core/http.js';
import type { Logger } from '../core/log.js';
import { AppError } from '../core/errors.js';
import { createJobBody, createUploadBody, createWatchBody, deleteWatchBody, jobCommandBody, modelDownloadBody } from '../core/schemas/agent.js';
import type { JobManager } from './jobs/JobManager.js';
import type { Models } from './jobs/Models.js';
import type { UploadManager } from './UploadManager.js';
import type { Watches } from './Watches.js';
import type { AllowedRoots } from './allowedRoots.js';
import { EventFeed } from './EventFeed.js';

const watchView = (w: { path: string; autoUpload: boolean }) => ({ path: w.path, auto_upload: w.autoUpload });

/** /api/* of the agent (mounted behind the Host, Origin and token guards). */
export function agentRoutes(o: { uploads: UploadManager; watches: Watches; jobs: JobManager; models: Models; roots: AllowedRoots; log: Logger }): Router {
  const r = express.Router();
  r.post('/uploads', async (req, res) => {
    const body = parseWith(createUploadBody, bodyOf(req), 'request body');
    await o.roots.check(body.path, 'the dataset');
    res.status(201).json(await o.uploads.create(body.path, 'api'));
  });
  r.get('/uploads', (_req, res) => void res.json({ uploads: o.uploads.list() }));
  r.get('/uploads/:id', (req, res) => void res.json(o.uploads.get(req.params.id)));
  r.post('/uploads/:id/pause', async (req, res) => void res.json(await o.uploads.pause(req.params.id)));
  r.post('/uploads/:id/resume', async (req, res) => void res.json(await o.uploads.resume(req.params.id)));
  r.delete('/uploads/:id', async (req, res) => {
    await o.uploads.remove(req.params.id);
    res.status(204).end();
  });
  const feed = new EventFeed();
  o.uploads.onDidChange((e) => feed.publish('upload', e));
  o.jobs.onDidChange((e) => feed.publish('job', e));
  r.get('/events', (req, res) => {
    // EventSource sends Last-Event-ID when it reconnects; other clients may pass ?last_event_id=.
    const header = req.headers['last-event-id'];
    const query = req.query.last_event_id;
    const last = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': sleap-rtc agent events\nretry: 1000\n\n');
    const off = feed.subscribe(last, (block) => void res.write(block));
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      off();
      clearInterval(ping);
    });
  });
  r.post('/watches', async (req, res) => {
    const body = parseWith(createWatchBody, bodyOf(req), 'request body');
    await o.roots.check(body.path, 'the folder');
    res.status(201).json(watchView(await o.watches.add(body.path, body.auto_upload)));
  });
  r.get('/watches', (_req, res) => void res.json({ watches: o.watches.list().map(watchView) }));
  r.delete('/watches', async (req, res) => {
    await o.watches.remove(parseWith(deleteWatchBody, bodyOf(req), 'request body').path);
    res.status(204).end();
  });
  r.post('/jobs', async (req, res) => {
    const body = parseWith(createJobBody, bodyOf(req), 'job');
    if (!body.dataset.startsWith('s3://')) await o.roots.check(body.dataset, 'the dataset');
    res.status(201).json(await o.jobs.submit(body));
  });
  r.get('/jobs', (_req, res) => void res.json({ jobs: o.jobs.list() }));
  r.get('/jobs/:id', async (req, res) => {
    const after = req.query.after_seq === undefined ? 0 : Number(req.query.after_seq);
    if (!Number.isInteger(after) || after < 0) throw new AppError('bad_request', 'after_seq must be a whole number >= 0');
    const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new AppError('bad_request', 'limit must be a whole number >= 1 (the most events to return; page on with after_seq)');
    res.json(await o.jobs.get(req.params.id, after, limit));
  });
  r.post('/jobs/:id/commands', async (req, res) => {
    const body = parseWith(jobCommandBody, bodyOf(req), 'command');
    res.json(await o.jobs.command(req.params.id, body.command));
  });
  r.get('/workers', async (_req, res) => void res.json({ workers: await o.jobs.workers() }));
  r.get('/models', async (_req, res) => void res.json({ models: await o.models.list() }));
  r.get('/models/:id', async (req, res) => void res.json(await o.models.get(req.params.id)));
  r.post('/models/:id/download', async (req, res) => {
    const body = parseWith(modelDownloadBody, bodyOf(req), 'download');
    await o.roots.check(body.dest, 'the download folder');
    res.json(await o.models.download(req.params.id, body.dest));
  });
  return r;
}
