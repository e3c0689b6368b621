import type { LedgerUpload } from '../../../src/agent/Ledger.js';
import type { DonePart } from '../../../src/core/transfer/index.js';

/** A ledger record of a one-file upload of `parts` 8 MiB parts, none done (ledger tests and `npm run bench -- ledger`). */
export function syntheticUpload(id: string, parts: number): LedgerUpload {
  const partSize = 8 * 1024 * 1024;
  return {
    id,
    path: `/data/${id}.slp`,
    dataset: 'file',
    state: 'uploading',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    size: parts * partSize,
    warnings: [],
    origin: 'test',
    files: [
      {
        path: `/data/${id}.slp`,
        relativePath: `${id}.slp`,
        fingerprint: { size: parts * partSize, mtimeMs: 1, edges: 'e'.repeat(64) },
        sha256: 'a'.repeat(64),
        session: { bucket: 'b', key: `rooms/lab/datasets/x/${id}.slp`, uploadId: 'u'.repeat(40), s3Path: `s3://b/rooms/lab/datasets/x/${id}.slp`, fileSize: parts * partSize, partSize, partCount: parts, prefixId: 'x' },
        parts: {},
      },
    ],
  };
}

/** The record of part `n` as the uploader reports it (8 MiB, an MD5 checksum). */
export function syntheticPart(n: number): DonePart {
  return { partNumber: n, etag: `"${n.toString(16).padStart(32, '0')}"`, size: 8 * 1024 * 1024, checksum: { algorithm: 'md5', value: 'q'.repeat(22) + '==' } };
}
