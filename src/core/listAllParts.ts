import { ListPartsCommand, type ListPartsCommandOutput } from '@aws-sdk/client-s3';
import { AppError } from './errors.js';
import { MAX_PARTS } from './schemas/backend.js';
import type { RemotePart } from './transfer/PartTransport.js';

/** The most parts S3 answers in one ListParts page (a larger max-parts is cut to this). */
export const LIST_PARTS_PAGE = 1000;

export interface ListAllPartsOptions {
  /** max-parts asked for each page (default and S3's maximum: 1,000). */
  pageSize?: number;
  /**
   * Pages followed before the listing is given up as endless, with an error. Default: the pages
   * 10,000 parts (the most an upload can have) fill at `pageSize`, plus one, since a server may
   * say "truncated" on a full last page and answer an empty one after it.
   */
  maxPages?: number;
}

/**
 * Every part of a multipart upload, following ListParts pages to the end: the one pager of the
 * worker's S3Transport and the server's UploadBackend. `send` sends one ListParts with the
 * caller's client, retries and error translation. A page that is truncated but gives no next
 * marker, or one that does not move past the last, and a listing that is still truncated after
 * `maxPages` pages, are upstream_error: a broken server must not keep us paging forever.
 * Parts without a number or an ETag are left out (nothing can be done with them).
 */
export async function listAllParts(
  upload: { bucket: string; key: string; uploadId: string },
  send: (command: ListPartsCommand) => Promise<ListPartsCommandOutput>,
  opts: ListAllPartsOptions = {},
): Promise<RemotePart[]> {
  const pageSize = opts.pageSize ?? LIST_PARTS_PAGE;
  const maxPages = opts.maxPages ?? Math.ceil(MAX_PARTS / pageSize) + 1;
  const parts: RemotePart[] = [];
  let marker: string | undefined;
  for (let page = 1; page <= maxPages; page++) {
    const r = await send(new ListPartsCommand({ Bucket: upload.bucket, Key: upload.key, UploadId: upload.uploadId, PartNumberMarker: marker, MaxParts: pageSize }));
    for (const p of r.Parts ?? []) {
      if (p.PartNumber === undefined || !p.ETag) continue;
      parts.push({
        partNumber: p.PartNumber,
        etag: p.ETag,
        size: p.Size ?? 0,
        ...(p.ChecksumCRC32 ? { checksumCrc32: p.ChecksumCRC32 } : {}),
        ...(p.ChecksumCRC32C ? { checksumCrc32c: p.ChecksumCRC32C } : {}),
      });
    }
    if (!r.IsTruncated) return parts;
    const next = r.NextPartNumberMarker;
    if (next === undefined || !/^\d+$/.test(next) || Number(next) <= Number(marker ?? 0)) {
      throw new AppError('upstream_error', `ListParts of ${upload.key}: the S3 server said page ${page} is truncated but gave no next marker past ${marker ?? 0} (got ${next ?? 'none'}); the server's listing is broken`);
    }
    marker = next;
  }
  throw new AppError('upstream_error', `ListParts of ${upload.key}: still truncated after ${maxPages} pages of up to ${pageSize} parts (${parts.length} parts so far, an upload has at most ${MAX_PARTS}); the server's listing does not end`);
}
