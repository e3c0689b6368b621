import { AppError } from '../errors.js';
import { datasetAt, groupAt, num, str, type Dataset, type H5File } from './hdf5.js';
import { parseSkeletons } from './skeletons.js';
import type { SlpSkeleton, SlpVideo } from './types.js';

/** Datasets every SLEAP labels file has (SLEAP and sleap-io write them even when empty). */
export const REQUIRED_DATASETS = ['frames', 'instances', 'points', 'videos_json'] as const;

export interface SlpHeader {
  formatVersion: number;
  skeletons: SlpSkeleton[];
  videos: SlpVideo[];
  frames: Dataset;
  instances: Dataset;
  points: Dataset;
  predPoints?: Dataset;
}

/** Reads the small parts of an open SLEAP file: metadata, skeletons and videos. */
export function readSlpHeader(file: H5File, path: string): SlpHeader {
  const missing: string[] = REQUIRED_DATASETS.filter((n) => !datasetAt(file, n));
  const metadata = groupAt(file, 'metadata');
  if (!metadata) missing.push('metadata');
  if (missing.length > 0) {
    throw new AppError(
      'bad_request',
      `${path} is an HDF5 file but not a SLEAP labels file: it lacks ${missing.join(', ')} (SLEAP files have frames, instances, points, videos_json and metadata)`,
    );
  }
  const attrs = metadata!.attrs;
  const formatVersion = attrs.format_id ? num(attrs.format_id.value) : 1.0;
  const jsonText = str(attrs.json?.value) ?? str(datasetAt(metadata!, 'json')?.value);
  if (jsonText === undefined) throw new AppError('bad_request', `${path}: metadata has no skeleton JSON; this is not a SLEAP labels file`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText);
  } catch (e) {
    throw new AppError('bad_request', `${path}: the metadata JSON is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return {
    formatVersion: Number.isFinite(formatVersion) ? formatVersion : 1.0,
    skeletons: parseSkeletons(parsed, path),
    videos: readVideos(file, path),
    frames: datasetAt(file, 'frames')!,
    instances: datasetAt(file, 'instances')!,
    points: datasetAt(file, 'points')!,
    predPoints: datasetAt(file, 'pred_points'),
  };
}

interface VideoJson {
  filename?: unknown;
  backend?: { filename?: unknown; filenames?: unknown; dataset?: unknown; shape?: unknown };
}

function readVideos(file: H5File, path: string): SlpVideo[] {
  const ds = datasetAt(file, 'videos_json')!;
  if ((ds.shape?.[0] ?? 0) === 0) return [];
  const raw = ds.value;
  const entries = Array.isArray(raw) ? raw : [raw];
  return entries.map((entry, i) => {
    let json: VideoJson;
    try {
      json = JSON.parse(str(entry) ?? '') as VideoJson;
    } catch (e) {
      throw new AppError('bad_request', `${path}: videos_json[${i}] is not valid JSON`, { cause: e });
    }
    const backend = json.backend ?? {};
    const recorded = typeof backend.filename === 'string' ? backend.filename : typeof json.filename === 'string' ? json.filename : '';
    const datasetName = typeof backend.dataset === 'string' ? backend.dataset : '';
    const groupName = datasetName.endsWith('/video') ? datasetName.slice(0, -'/video'.length) : '';
    const group = groupName ? groupAt(file, groupName) : undefined;
    if (recorded === '.' || (group && datasetAt(group, 'video'))) return embeddedVideo(file, path, groupName, datasetName);
    const shape = fourNumbers(backend.shape);
    const filenames = Array.isArray(backend.filenames) ? backend.filenames.filter((f): f is string => typeof f === 'string') : [];
    return { filename: recorded || filenames[0] || `video ${i}`, embedded: false, ...(shape ? { shape } : {}) };
  });
}

function embeddedVideo(file: H5File, path: string, groupName: string, datasetName: string): SlpVideo {
  const group = groupName ? groupAt(file, groupName) : undefined;
  const images = group ? datasetAt(group, 'video') : undefined;
  if (!group || !images) {
    throw new AppError('bad_request', `${path} says its frames are embedded in ${datasetName || '(no dataset)'}, but that dataset is missing`);
  }
  const a = images.attrs;
  const height = a.height ? num(a.height.value) : Number.NaN;
  const width = a.width ? num(a.width.value) : Number.NaN;
  const channels = a.channels ? num(a.channels.value) : Number.NaN;
  const frameNumbers = datasetAt(group, 'frame_numbers');
  const frames = frameNumbers?.shape?.[0] ?? images.shape?.[0] ?? Number.NaN;
  let filename = path;
  const source = groupAt(group, 'source_video')?.attrs.json ?? groupAt(group, 'original_video')?.attrs.json;
  const sourceText = source ? str(source.value) : undefined;
  if (sourceText) {
    try {
      const sj = JSON.parse(sourceText) as VideoJson;
      const f = sj.backend?.filename ?? sj.filename;
      if (typeof f === 'string' && f && f !== '.') filename = f;
    } catch {
      // a malformed lineage record only costs us the display name
    }
  }
  const shape: [number, number, number, number] = [frames, height, width, channels];
  const format = a.format ? str(a.format.value) : undefined;
  return {
    filename,
    embedded: true,
    dataset: datasetName || `${groupName}/video`,
    ...(shape.every(Number.isFinite) ? { shape } : {}),
    ...(format ? { imageFormat: format } : {}),
  };
}

function fourNumbers(v: unknown): [number, number, number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 4) return undefined;
  const n = v.map(num);
  return n.every(Number.isFinite) ? (n as [number, number, number, number]) : undefined;
}

/** Message for a video a remote worker cannot read. */
export function externalVideoWarning(filename: string): string {
  return `the worker will not see ${filename}; export a .pkg.slp (File > Export > Labels Package) to embed the frames`;
}
