/**
 * Whether a process with this pid exists (signal 0 sends nothing). EPERM means it exists but
 * belongs to someone else. Works for a pid on Linux, macOS and Windows alike.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
