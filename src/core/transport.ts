/**
 * The hybrid transport design's `choose_transport` rules, exactly (docs/architecture.md,
 * "Transport choice"). Sizes are in bytes; the boundaries are strict as in the design:
 * exactly 10,000,000 and exactly 100,000,000 bytes fall through rule 4, whose conditions the
 * design writes with strict inequalities, so they end at the default.
 */
export type Transport = 'WebRTC' | 'S3';
export type DataType = 'dataset' | 'model' | 'config' | 'progress' | 'command' | 'visualization' | 'inference_frames' | 'inference_results' | (string & {});

export const SMALL_LIMIT = 10_000_000;
export const LARGE_LIMIT = 100_000_000;

export function chooseTransport(dataSize: number, dataType: DataType, realtimeRequired: boolean): Transport {
  if (!Number.isFinite(dataSize) || dataSize < 0) throw new RangeError(`data size must be a non-negative number of bytes, got ${dataSize}`);
  // Rule 1: real-time data always uses WebRTC.
  if (realtimeRequired) return 'WebRTC';
  // Rule 2: very small data uses WebRTC.
  if (dataSize < SMALL_LIMIT) return 'WebRTC';
  // Rule 3: large data uses S3.
  if (dataSize > LARGE_LIMIT) return 'S3';
  // Rule 4: medium data depends on what it is.
  if (dataSize > SMALL_LIMIT && dataSize < LARGE_LIMIT) {
    return dataType === 'model' || dataType === 'dataset' ? 'S3' : 'WebRTC';
  }
  // Default for the exact boundaries (10,000,000 and 100,000,000 bytes), as the design's code does.
  return 'WebRTC';
}
