export { inspectSlp } from './inspectSlp.js';
export { readInstances } from './readInstances.js';
export { checkHdf5File, HDF5_SIGNATURE } from './hdf5.js';
export { externalVideoWarning } from './slpFile.js';
export type { ReadInstancesOptions, SlpInstances, SlpSkeleton, SlpSummary, SlpVideo, SlpVideoInfo } from './types.js';
