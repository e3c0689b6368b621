/**
 * Namespaced JSON-lines logger. Services write one JSON object per line to stderr so stdout
 * stays free for the lines other tools parse (`listening on ...`, `--json` results).
 * Never pass presigned URLs, tokens or keys in `fields`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(ns: string, fields?: Record<string, unknown>): Logger;
}

let threshold: LogLevel = 'info';
export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function createLogger(ns: string, base: Record<string, unknown> = {}, sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < ORDER[threshold]) return;
    sink(JSON.stringify({ t: new Date().toISOString(), level, ns, msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (sub, f) => createLogger(`${ns}:${sub}`, { ...base, ...f }, sink),
  };
}

/** A logger that drops everything: for library code used in tests and benchmarks. */
export const silentLogger: Logger = createLogger('silent', {}, () => undefined);
