/**
 * Structured logging: pino JSON lines. Never handed a token, a secret or an Authorization value;
 * redaction below is a second line of defence, not the first. The only file that imports pino.
 */
import { pino } from 'pino';

/** The logger type used across src/. */
export type Logger = pino.Logger;

/**
 * Creates the logger.
 * @param opts.level pino level name (default "info")
 * @param opts.destination where lines go; default stdout, written asynchronously off the hot path
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['authorization', 'client_secret', 'access_token', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream,
  );
}

/** Flushes an asynchronous destination before the process exits. */
export function flushLogger(log: Logger): void {
  try {
    log.flush();
    /* c8 ignore start - SonicBoom throws only when its file descriptor is not open yet: nothing buffered */
  } catch {
    // nothing to flush
  }
  /* c8 ignore stop */
}
