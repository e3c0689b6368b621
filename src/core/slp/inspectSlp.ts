import { compoundColumns, compoundRows, num, withHdf5 } from './hdf5.js';
import { externalVideoWarning, readSlpHeader } from './slpFile.js';
import type { SlpSummary } from './types.js';

/**
 * Summarises a SLEAP labels file without reading its images or points: counts, skeletons,
 * videos, and warnings for videos a remote worker could not read. Throws AppError('bad_request')
 * for files that are not HDF5, are truncated, or lack SLEAP's datasets; 'not_found' when absent.
 */
export async function inspectSlp(path: string, opts: { signal?: AbortSignal } = {}): Promise<SlpSummary> {
  return withHdf5(path, (file) => {
    const header = readSlpHeader(file, path);
    const labeledFrames = header.frames.shape?.[0] ?? 0;
    const instances = header.instances.shape?.[0] ?? 0;
    let predictedInstances = 0;
    if (instances > 0) {
      const typeCol = compoundColumns(header.instances, 'instances').get('instance_type');
      if (typeCol !== undefined) for (const row of compoundRows(header.instances)) if (num(row[typeCol]) === 1) predictedInstances++;
    }
    const externalVideos = header.videos.filter((v) => !v.embedded).map((v) => v.filename);
    const warnings = externalVideos.map(externalVideoWarning);
    if (header.videos.length === 0) warnings.push('the file lists no videos, so there are no images to train on');
    if (instances - predictedInstances === 0) warnings.push('the file has no user-labelled instances to train on');
    return {
      format: header.videos.length > 0 && externalVideos.length === 0 ? 'pkg.slp' : 'slp',
      formatVersion: header.formatVersion,
      labeledFrames,
      instances,
      userInstances: instances - predictedInstances,
      predictedInstances,
      videos: header.videos,
      skeletons: header.skeletons,
      externalVideos,
      warnings,
    };
  }, opts);
}
