import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { bytes } from '../../core/bytes.js';
import { freeBytes } from '../../core/freeSpace.js';
import { failed, passed, type Finding } from './check.js';

/** Below this the data folder cannot take a typical dataset or model (ledgers, downloads, worker caches). */
export const MIN_FREE_BYTES = 1024 ** 3;

/** Free space on the disk of the data folder (or of its nearest existing parent, before a first run made it). */
export async function checkDisk(data: string, minFree = MIN_FREE_BYTES): Promise<Finding> {
  let dir = data;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const free = await freeBytes(dir);
  const where = dir === data ? data : `${data} (not made yet; its disk, at ${dir})`;
  if (free < minFree) return failed(`${where}: ${bytes(free)} free, less than ${bytes(minFree)}`, 'free some space on that disk, or use a data folder on another one (--data or SLEAP_RTC_DATA)');
  return passed(`${where}: ${bytes(free)} free`);
}
