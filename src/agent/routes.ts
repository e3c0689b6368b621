import express, { type Router } from 'express';
import { bodyOf, parseWith } from '../core/http.js';
import type { Logger } from '../core/log.js';
import { createUploadBody, createWatchBody, deleteWatchBody } from '../core/schemas/agent.js';
import type { UploadManager } from './UploadManager.js';
import type { Watches } from './Watches.js';

const watchView = (w: { path: string; autoUpload: boolean }) => ({ path: w.path, auto_upload: w.autoUpload });

/** /api/* of the agent (mounted behind the Host, Origin and token guards). */
export function agentRoutes(o: { uploads: UploadManager; watches: Watches; log: Logger }): Router {
  const r = express.Router();
  r.post('/uploads', async (req, res) => {
    const body = parseWith(createUploadBody, bodyOf(req), 'request body');
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
  r.get('/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': sleap-rtc agent events\n\n');
    let seq = 0;
    const off = o.uploads.onDidChange((e) => void res.write(`id: ${++seq}\nevent: upload\ndata: ${JSON.stringify(e)}\n\n`));
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      off();
      clearInterval(ping);
    });
  });
  r.post('/watches', async (req, res) => {
    const body = parseWith(createWatchBody, bodyOf(req), 'request body');
    res.status(201).json(watchView(await o.watches.add(body.path, body.auto_upload)));
  });
  r.get('/watches', (_req, res) => void res.json({ watches: o.watches.list().map(watchView) }));
  r.delete('/watches', async (req, res) => {
    await o.watches.remove(parseWith(deleteWatchBody, bodyOf(req), 'request body').path);
    res.status(204).end();
  });
  return r;
}
