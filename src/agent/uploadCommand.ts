import { basename, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { AppError } from '../core/errors.js';
import { bytes } from '../core/bytes.js';
import { createLogger, setLogLevel, type LogLevel } from '../core/log.js';
import { uploadClientSchema } from './config.js';
import { resolveDataset } from './datasets.js';
import { dataHome } from '../core/paths.js';
import { openUploads } from './main.js';
import { ProgressBar } from './ProgressBar.js';
import { AgentClient } from '../core/AgentClient.js';
import { uploadThroughAgent } from './agentUpload.js';
import { describeSlp } from './uploadView.js';

/**
 * `sleap-rtc upload <path>`: through the data folder's agent when one runs (agentUpload.ts), else
 * the transfer engine in this process, with the agent's ledger and lock, so that running the
 * same command again after Ctrl-C, a crash or kill -9 resumes.
 * Progress goes to stderr; `--json` prints one object on stdout at the end.
 */
export async function runUpload(path: string, flags: Record<string, unknown>): Promise<void> {
  const { config, logLevel, json, ...rest } = flags;
  setLogLevel((logLevel as LogLevel | undefined) ?? 'warn');
  const sources = { flags: rest, env: process.env, file: config as string | undefined };
  // The server is needed only standalone: a running agent uploads with its own.
  const data = dataHome(loadConfig(uploadClientSchema.partial({ server: true }), sources).data, process.env);
  const abs = resolve(path);
  const dataset = await resolveDataset(abs);
  // The data folder's agent holds its ledger's lock: when it runs, the upload is the agent's.
  const running = await AgentClient.running(data);
  if (running.client) return uploadThroughAgent(running.client, abs, dataset, Boolean(json));
  const cfg = loadConfig(uploadClientSchema, sources);
  const log = createLogger('upload');
  const { uploads, ledger, lock } = await openUploads({ ...cfg, data }, log, 'sleap-rtc upload');
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping; run the same command again to resume\n');
    void uploads.close().finally(() => {
      lock.release();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let id: string;
    const old = uploads.findUnfinished(abs);
    const sameFiles = old && old.files.map((f) => f.relativePath).join('\n') === dataset.files.map((f) => f.relativePath).join('\n');
    if (old && sameFiles) {
      id = old.id;
      const v = uploads.get(id);
      process.stderr.write(`resuming upload ${id} of ${abs} (${bytes(v.size)}): asking the server what it already has\n`);
      if (old.state === 'failed' || old.state === 'paused') await ledger.update(id, (u) => ((u.state = 'queued'), (u.error = undefined)));
    } else {
      if (old) await uploads.remove(old.id);
      id = (await uploads.create(abs, 'cli', { start: false })).id;
    }
    // What the labels file holds, and what the worker will miss, before any byte is sent.
    const start = uploads.get(id);
    if (start.slp) process.stderr.write(`${describeSlp(start.slp)}\n`);
    for (const w of start.warnings) process.stderr.write(`warning: ${w}\n`);
    const bar = new ProgressBar(process.stderr, basename(abs));
    let toldResumed = false;
    const off = uploads.onDidChange((e) => {
      if (e.upload.id !== id) return;
      const r = e.upload.resumed;
      if (r && !toldResumed) {
        toldResumed = true;
        bar.note(`resuming: ${r.parts_reused} of ${r.part_count} parts, ${bytes(r.bytes_reused)}, already on the server`);
      }
      bar.setWaiting(e.upload.waiting);
      bar.update({ bytesDone: e.upload.bytes_done, total: e.upload.size, rateBps: e.upload.rate_bps, etaS: e.upload.eta_s, state: e.upload.state }, e.type === 'state');
    });
    const v = await uploads.launch(id);
    off();
    bar.done();
    for (const w of v.warnings.filter((x) => !start.warnings.includes(x))) process.stderr.write(`warning: ${w}\n`);
    if (v.state !== 'completed') {
      if (interrupted) return;
      throw new AppError((v.error?.code as 'internal' | undefined) ?? 'internal', `upload of ${abs} failed: ${v.error?.message ?? v.state}`);
    }
    await uploads.close();
    if (json) process.stdout.write(JSON.stringify({ upload_id: v.id, key: v.key, bucket: v.bucket, size: v.size, sha256: v.sha256 }) + '\n');
    else process.stderr.write(`uploaded ${abs} (${bytes(v.size)}) to ${v.s3_path}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) {
      await uploads.close().catch(() => undefined);
      lock.release();
    }
  }
}
