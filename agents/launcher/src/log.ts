/**
 * Launcher (and SSH proxy) diagnostics go to stderr, each line stamped with its UTC time (ISO 8601, ms) and a
 * `[witness]` prefix; stdout is kept for `session <id>`. Messages quote outside text (administrators' messages,
 * server errors, login names), so every line is written with its escapes shown: one message is one line, and it
 * cannot drive the terminal.
 */
import { showEscapes } from '../../shared/terminal-text.ts';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LoggerOptions {
  verbose: boolean;
  write?: (line: string) => void;
  /** The time stamped on each line (tests fix it). */
  now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const sink = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const write = (level: string, message: string) =>
    sink(`${now().toISOString()} [witness] ${level}${showEscapes(message)}`);
  return {
    debug: (message) => {
      if (options.verbose) write('', message);
    },
    info: (message) => write('', message),
    warn: (message) => write('warning: ', message),
    error: (message) => write('error: ', message),
  };
}
