import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident set size (VmHWM) of a process in bytes, or undefined when it cannot be read. */
export function peakRss(pid: number): number | undefined {
  return statusField(pid, 'VmHWM');
}

/** Current resident set size (VmRSS) of a process in bytes, or undefined. */
export function currentRss(pid: number): number | undefined {
  return statusField(pid, 'VmRSS');
}

/**
 * Resets a process's VmHWM to its current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux >= 4.0),
 * so each run's peak can be read on its own. Needs the same user as the process.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The executable name of a process (from /proc/<pid>/comm), or undefined. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** PIDs named in `<dir>/run/*.pid` (Ceph's pid files under the rgw.sh state folder). */
export function pidsFromPidFiles(runDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(runDir).filter((n) => n.endsWith('.pid'));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const n of names) {
    try {
      const pid = Number(readFileSync(join(runDir, n), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
    } catch {
      // a daemon that just exited removed its pid file
    }
  }
  return pids;
}

/** CPU seconds (user + system) this process used since `since` (a process.cpuUsage() value). */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** The unit of /proc times: 100 per second on every Linux architecture Node runs on (kernel ABI). */
const USER_HZ = 100;

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat; undefined if unreadable. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the `(comm)`: state is the 3rd field, utime the 14th and stime the 15th.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
    return (Number(rest[11]) + Number(rest[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** A short name for a process from its command line: the program and the arguments that tell it apart. */
export function processLabel(pid: number): string | undefined {
  try {
    let args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // Chromium rewrites its command line as one space-separated string.
    if (args.length === 1) args = args[0].split(' ');
    if (!args.length) return processName(pid);
    const prog = args[0].split('/').pop()!;
    const type = args.find((a) => a.startsWith('--type='));
    if (type) return `${prog} ${type.slice(7)}`;
    const script = args.find((a, i) => i > 0 && /\.(m?js|cjs|ts)$/.test(a));
    const sub = script ? args[args.indexOf(script) + 1] : undefined;
    if (script) return `${prog} ${script.split('/').pop()}${sub && !sub.startsWith('-') ? ` ${sub}` : ''}`;
    return prog;
  } catch {
    return undefined;
  }
}

/** CPU seconds so far of every process readable in /proc, by pid. */
export function cpuOfAllProcesses(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = processCpuSeconds(Number(name));
    if (s !== undefined) out.set(Number(name), s);
  }
  return out;
}

/** What each process used between two cpuOfAllProcesses() snapshots, as a share of one core, busiest first. */
export function cpuShares(before: Map<number, number>, after: Map<number, number>, seconds: number, top = 8): { label: string; pid: number; cores: number }[] {
  const rows: { label: string; pid: number; cores: number }[] = [];
  for (const [pid, cpu] of after) {
    const used = cpu - (before.get(pid) ?? 0);
    if (used > 0) rows.push({ pid, label: processLabel(pid) ?? String(pid), cores: used / seconds });
  }
  return rows.sort((a, b) => b.cores - a.cores).slice(0, top);
}
