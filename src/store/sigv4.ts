import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import type { ChunkSigning } from './chunked.js';
import { S3Error } from './S3Error.js';

/**
 * AWS Signature V4 verification, header-signed and presigned. The canonical request is never
 * rebuilt by hand: the request is re-signed with the SDK's own SignatureV4 (S3 settings:
 * the path exactly as sent, no normalisation or second encoding) from exactly the headers the
 * client signed, at the client's date, and the two signatures are compared in constant time.
 */

const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const SHA256_HEADER = 'x-amz-content-sha256';

/** How the body is protected, from x-amz-content-sha256. */
export type PayloadMode =
  | { kind: 'unsigned' }
  | { kind: 'sha256'; hex: string }
  | { kind: 'streaming-unsigned-trailer' }
  | { kind: 'streaming-signed'; trailer: boolean; signing: ChunkSigning };

export interface AuthResult {
  accessKeyId: string;
  presigned: boolean;
  payload: PayloadMode;
}

/** What the verifier needs from a request; the path and query are as they came on the wire. */
export interface SignedRequestView {
  method: string;
  rawPath: string;
  query: Record<string, string | string[]>;
  /** Lowercase header name -> every value received. */
  headers: Record<string, string[] | undefined>;
}

function bytes(d: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
}

/** SHA-256 / HMAC-SHA-256 from node's crypto in the shape the SDK signer takes. */
class NodeSha256 {
  private h: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = this.make();
  }
  private make(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    return createHmac('sha256', typeof this.secret === 'string' ? this.secret : bytes(this.secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === 'string' ? data : bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.make();
  }
}

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseAmzDate(s: string | undefined): Date | undefined {
  const m = s ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

interface Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
}

function parseCredential(s: string): Scope | undefined {
  const parts = s.split('/');
  if (parts.length !== 5) return undefined;
  const [accessKeyId, date, region, service, terminator] = parts;
  return { accessKeyId, date, region, service, terminator };
}

function first(h: string[] | undefined): string | undefined {
  return h?.[0];
}

/**
 * AWS refuses a signed request that carries an x-amz-* header its signature does not cover: such
 * a header (metadata, an ACL, a checksum, a copy source) could have been added by anyone on the
 * way. 403 AccessDenied with the names in <HeadersNotSigned>, as AWS answers. x-amz-content-sha256
 * is the one exception S3 makes: it says how the body is protected, and is checked against it.
 */
function refuseUnsignedAmzHeaders(headers: SignedRequestView['headers'], signed: readonly string[], presigned: boolean): void {
  const unsigned = Object.keys(headers)
    .filter((h) => h.startsWith('x-amz-') && h !== SHA256_HEADER && !signed.includes(h))
    .sort();
  if (unsigned.length === 0) return;
  const list = unsigned.join(', ');
  throw new S3Error(
    'AccessDenied',
    `There were headers present in the request which were not signed: ${list}. Sign every x-amz-* header you send (list it in ${presigned ? 'X-Amz-SignedHeaders when you presign the URL' : 'SignedHeaders'}), or do not send it.`,
    { extra: { HeadersNotSigned: list } },
  );
}

/**
 * AWS's answer to a Signature Version 2 request where only SigV4 is accepted, word for word:
 * s3cmd recognises exactly this message on a header-signed request and re-sends it with SigV4.
 */
const SIGV2_UNSUPPORTED = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

/**
 * A request signed with Signature Version 2 (`Authorization: AWS key:sig`, or a URL with
 * AWSAccessKeyId, Signature and Expires): refused as AWS refuses it in SigV4-only regions. A
 * presigned URL cannot be re-signed by its client, so its answer also says how to presign with
 * SigV4: boto3's generate_presigned_url and s3cmd signurl make SigV2 URLs by default.
 */
function sigV2Refused(form: 'header' | 'query'): S3Error {
  if (form === 'header') return new S3Error('InvalidRequest', SIGV2_UNSUPPORTED);
  return new S3Error(
    'InvalidRequest',
    `${SIGV2_UNSUPPORTED} This URL is presigned with AWS Signature Version 2 (AWSAccessKeyId, Signature, Expires), which this store does not accept: presign it with Signature Version 4. boto3: boto3.client('s3', config=botocore.config.Config(signature_version='s3v4')); aws cli: aws s3 presign; s3cmd signurl makes only Version 2 URLs, presign with one of those instead.`,
  );
}

export class SigV4Verifier {
  private readonly signers = new Map<string, SignatureV4>();

  constructor(
    private readonly credentials: ReadonlyMap<string, string>,
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(req: SignedRequestView): Promise<AuthResult> {
    const authz = first(req.headers.authorization);
    const q = (name: string): string | undefined => {
      const v = req.query[name];
      return Array.isArray(v) ? v[0] : v;
    };
    if (authz !== undefined) return this.verifyHeader(req, authz);
    if (q('X-Amz-Algorithm') !== undefined || q('X-Amz-Signature') !== undefined) return this.verifyPresigned(req, q);
    if (q('AWSAccessKeyId') !== undefined && q('Signature') !== undefined) throw sigV2Refused('query');
    throw new S3Error('AccessDenied', 'Access Denied: the request is not signed. Sign it with AWS Signature Version 4 (an Authorization header or a presigned URL).');
  }

  private secretFor(accessKeyId: string): string {
    const secret = this.credentials.get(accessKeyId);
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    return secret;
  }

  private checkScope(scope: Scope, longDate: string, code: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError'): void {
    if (scope.date !== longDate.slice(0, 8)) throw new S3Error(code, `the credential date ${scope.date} is not the date of X-Amz-Date ${longDate}`);
    if (scope.region !== this.region) {
      // AWS's words (clients parse them: boto3 and s3cmd re-sign for the <Region> given), then what to do.
      const what = code === 'AuthorizationHeaderMalformed' ? 'The authorization header is malformed' : 'Error parsing the X-Amz-Credential parameter';
      throw new S3Error(code, `${what}; the region '${scope.region}' is wrong; expecting '${this.region}'. This store serves region ${this.region} only: configure the client with that region (AWS_REGION / region_name / --region ${this.region}).`, { extra: { Region: this.region } });
    }
    if (scope.service !== 's3' || scope.terminator !== 'aws4_request') throw new S3Error(code, `the credential scope must end with /s3/aws4_request, not /${scope.service}/${scope.terminator}`);
  }

  private signer(accessKeyId: string, secretAccessKey: string): SignatureV4 {
    let s = this.signers.get(accessKeyId);
    if (!s) {
      s = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region: this.region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
      this.signers.set(accessKeyId, s);
    }
    return s;
  }

  /** The request as the client signed it: exactly its signed headers, the raw path, the query. */
  private rebuild(req: SignedRequestView, signed: string[], payloadHash: string, dropQuery: string[] = []): { request: HttpRequest; unsignable: Set<string> } {
    const headers: Record<string, string> = {};
    for (const name of signed) headers[name] = (req.headers[name] ?? []).join(',');
    const unsignable = new Set<string>();
    if (!signed.includes(SHA256_HEADER)) {
      headers[SHA256_HEADER] = payloadHash;
      unsignable.add(SHA256_HEADER);
    }
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.query)) if (!dropQuery.includes(k)) query[k] = v;
    const host = headers.host ?? '';
    return { request: new HttpRequest({ method: req.method, protocol: 'http:', hostname: host, path: req.rawPath, query, headers }), unsignable };
  }

  private async verifyHeader(req: SignedRequestView, authz: string): Promise<AuthResult> {
    if (/^AWS /.test(authz)) throw sigV2Refused('header');
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]{64})\s*$/.exec(authz);
    const scope = m ? parseCredential(m[1]) : undefined;
    if (!m || !scope) throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; expected "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/s3/aws4_request, SignedHeaders=<h1;h2>, Signature=<64 hex>".');
    const secret = this.secretFor(scope.accessKeyId);
    const longDate = first(req.headers['x-amz-date']);
    const date = parseAmzDate(longDate);
    if (!date || !longDate) throw new S3Error('AccessDenied', 'AWS authentication requires a valid x-amz-date header (yyyymmddThhmmssZ).');
    this.checkScope(scope, longDate, 'AuthorizationHeaderMalformed');
    const signed = m[2].toLowerCase().split(';');
    if (!signed.includes('host') || !signed.includes('x-amz-date')) throw new S3Error('AccessDenied', 'the Host and x-amz-date headers must be signed');
    if (Math.abs(this.now() - date.getTime()) > MAX_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', `The difference between the request time (${date.toISOString()}) and the server's time (${new Date(this.now()).toISOString()}) is more than 15 minutes.`);
    }
    const contentSha = first(req.headers[SHA256_HEADER]);
    if (contentSha === undefined) throw new S3Error('InvalidRequest', `Missing required header for this request: ${SHA256_HEADER}`);
    refuseUnsignedAmzHeaders(req.headers, signed, false);
    const { request, unsignable } = this.rebuild(req, signed, contentSha);
    const resigned = await this.signer(scope.accessKeyId, secret).sign(request, { signingDate: date, signableHeaders: new Set(signed), unsignableHeaders: unsignable });
    const want = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers.authorization))?.[1] ?? '';
    if (!safeEqualHex(want, m[3])) {
      throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    }
    const payload = await this.payloadMode(contentSha, { accessKeyId: scope.accessKeyId, secret, longDate, seedSignature: want });
    return { accessKeyId: scope.accessKeyId, presigned: false, payload };
  }

  private async verifyPresigned(req: SignedRequestView, q: (n: string) => string | undefined): Promise<AuthResult> {
    const err = (msg: string): S3Error => new S3Error('AuthorizationQueryParametersError', msg);
    if (q('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw err('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const scope = parseCredential(q('X-Amz-Credential') ?? '');
    if (!scope) throw err('X-Amz-Credential must be "<access key>/<yyyymmdd>/<region>/s3/aws4_request"');
    const longDate = q('X-Amz-Date');
    const date = parseAmzDate(longDate);
    if (!date || !longDate) throw err('X-Amz-Date must be yyyymmddThhmmssZ');
    const expiresRaw = q('X-Amz-Expires') ?? '';
    if (!/^\d{1,10}$/.test(expiresRaw)) throw err('X-Amz-Expires must be a non-negative integer of seconds');
    const expires = Number(expiresRaw);
    if (expires > MAX_PRESIGN_SECONDS) throw err(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_SECONDS}`);
    const signatureGiven = q('X-Amz-Signature') ?? '';
    if (!/^[0-9a-fA-F]{64}$/.test(signatureGiven)) throw err('X-Amz-Signature must be 64 hex digits');
    const signed = (q('X-Amz-SignedHeaders') ?? '').toLowerCase().split(';').filter(Boolean);
    if (!signed.includes('host')) throw err('X-Amz-SignedHeaders must include host');
    const secret = this.secretFor(scope.accessKeyId);
    this.checkScope(scope, longDate, 'AuthorizationQueryParametersError');
    const now = this.now();
    if (now > date.getTime() + expires * 1000) throw new S3Error('AccessDenied', 'Request has expired', { extra: { Expires: new Date(date.getTime() + expires * 1000).toISOString(), ServerTime: new Date(now).toISOString() } });
    if (date.getTime() - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet: X-Amz-Date is more than 15 minutes in the future');
    refuseUnsignedAmzHeaders(req.headers, signed, true);
    const payloadHash = q('X-Amz-Content-Sha256') ?? (signed.includes(SHA256_HEADER) ? first(req.headers[SHA256_HEADER]) : undefined) ?? 'UNSIGNED-PAYLOAD';
    const { request, unsignable } = this.rebuild(req, signed, payloadHash, ['X-Amz-Signature']);
    const presigned = await this.signer(scope.accessKeyId, secret).presign(request, {
      signingDate: date,
      expiresIn: expires,
      signableHeaders: new Set(signed),
      unsignableHeaders: unsignable,
      unhoistableHeaders: new Set(Object.keys(request.headers)),
    });
    const want = String(presigned.query?.['X-Amz-Signature'] ?? '');
    if (!safeEqualHex(want, signatureGiven)) {
      throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    }
    const payload = await this.payloadMode(payloadHash, { accessKeyId: scope.accessKeyId, secret, longDate, seedSignature: want });
    if (payload.kind !== 'unsigned' && payload.kind !== 'sha256') throw new S3Error('InvalidRequest', 'presigned requests cannot carry streaming (aws-chunked) signed payloads');
    return { accessKeyId: scope.accessKeyId, presigned: true, payload };
  }

  private async payloadMode(value: string, s: { accessKeyId: string; secret: string; longDate: string; seedSignature: string }): Promise<PayloadMode> {
    if (value === 'UNSIGNED-PAYLOAD') return { kind: 'unsigned' };
    if (value === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') return { kind: 'streaming-unsigned-trailer' };
    if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'sha256', hex: value.toLowerCase() };
    if (value === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' || value === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') {
      const shortDate = s.longDate.slice(0, 8);
      const signingKey = await getSigningKey(NodeSha256, { accessKeyId: s.accessKeyId, secretAccessKey: s.secret }, shortDate, this.region, 's3');
      return {
        kind: 'streaming-signed',
        trailer: value.endsWith('-TRAILER'),
        signing: { signingKey, longDate: s.longDate, scope: `${shortDate}/${this.region}/s3/aws4_request`, seedSignature: s.seedSignature },
      };
    }
    if (value.startsWith('STREAMING-AWS4-ECDSA')) throw new S3Error('NotImplemented', 'Signature Version 4A (ECDSA) streaming payloads are not supported by this store');
    throw new S3Error('InvalidArgument', `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or a SHA-256 in hex, not "${value.slice(0, 80)}"`);
  }
}
