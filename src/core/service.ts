import type { Logger } from './log.js';

export interface Service {
  close(): Promise<void>;
}

/**
 * Keeps a long-running subcommand alive until SIGINT/SIGTERM, then drains it with `close()`.
 * A second signal, or a close that takes longer than `graceMs`, exits at once.
 */
export function runUntilSignal(service: Service, log: Logger, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (closing) {
        log.warn('second signal, exiting now', { signal: sig });
        process.exit(130);
      }
      closing = true;
      log.info('stopping', { signal: sig });
      const timer = setTimeout(() => {
        log.error('close took too long, exiting', { graceMs });
        process.exit(1);
      }, graceMs);
      timer.unref();
      service.close().then(
        () => {
          clearTimeout(timer);
          log.info('stopped');
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        },
        (e: unknown) => {
          log.error('close failed', { error: String(e) });
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
