// A separate writer process for the concurrency tests: `node --import tsx test/manifest/writer.ts`.
// Reads its job from MANIFEST_WRITER_JOB (JSON; the secret comes separately in
// MANIFEST_WRITER_SECRET), prints `ready`, waits for `go` on stdin, then publishes one model per
// id concurrently, each with its own S3 client, and prints one JSON line per model.
import { createInterface } from 'node:readline';
import { clientFor, publishModel } from './helpers.js';

interface Job {
  endpoint: string;
  region: string;
  accessKeyId: string;
  bucket: string;
  roomId: string;
  ids: string[];
}

const job = JSON.parse(process.env.MANIFEST_WRITER_JOB ?? '{}') as Job;
const secretAccessKey = process.env.MANIFEST_WRITER_SECRET ?? '';
const clients = job.ids.map(() => clientFor({ ...job, secretAccessKey }));

const rl = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of rl) {
  if (line.trim() === 'go') break;
}
rl.close();
const results = await Promise.all(
  job.ids.map(async (id, i) => {
    try {
      const w = await publishModel(clients[i], job.bucket, job.roomId, id);
      return { id, attempts: w.attempts, version: w.manifest.version, pid: process.pid };
    } catch (e) {
      return { id, error: e instanceof Error ? e.message : String(e), pid: process.pid };
    }
  }),
);
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
for (const c of clients) c.destroy();
