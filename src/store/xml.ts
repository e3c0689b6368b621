import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './checksums.js';
import { S3Error } from './S3Error.js';

/** S3 XML documents: every response body and the request bodies this store reads. */

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', processEntities: true, suppressEmptyNode: false });

/** `<root xmlns="...">` with `body` as elements; arrays repeat the element, undefined is left out. */
export function xmlDocument(root: string, body: Record<string, unknown>): string {
  return HEAD + builder.build({ [root]: { '@_xmlns': NS, ...body } });
}

export function errorDocument(code: string, message: string, resource: string, requestId: string, extra: Record<string, string> = {}): string {
  return HEAD + builder.build({ Error: { Code: code, Message: message, ...extra, Resource: resource, RequestId: requestId } });
}

/** S3 timestamps in XML: ISO 8601 with milliseconds. */
export function xmlDate(d: Date | string): string {
  return new Date(d).toISOString();
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  // Keys may begin or end with spaces: keep text as sent, trim only numbers and ETags.
  trimValues: false,
  processEntities: true,
  // Numeric character references (&#34; from Go's encoding/xml, e.g. rclone's ETags) need this.
  htmlEntities: true,
  isArray: (name) => name === 'Part' || name === 'Object' || name === 'Tag',
});

function parseXml(text: string, root: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML', 'The XML you provided must not hold a DOCTYPE or entity declarations.');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const body = doc[root];
  if (body === undefined) throw new S3Error('MalformedXML', `The XML you provided must have <${root}> as its root element.`);
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

/**
 * The optional body of CreateBucket: `<CreateBucketConfiguration><LocationConstraint>region
 * </LocationConstraint></CreateBucketConfiguration>`. The constraint, or undefined when there is
 * no body or it names none (us-east-1's way); a body that is no such document is MalformedXML.
 */
export function parseCreateBucketConfiguration(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  const body = parseXml(text, 'CreateBucketConfiguration');
  const constraint = body.LocationConstraint;
  return typeof constraint === 'string' && constraint !== '' ? constraint : undefined;
}

export interface CompletePart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/** The body of CompleteMultipartUpload: `<Part><PartNumber>n</PartNumber><ETag>"..."</ETag></Part>...`. */
export function parseCompleteMultipart(text: string): CompletePart[] {
  const body = parseXml(text, 'CompleteMultipartUpload');
  const parts = body.Part;
  if (!Array.isArray(parts) || parts.length === 0) throw new S3Error('MalformedXML', 'The XML you provided must list at least one <Part> with <PartNumber> and <ETag>.');
  return parts.map((p: unknown, i) => {
    const part = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
    const n = String(part.PartNumber ?? '').trim();
    const etag = typeof part.ETag === 'string' ? part.ETag.trim() : undefined;
    if (!/^\d{1,5}$/.test(n) || etag === undefined || etag === '') {
      throw new S3Error('MalformedXML', `Part ${i + 1} of the XML you provided needs a numeric <PartNumber> and an <ETag>.`);
    }
    const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const alg of CHECKSUM_ALGORITHMS) {
      const v = part[`Checksum${alg}`];
      if (typeof v === 'string' && v.trim() !== '') checksums[alg] = v.trim();
    }
    return { partNumber: Number(n), etag, checksums };
  });
}

/** The body of DeleteObjects: `<Delete><Quiet>bool</Quiet><Object><Key>..</Key></Object>...</Delete>`. */
export function parseDeleteObjects(text: string): { keys: string[]; quiet: boolean } {
  const body = parseXml(text, 'Delete');
  const objects = Array.isArray(body.Object) ? body.Object : [];
  const keys = objects.map((o: unknown) => {
    const key = (o as Record<string, unknown> | null)?.Key;
    if (typeof key !== 'string' || key === '') throw new S3Error('MalformedXML', 'Every <Object> of a Delete request needs a <Key>.');
    return key;
  });
  if (keys.length === 0 || keys.length > 1000) throw new S3Error('MalformedXML', 'A Delete request lists 1 to 1,000 <Object> elements.');
  return { keys, quiet: String(body.Quiet ?? 'false').trim().toLowerCase() === 'true' };
}

/**
 * The body of PutObjectTagging: `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>...</TagSet></Tagging>`,
 * as [key, value] pairs in document order (limits: tagging.ts).
 */
export function parseTagging(text: string): Array<[string, string]> {
  const body = parseXml(text, 'Tagging');
  if (!('TagSet' in body)) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema: <Tagging> needs a <TagSet> (empty to remove every tag).');
  const set = body.TagSet;
  const tags = typeof set === 'object' && set !== null && Array.isArray((set as Record<string, unknown>).Tag) ? ((set as Record<string, unknown>).Tag as unknown[]) : [];
  return tags.map((tag, i) => {
    const t = (typeof tag === 'object' && tag !== null ? tag : {}) as Record<string, unknown>;
    const key = t.Key === '' || typeof t.Key === 'string' ? t.Key : undefined;
    const value = t.Value === '' || typeof t.Value === 'string' ? t.Value : undefined;
    if (key === undefined || value === undefined) throw new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: <Tag> ${i + 1} needs a <Key> and a <Value> (which may be empty).`);
    return [key, value];
  });
}
