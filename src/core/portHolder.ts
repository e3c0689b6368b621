import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';

/** The process that listens on a TCP port, when it can be found (ours or the user's to see). */
export interface PortHolder {
  pid: number;
  command: string;
}

/**
 * Who listens on `port`, to name it in a "port in use" message. Linux: the kernel's socket table
 * (/proc/net/tcp{,6}) and each process's open sockets; macOS: lsof, which ships with it. Elsewhere
 * (Windows) or when it is another user's process, undefined: the message then says only the port.
 */
export async function portHolder(port: number): Promise<PortHolder | undefined> {
  try {
    if (process.platform === 'linux') return linuxHolder(port);
    if (process.platform === 'darwin') return await lsofHolder(port);
  } catch {
    // Best effort: the port number alone is still a clear message.
  }
  return undefined;
}

function linuxHolder(port: number): PortHolder | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st ... inode: local is ADDR:PORT in hex, st 0A is LISTEN.
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9]);
    }
  }
  if (!inodes.size) return undefined;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) {
        const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
        const flat = command.replace(/\s+/g, " ");
        return { pid: Number(pid), command: flat.length > 120 ? `${flat.slice(0, 117)}...` : flat };
      }
    }
  }
  return undefined;
}

async function lsofHolder(port: number): Promise<PortHolder | undefined> {
  const { stdout } = await promisify(execFile)('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { timeout: 3000 });
  const pid = /^p(\d+)$/m.exec(stdout)?.[1];
  const command = /^c(.+)$/m.exec(stdout)?.[1];
  return pid ? { pid: Number(pid), command: command ?? '?' } : undefined;
}
