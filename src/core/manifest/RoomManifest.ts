import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { AppError, isAppError } from '../errors.js';
import { manifestModel, roomManifest, type ManifestModel, type RoomManifest } from '../schemas/manifest.js';
import { classifyFailure, retryDelay, sleep, throwIfAborted, type RetryPolicy } from '../transfer/retry.js';
import { bareEtag } from '../etag.js';

/**
 * The room manifest (docs/facts.md §1): one JSON object per room at
 * `<prefix>/<room_id>/manifest.json`, updated by optimistic locking. Every write is ONE
 * PutObject carrying `If-None-Match: *` (the room had no manifest) or `If-Match: <etag>` (the
 * ETag read with the manifest); a 412 PreconditionFailed or 409 ConditionalRequestConflict means
 * another writer got there first, so the manifest is read again, the mutation applied again to
 * the fresh copy, and the write retried after a jittered backoff. Never multipart: conditional
 * CompleteMultipartUpload is not honoured by Ceph RGW (docs/facts.md §4).
 */

export const DEFAULT_MANIFEST_PREFIX = 'rooms';

/**
 * The backoff between conflicting writes: the project's full-jitter schedule (transfer/retry.ts)
 * with short delays, since a conflict means the manifest moved on, not that the server is hurt.
 */
export const MANIFEST_RETRY: RetryPolicy = { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 1_000 };

export interface ManifestLocation {
  /** Key prefix of the rooms (default `rooms`): the manifest is `<prefix>/<room_id>/manifest.json`. */
  prefix?: string;
}

export interface ReadManifestOptions extends ManifestLocation {
  signal?: AbortSignal;
}

export interface UpdateManifestOptions extends ReadManifestOptions {
  /** Writes tried (the first included) before giving up with `conflict`. Default 50. */
  maxAttempts?: number;
  /** Backoff between tries; `maxAttempts` above wins over its own. Default MANIFEST_RETRY. */
  policy?: RetryPolicy;
  /** Called before each retry with why the previous try failed. */
  onRetry?: (info: { attempt: number; reason: 'conflict' | 'transient'; delayMs: number; error: unknown }) => void;
  random?: () => number;
}

export interface AddModelOptions extends UpdateManifestOptions {
  /** Alias to point at the model (moved from any model holding it). Default: `model.alias`. */
  alias?: string;
}

/** What readManifest found: the stored manifest and its ETag, or an empty one (version 0) and no ETag. */
export type ManifestRead = { manifest: RoomManifest; etag: string } | { manifest: RoomManifest; etag: undefined };

export interface ManifestWrite {
  manifest: RoomManifest;
  /** The ETag of the object this call wrote, as the server sent it. */
  etag: string;
  /** Writes tried, the successful one included (1 = no conflict). */
  attempts: number;
}

/** Returns the new manifest, or mutates the one given (a private copy) and returns nothing. */
export type ManifestMutation = (m: RoomManifest) => RoomManifest | void;

