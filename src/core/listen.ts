import type { Server } from 'node:net';
import { AppError } from './errors.js';
import { portHolder } from './portHolder.js';

/** Which service a port belongs to: the CLI names the flag that changes it (`--<service>-port` in a stack). */
export type PortService = 'store' | 'server' | 'agent';

/**
 * server.listen(port, host), resolved once it listens. A port that is taken is an AppError
 * `port_in_use` naming the port and, when it can be found, the process holding it, not Node's
 * EADDRINUSE stack trace; the CLI adds the flag to change it (details.service).
 */
export async function listenOn(server: Server, port: number, host: string, service: PortService): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        server.off('listening', onListening);
        reject(e);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      const h = await portHolder(port);
      const by = h ? ` by pid ${h.pid} (${h.command})` : '';
      throw new AppError('port_in_use', `the ${service} cannot listen on ${host}:${port}: the port is already in use${by}`, { details: { service, port, host, ...(h ? { pid: h.pid } : {}) } });
    }
    if (code === 'EACCES') throw new AppError('port_in_use', `the ${service} may not listen on ${host}:${port} (ports below 1024 need privileges)`, { details: { service, port, host } });
    throw e;
  }
}
