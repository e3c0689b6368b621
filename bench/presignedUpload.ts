import { createReadStream } from 'node:fs';
import http from 'node:http';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface UploadJob {
  s3: S3Client;
  bucket: string;
  key: string;
  file: string;
  size: number;
  partSize: number;
  concurrency: number;
  agent: http.Agent;
}

export interface UploadResult {
  uploadId: string;
  parts: number;
  /** ETag from the Complete response (empty on RGW 16). */
  etag: string | undefined;
}

/**
 * The benchmark's uploader: CreateMultipartUpload, then every part PUT by a presigned UploadPart
 * URL with node:http, the part streamed from the file (fs.createReadStream with start/end piped
 * into the request, Content-Length set, so no part is ever held in memory), `concurrency` parts
 * at a time, then CompleteMultipartUpload. No retries: a benchmark must fail loudly.
 */
export async function presignedUpload(job: UploadJob): Promise<UploadResult> {
  const { s3, bucket, key } = job;
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })).catch(labelled('CreateMultipartUpload'));
  const uploadId = created.UploadId!;
  const count = Math.max(1, Math.ceil(job.size / job.partSize));
  const etags: string[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const start = i * job.partSize;
      const end = Math.min(job.size, start + job.partSize); // exclusive
      const url = await getSignedUrl(s3, new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1 }), { expiresIn: 900 });
      etags[i] = await putPart(url, job.file, start, end, job.agent);
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(job.concurrency, count) }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    next = count; // stop the other workers from taking more parts
    throw failed.reason;
  }
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  ).catch(labelled('CompleteMultipartUpload'));
  return { uploadId, parts: count, etag: done.ETag };
}

/** A rejection handler that names the S3 call that failed, keeping the error's code. */
export function labelled(call: string): (e: unknown) => never {
  return (e) => {
    const err = e instanceof Error ? e : new Error(String(e));
    throw Object.assign(new Error(`${call}: ${err.message}`), { code: (err as NodeJS.ErrnoException).code, name: err.name });
  };
}

/** PUTs bytes [start, end) of `file` to a presigned URL; resolves with the ETag. */
function putPart(url: string, file: string, start: number, end: number, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', agent, headers: { 'content-length': String(end - start) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const etag = res.headers.etag;
        // Never print the URL: it is a credential for its lifetime.
        if (res.statusCode !== 200 || !etag) reject(new Error(`part at ${start} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
        else resolve(etag);
      });
    });
    let sent = 0;
    // Which part, how far its body got and whether a response came: what tells a server that
    // dropped the connection from one that answered.
    req.on('error', (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(`part at ${start} (${sent} of ${end - start} bytes sent): ${e.message}`), { code: e.code })));
    const body = createReadStream(file, { start, end: end - 1, highWaterMark: 1024 * 1024 });
    body.on('data', (c) => (sent += c.length));
    body.on('error', (e) => req.destroy(e));
    body.pipe(req);
  });
}
