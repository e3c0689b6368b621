// One upload by this project's transfer engine, through the backend's presigned URLs (what the
// agent does), as a process of its own so the bench can measure its RSS and CPU like the others'.
// argv: <file> <server url> ; the room token comes by environment (BENCH_ROOM_TOKEN).
import { BackendClient, uploadFile, type PartChecksumAlgorithm } from '../src/core/transfer/index.js';

const [file, baseUrl] = process.argv.slice(2);
const token = process.env.BENCH_ROOM_TOKEN ?? '';
const partMib = Number(process.env.BENCH_PART_MIB ?? '8');
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? '8');
const partChecksum = (process.env.BENCH_PART_CHECKSUM ?? 'md5') as PartChecksumAlgorithm;
const r = await uploadFile({ path: file, target: { kind: 'presigned', backend: new BackendClient({ baseUrl, token }), fileName: 'engine.bin' }, partSize: partMib * 1024 * 1024, concurrency, partChecksum });
process.stdout.write(JSON.stringify({ bucket: r.bucket, key: r.key, sha256: r.sha256, size: r.size }) + '\n');
