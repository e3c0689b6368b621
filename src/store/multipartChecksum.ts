import {
  algorithmHeader,
  CHECKSUM_ALGORITHMS,
  checksumHeader,
  compositeChecksum,
  fullObjectChecksum,
  isValidChecksumValue,
  multipartChecksumTypes,
  type ChecksumAlgorithm,
  type ChecksumType,
} from './checksums.js';
import { S3Error } from './S3Error.js';

/**
 * The checksum of a multipart object, as S3 makes it: the upload is created with an algorithm
 * and a type (x-amz-checksum-algorithm, x-amz-checksum-type), every part is hashed with that
 * algorithm, and completion gives the object either the COMPOSITE checksum (of the parts'
 * checksums, "<base64>-<parts>") or the FULL_OBJECT one (the CRC of all its bytes, combined from
 * the parts'). On CompleteMultipartUpload, x-amz-checksum-<alg> is the client's value of that
 * object checksum, not a checksum of the XML body, and x-amz-mp-object-size its size.
 */

export interface UploadChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
}

function invalid(message: string): S3Error {
  return new S3Error('InvalidRequest', message);
}

function checksumTypeHeader(h: Map<string, string>): ChecksumType | undefined {
  const raw = h.get('x-amz-checksum-type');
  if (raw === undefined) return undefined;
  const v = raw.trim().toUpperCase();
  if (v !== 'COMPOSITE' && v !== 'FULL_OBJECT') throw invalid('Value for x-amz-checksum-type header is invalid: it is COMPOSITE or FULL_OBJECT.');
  return v;
}

function refuseCombination(algorithm: ChecksumAlgorithm, type: ChecksumType): void {
  const allowed = multipartChecksumTypes(algorithm);
  if (allowed.includes(type)) return;
  throw invalid(`The ${type} checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm: ${algorithm} multipart uploads are ${allowed.join(' or ')}${type === 'FULL_OBJECT' ? ' (a checksum of the whole object needs CRC32, CRC32C or CRC64NVME)' : ''}.`);
}