const ROOM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkRoomId(roomId: string): void {
  if (!ROOM_ID.test(roomId) || roomId.includes('..')) {
    throw new AppError('bad_request', `invalid room id ${JSON.stringify(roomId)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

/** `<prefix>/<room_id>/manifest.json` (prefix default `rooms`; an empty prefix puts rooms at the bucket root). */
export function manifestKey(roomId: string, prefix: string = DEFAULT_MANIFEST_PREFIX): string {
  checkRoomId(roomId);
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p === '' ? `${roomId}/manifest.json` : `${p}/${roomId}/manifest.json`;
}

/**
 * The `If-Match` value for an ETag: the bare opaque tag, without quotes or a weak `W/` marker.
 * Ceph RGW matches If-Match only against the unquoted ETag (docs/facts.md §4); AWS S3 and the
 * embedded store compare the value with any quotes removed, so the bare form is accepted by all.
 */
export const ifMatchValue = bareEtag;

/** The manifest of a room that has none yet: version 0, no models. Its first write is version 1. */
export function emptyManifest(roomId: string): RoomManifest {
  return { version: 0, room_id: roomId, updated_at: new Date(0).toISOString(), models: {}, aliases: {} };
}

interface S3ErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function s3Status(e: unknown): number | undefined {
  return (e as S3ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

function s3Code(e: unknown): string | undefined {
  const err = e as S3ErrorShape | undefined;
  return err?.Code ?? err?.name;
}

function isNotFound(e: unknown): boolean {
  const code = s3Code(e);
  return code === 'NoSuchKey' || code === 'NotFound' || s3Status(e) === 404;
}

/** 412 (someone else wrote since our read) or 409 (someone else is writing right now). */
function isWriteConflict(e: unknown): boolean {
  const status = s3Status(e);
  const code = s3Code(e);
  return status === 412 || status === 409 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict';
}

function storageError(e: unknown, what: string, where: string): AppError {
  if (isAppError(e)) return e;
  const err = e as { name?: string } | undefined;
  if (err?.name === 'AbortError') return new AppError('aborted', `${what} ${where} was cancelled`, { cause: e });
  const status = s3Status(e);
  const code = s3Code(e);
  const msg = e instanceof Error ? e.message : String(e);
  const details: Record<string, unknown> = {};
  if (status !== undefined) details.status = status;
  if (code !== undefined && status !== undefined) details.s3_code = code;
  return new AppError('storage_error', `${what} ${where} failed: ${code && status !== undefined ? `${code} (HTTP ${status}): ` : ''}${msg}`, { cause: e, details });
}

function corrupt(where: string, reason: string, cause?: unknown): AppError {
  return new AppError(
    'storage_error',
    `room manifest ${where} is corrupt (${reason}); it was left untouched: repair or remove it by hand before the room can be updated`,
    { cause, details: { corrupt_manifest: true } },
  );
}

/** Parses and validates a stored manifest; anything unexpected is `corrupt`, never replaced. */
export function parseManifest(text: string, roomId: string, where = `of room ${roomId}`): RoomManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt(where, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const r = roomManifest.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw corrupt(where, `does not match the manifest schema: ${issues}`, r.error);
  }
  if (r.data.room_id !== roomId) throw corrupt(where, `it names room ${JSON.stringify(r.data.room_id)}`);
  return r.data;
}

/** Reads and validates the manifest of `roomId`; a room without one gives an empty manifest and no ETag. */
export async function readManifest(s3: S3Client, bucket: string, roomId: string, opts: ReadManifestOptions = {}): Promise<ManifestRead> {
  const key = manifestKey(roomId, opts.prefix);
  const where = `s3://${bucket}/${key}`;
  throwIfAborted(opts.signal);
  let text: string;
  let etag: string | undefined;
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: opts.signal });
    text = (await r.Body?.transformToString('utf-8')) ?? '';
    etag = r.ETag;
  } catch (e) {
    throwIfAborted(opts.signal);
    if (isNotFound(e)) return { manifest: emptyManifest(roomId), etag: undefined };
    throw storageError(e, 'reading room manifest', where);
  }
  if (!etag) throw new AppError('storage_error', `reading room manifest ${where}: the server sent no ETag, so the manifest cannot be updated safely`);
  return { manifest: parseManifest(text, roomId, where), etag };
}

/**
 * Read, mutate a copy, write conditionally; on a conflict read again and redo. The mutation may
 * run several times (once per try) and must depend only on the manifest it is given. It may throw
 * to give up: nothing is written then. `version` and `updated_at` are set here, not by the mutation.
 */
