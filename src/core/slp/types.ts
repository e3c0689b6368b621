/**
 * What the project reads from SLEAP labels files (`.slp`, `.pkg.slp`). The layout these types
 * describe is SLEAP's HDF5 format as written by SLEAP and sleap-io (format ids 1.0-2.0):
 * datasets `frames`, `instances`, `points`, `pred_points`, `videos_json`, skeleton JSON in the
 * attributes of `metadata`, embedded images under `video<N>/`.
 */

export interface SlpSkeleton {
  name: string;
  /** Node names in the skeleton's own order: the order of each instance's points. */
  nodes: string[];
  /** Directed edges as [source, destination] node names. */
  edges: [string, string][];
  /** Symmetric node pairs (left/right), when the skeleton declares them. */
  symmetries: [string, string][];
}

export interface SlpVideo {
  /**
   * The video's file name as recorded in the labels. For an embedded video this is the name of
   * the video the frames came from (its `source_video`) when recorded, otherwise the labels file.
   */
  filename: string;
  /** True when the labelled frames' images are inside this file (a `.pkg.slp`). */
  embedded: boolean;
  /** HDF5 dataset holding the embedded images (`video0/video`), for embedded videos. */
  dataset?: string;
  /** [frames, height, width, channels] when known; for embedded videos `frames` counts embedded images. */
  shape?: [number, number, number, number];
  /** Image encoding of embedded frames (`png`, `jpg`). */
  imageFormat?: string;
}

export interface SlpSummary {
  /** `pkg.slp` when every video's frames are embedded, `slp` otherwise (whatever the file is named). */
  format: 'slp' | 'pkg.slp';
  /** SLEAP's `metadata.format_id` (1.0 ... 2.0). */
  formatVersion: number;
  labeledFrames: number;
  /** All instances, user-labelled and predicted. */
  instances: number;
  userInstances: number;
  predictedInstances: number;
  videos: SlpVideo[];
  skeletons: SlpSkeleton[];
  /** Filenames of videos whose frames are not in the file: a remote worker cannot read them. */
  externalVideos: string[];
  warnings: string[];
}

export interface SlpVideoInfo {
  filename: string;
  embedded: boolean;
  /** Image size in pixels when the file records it. */
  width?: number;
  height?: number;
  /** Frames in the video (embedded: embedded images) when known. */
  frameCount?: number;
}

/**
 * Labelled instances of one skeleton as flat typed arrays: instance `i`, node `j` has
 * x = points[(i * nodeCount + j) * 2], y = points[(i * nodeCount + j) * 2 + 1], NaN when the
 * point is missing (not visible or not labelled).
 */
export interface SlpInstances {
  skeleton: SlpSkeleton;
  nodeCount: number;
  count: number;
  points: Float64Array;
  /** Frame index in its video of each instance. */
  frameIdx: Float64Array;
  /** Row of each instance's labelled frame in the `frames` dataset. */
  frameRow: Uint32Array;
  /** Index into `videos` of each instance. */
  videoIndex: Int32Array;
  /** Ordinal of each instance among the selected instances of its frame (0, 1, ...). */
  instanceInFrame: Int32Array;
  /** Track index, or -1 when the instance has no track. */
  track: Int32Array;
  /** 1 for predicted instances (only present when `userOnly: false`), 0 for user-labelled ones. */
  predicted: Uint8Array;
  videos: SlpVideoInfo[];
  formatVersion: number;
}

export interface ReadInstancesOptions {
  /** Skeleton to read (index into the file's skeletons); default 0. */
  skeleton?: number;
  /** Only user-labelled instances (what sleap-nn trains on by default); default true. */
  userOnly?: boolean;
  signal?: AbortSignal;
}