/** The checksum of a new upload, from CreateMultipartUpload's headers; undefined: none. */
export function uploadChecksum(h: Map<string, string>): UploadChecksum | undefined {
  const algorithm = algorithmHeader(h, 'x-amz-checksum-algorithm');
  const type = checksumTypeHeader(h);
  if (type && !algorithm) throw invalid('The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
  if (!algorithm) return undefined;
  const t = type ?? multipartChecksumTypes(algorithm)[0];
  refuseCombination(algorithm, t);
  return { algorithm, type: t };
}

/** What a CompleteMultipartUpload says about the object it makes. */
export interface CompleteChecksumRequest {
  type?: ChecksumType;
  /** The object checksum the client computed (x-amz-checksum-<alg>). */
  claimed?: { algorithm: ChecksumAlgorithm; value: string };
  /** x-amz-mp-object-size */
  objectSize?: number;
}

export function completeChecksumRequest(h: Map<string, string>): CompleteChecksumRequest {
  const out: CompleteChecksumRequest = {};
  const type = checksumTypeHeader(h);
  if (type) out.type = type;
  const given = CHECKSUM_ALGORITHMS.filter((a) => h.has(checksumHeader(a)));
  if (given.length > 1) throw invalid('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  if (given.length === 1) {
    const algorithm = given[0];
    const value = h.get(checksumHeader(algorithm))!.trim();
    // FULL_OBJECT: the digest; COMPOSITE: the digest of the part digests, "-<parts>" optional.
    const digest = /^(.*?)(-\d{1,5})?$/.exec(value)![1];
    if (!isValidChecksumValue(algorithm, digest)) throw invalid(`Value for ${checksumHeader(algorithm)} header is invalid.`);
    out.claimed = { algorithm, value };
  }
  const size = h.get('x-amz-mp-object-size');
  if (size !== undefined) {
    if (!/^\d{1,16}$/.test(size.trim())) throw invalid(`Value for x-amz-mp-object-size header is invalid: '${size.slice(0, 40)}'`);
    out.objectSize = Number(size.trim());
  }
  return out;
}

/** The request headers that describe CompleteMultipartUpload's XML body: the object checksum ones left out. */
export function completeBodyHeaders(h: Map<string, string>): Map<string, string> {
  const out = new Map(h);
  for (const a of CHECKSUM_ALGORITHMS) out.delete(checksumHeader(a));
  out.delete('x-amz-checksum-type');
  return out;
}

export interface ChecksummedPart {
  partNumber: number;
  size: number;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/**
 * The object's checksum at completion, checked against what the complete request claims.
 * An upload created without an algorithm gets one only when the request names it and every
 * part carries it (the client sent it with each part).
 */
export function objectChecksum(
  created: UploadChecksum | undefined,
  parts: ChecksummedPart[],
  req: CompleteChecksumRequest,
): { checksums: Partial<Record<ChecksumAlgorithm, string>>; checksumType?: ChecksumType } {
  const size = parts.reduce((n, p) => n + p.size, 0);
  if (req.objectSize !== undefined && req.objectSize !== size) {
    throw invalid(`The provided 'x-amz-mp-object-size' header value ${req.objectSize} does not match what was computed: ${size}`);
  }
  let upload = created;
  if (!upload && req.claimed) {
    const algorithm = req.claimed.algorithm;
    const missing = parts.find((p) => p.checksums[algorithm] === undefined);
    if (missing) {
      throw invalid(
        `The upload was created without x-amz-checksum-algorithm and part ${missing.partNumber} was sent without ${checksumHeader(algorithm)}, so the ${algorithm} of the object cannot be made: create the upload with x-amz-checksum-algorithm: ${algorithm}.`,
      );
    }
    upload = { algorithm, type: req.type ?? multipartChecksumTypes(algorithm)[0] };
    refuseCombination(upload.algorithm, upload.type);
  }
  if (!upload) {
    if (req.type) throw invalid('The x-amz-checksum-type header of a complete request needs an upload created with x-amz-checksum-algorithm (or an x-amz-checksum-<algorithm> header here).');
    return { checksums: {} };
  }
  const { algorithm, type } = upload;
  if (req.type && req.type !== type) throw invalid(`The upload was created using the ${type} checksum mode. The complete request must use the same checksum mode.`);
  if (req.claimed && req.claimed.algorithm !== algorithm) {
    throw invalid(`Checksum Type mismatch occurred, expected checksum Type: ${algorithm.toLowerCase()}, actual checksum Type: ${req.claimed.algorithm.toLowerCase()}: the upload was created with x-amz-checksum-algorithm ${algorithm}; send ${checksumHeader(algorithm)}.`);
  }
  const values = parts.map((p) => p.checksums[algorithm]);
  if (values.some((v) => v === undefined)) {
    // Parts always carry the upload's algorithm (computed when absent); only a store folder from
    // before an upgrade could lack one.
    if (type === 'COMPOSITE' && !req.claimed) return { checksums: {} };
    throw invalid(`A part of this upload has no ${algorithm} checksum, so the object's cannot be made: upload the parts again.`);
  }
  const value = type === 'FULL_OBJECT' ? fullObjectChecksum(algorithm, parts.map((p) => ({ value: p.checksums[algorithm]!, size: p.size }))) : compositeChecksum(algorithm, values as string[]);
  if (req.claimed) {
    const claimed = req.claimed.value;
    const matches = type === 'FULL_OBJECT' ? claimed === value : claimed === value || `${claimed}-${parts.length}` === value;
    if (!matches) {
      throw new S3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum: the ${type} ${algorithm} of the ${parts.length} listed parts is ${value}, the request says ${claimed}.`);
    }
  }
  return { checksums: { [algorithm]: value }, checksumType: type };
}