export async function updateManifest(s3: S3Client, bucket: string, roomId: string, mutate: ManifestMutation, opts: UpdateManifestOptions = {}): Promise<ManifestWrite> {
  const key = manifestKey(roomId, opts.prefix);
  const where = `s3://${bucket}/${key}`;
  const base = opts.policy ?? MANIFEST_RETRY;
  const policy: RetryPolicy = { ...base, maxAttempts: opts.maxAttempts ?? base.maxAttempts };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) throw new AppError('bad_request', `maxAttempts must be a positive integer, got ${policy.maxAttempts}`);
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(opts.signal);
    const current = await readManifest(s3, bucket, roomId, opts);
    const next = applyMutation(current.manifest, mutate, roomId);
    const body = Buffer.from(`${JSON.stringify(next, null, 2)}\n`, 'utf-8');
    const condition = current.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: ifMatchValue(current.etag) };
    try {
      const r = await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', CacheControl: 'no-cache', ...condition }),
        { abortSignal: opts.signal },
      );
      const etag = r.ETag || (await headEtag(s3, bucket, key, where, opts.signal));
      return { manifest: next, etag, attempts: attempt };
    } catch (e) {
      throwIfAborted(opts.signal);
      // A manifest deleted between our read and our If-Match write answers 404: also a lost race.
      const conflict = isWriteConflict(e) || (current.etag !== undefined && isNotFound(e));
      const wrapped = storageError(e, 'writing room manifest', where);
      const kind = conflict ? 'conflict' : classifyFailure(wrapped);
      if (kind !== 'conflict' && kind !== 'retry' && kind !== 'slow_down') throw wrapped;
      if (attempt >= policy.maxAttempts) {
        throw new AppError(conflict ? 'conflict' : wrapped.code, `writing room manifest ${where} gave up after ${attempt} tries: ${conflict ? 'other writers kept changing it' : wrapped.message}`, {
          cause: e,
          details: { ...wrapped.details, attempts: attempt },
        });
      }
      const delayMs = retryDelay(attempt, policy, opts.random);
      opts.onRetry?.({ attempt, reason: conflict ? 'conflict' : 'transient', delayMs, error: e });
      await sleep(delayMs, opts.signal);
    }
  }
}

async function headEtag(s3: S3Client, bucket: string, key: string, where: string, signal?: AbortSignal): Promise<string> {
  try {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    if (h.ETag) return h.ETag;
  } catch (e) {
    throw storageError(e, 'reading the ETag of room manifest', where);
  }
  throw new AppError('storage_error', `room manifest ${where} was written but the server reports no ETag for it`);
}

function applyMutation(current: RoomManifest, mutate: ManifestMutation, roomId: string): RoomManifest {
  const copy = structuredClone(current);
  const out = mutate(copy) ?? copy;
  const candidate = { ...out, room_id: roomId, version: current.version + 1, updated_at: new Date().toISOString() };
  const r = roomManifest.safeParse(candidate);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AppError('bad_request', `the updated manifest of room ${roomId} is invalid, nothing was written: ${issues}`, { cause: r.error });
  }
  for (const [alias, id] of Object.entries(r.data.aliases)) {
    if (!r.data.models[id]) throw new AppError('bad_request', `the updated manifest of room ${roomId} is invalid, nothing was written: alias ${JSON.stringify(alias)} names unknown model ${JSON.stringify(id)}`);
  }
  for (const [id, m] of Object.entries(r.data.models)) {
    if (m.id !== id) throw new AppError('bad_request', `the updated manifest of room ${roomId} is invalid, nothing was written: models.${id} has id ${JSON.stringify(m.id)}`);
  }
  return r.data;
}

/**
 * Puts `model` into `m` (replacing a model with the same id) and points `alias` at it, taking the
 * alias away from any other model. Aliases that already named this id keep naming it.
 */
export function putModel(m: RoomManifest, model: ManifestModel, alias?: string | null): RoomManifest {
  const previous = m.models[model.id];
  const newAlias = alias ?? model.alias ?? null;
  if (newAlias !== null) {
    const holder = m.aliases[newAlias];
    if (holder !== undefined && holder !== model.id && m.models[holder]?.alias === newAlias) {
      m.models[holder] = { ...m.models[holder], alias: null };
    }
    m.aliases[newAlias] = model.id;
  }
  const keptAlias = previous?.alias && m.aliases[previous.alias] === model.id ? previous.alias : null;
  m.models[model.id] = { ...model, alias: newAlias ?? keptAlias };
  return m;
}

/** Adds (or replaces) one model in the room's manifest, optionally under an alias. */
export async function addModel(s3: S3Client, bucket: string, roomId: string, model: ManifestModel, opts: AddModelOptions = {}): Promise<ManifestWrite> {
  const parsed = manifestModel.safeParse(model);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AppError('bad_request', `invalid model for room ${roomId}: ${issues}`, { cause: parsed.error });
  }
  if (parsed.data.id === '') throw new AppError('bad_request', `invalid model for room ${roomId}: empty id`);
  const alias = opts.alias ?? parsed.data.alias ?? undefined;
  if (alias !== undefined && alias.trim() === '') throw new AppError('bad_request', `invalid alias for model ${parsed.data.id}: empty`);
  return updateManifest(s3, bucket, roomId, (m) => putModel(m, parsed.data, alias), opts);
}
