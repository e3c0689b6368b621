// One upload by this project's transfer engine, through the backend's presigned URLs (what the
// agent does), as a process of its own so the bench can measure its RSS and CPU like the others'.
// argv: <file> <server url> ; the room token comes by environment (BENCH_ROOM_TOKEN).
// Imports the modules themselves, not the transfer index (which re-exports S3Transport and the
// range sources): like the agent's presigned path, this process never loads the AWS SDK.
import { BackendClient } from '../src/core/transfer/BackendClient.js';
import type { PartChecksumAlgorithm } from '../src/core/transfer/checksum.js';
import { uploadFile } from '../src/core/transfer/uploadFile.js';

const [file, baseUrl] = process.argv.slice(2);
const token = process.env.BENCH_ROOM_TOKEN ?? '';
const partMib = Number(process.env.BENCH_PART_MIB ?? '8');
// 'auto' (the engine's default) or a number.
const concurrency = process.env.BENCH_CONCURRENCY === 'auto' ? 'auto' : Number(process.env.BENCH_CONCURRENCY ?? '8');
// Unset: the engine's default.
const partChecksum = (process.env.BENCH_PART_CHECKSUM || undefined) as PartChecksumAlgorithm | undefined;
let maxConcurrency = 0;
let lastConcurrency = 0;
const r = await uploadFile({
  path: file,
  target: { kind: 'presigned', backend: new BackendClient({ baseUrl, token }), fileName: 'engine.bin' },
  partSize: partMib * 1024 * 1024,
  concurrency,
  partChecksum,
  onProgress: (p) => {
    lastConcurrency = p.concurrency ?? 0;
    maxConcurrency = Math.max(maxConcurrency, lastConcurrency);
  },
}).catch((e: unknown) => {
  // One line on stderr (the benchmarks quote it), not a stack trace.
  process.stderr.write(`engine failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
process.stdout.write(JSON.stringify({ bucket: r.bucket, key: r.key, sha256: r.sha256, size: r.size, max_concurrency: maxConcurrency, last_concurrency: lastConcurrency }) + '\n');
