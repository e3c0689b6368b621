import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AppError, isAppError } from '../../core/errors.js';
import { roomManifest, type ManifestModel, type RoomManifest } from '../../core/schemas/manifest.js';
import { noRoomError } from '../config.js';
// Module by module, not the transfer index: that would load the AWS SDK (S3Transport) into the agent.
import type { BackendClient } from '../../core/transfer/BackendClient.js';
import { downloadFile } from '../../core/transfer/Downloader.js';
import { PresignedRangeSource } from '../../core/transfer/RangeSource.js';

export interface ModelDownload {
  model_id: string;
  dest: string;
  files: Array<{ name: string; path: string; size: number; sha256: string }>;
}

/** The room's models (its manifest, read by a presigned GET) and their download into a folder. */
export class Models {
  constructor(
    private readonly backend: BackendClient,
    private readonly roomId: string | undefined,
  ) {}

  private get room(): string {
    if (!this.roomId) throw noRoomError();
    return this.roomId;
  }

  /** The room's manifest; an empty one when no model was made yet. */
  async manifest(signal?: AbortSignal): Promise<RoomManifest> {
    const key = `rooms/${this.room}/manifest.json`;
    let url: string;
    try {
      url = (await this.backend.requestDownload(key, { signal })).url;
    } catch (e) {
      if (isAppError(e, 'not_found')) return { version: 1, room_id: this.room, updated_at: new Date(0).toISOString(), models: {}, aliases: {} };
      throw e;
    }
    const res = await fetch(url, { signal });
    if (!res.ok) throw new AppError('upstream_error', `reading the room's manifest (${key}) failed: HTTP ${res.status}`);
    // Anyone with the bucket's keys can write the manifest: its ids and file names become paths
    // here, so a manifest the schema refuses is refused whole, before anything is written.
    const parsed = roomManifest.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new AppError('upstream_error', `the room's manifest (${key}) is not valid, so no model of it is listed or downloaded: ${issues}; repair or remove that object in the bucket`);
    }
    return parsed.data;
  }

  async list(): Promise<ManifestModel[]> {
    const m = await this.manifest();
    return Object.values(m.models).sort((a, b) => b.trained_at.localeCompare(a.trained_at));
  }

  /** A model by id or alias. */
  async get(idOrAlias: string): Promise<ManifestModel> {
    const m = await this.manifest();
    const model = m.models[idOrAlias] ?? m.models[m.aliases[idOrAlias] ?? ''];
    if (!model) throw new AppError('not_found', `no model "${idOrAlias}" in room ${this.room} (GET /api/models lists them)`);
    return model;
  }

  /** Downloads every file of a model into `dest/<model id>/` (resumable, SHA-256 verified). */
  async download(idOrAlias: string, destRoot: string, signal?: AbortSignal): Promise<ModelDownload> {
    const model = await this.get(idOrAlias);
    if (!model.files || model.files.length === 0) {
      throw new AppError('conflict', `model ${model.id} lists no files in the room's manifest (made by an older worker); fetch ${model.s3_path} with an S3 client instead`);
    }
    // The manifest's schema holds ids and file names to safe path segments (roomManifest); the
    // paths made of them are checked again, all before the first write.
    const root = resolve(destRoot);
    const dest = join(root, model.id);
    if (!isInside(root, dest)) throw new AppError('upstream_error', `model id "${model.id}" in the room's manifest does not name a folder inside ${root}; nothing was downloaded`);
    const paths = model.files.map((f) => join(dest, f.name));
    const bad = model.files.find((_, i) => !isInside(dest, paths[i]));
    if (bad) throw new AppError('upstream_error', `model ${model.id} names a file "${bad.name}" outside its folder ${dest} in the room's manifest; nothing was downloaded`);
    await mkdir(dest, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      throw new AppError('bad_request', `cannot create ${dest} (${e.code}): choose a folder you may write to`);
    });
    const prefix = model.s3_path.endsWith('/') ? model.s3_path : `${model.s3_path}/`;
    const files: ModelDownload['files'] = [];
    for (const [i, f] of model.files.entries()) {
      const path = paths[i];
      if (f.size_bytes === 0) {
        await writeFile(path, '');
        files.push({ name: f.name, path, size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
        continue;
      }
      await mkdir(join(path, '..'), { recursive: true });
      const r = await downloadFile({ source: new PresignedRangeSource(this.backend, prefix + f.name), dest: path }, { signal }).catch((e: unknown) => {
        // A full local disk is the caller's to fix, not the store's: its own code (HTTP 507).
        if (isAppError(e, 'storage_error') && e.details?.errno === 'ENOSPC') throw new AppError('disk_full', e.message, { details: e.details });
        throw e;
      });
      files.push({ name: f.name, path: r.path, size: r.size, sha256: r.sha256 });
    }
    return { model_id: model.id, dest, files };
  }
}

/** `path` lies strictly under the folder `parent` (both absolute, normalised by join/resolve). */
function isInside(parent: string, path: string): boolean {
  const r = relative(parent, path);
  return r !== '' && r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r);
}
