/**
 * Launcher (and SSH proxy) diagnostics go to stderr with a `[witness]` prefix; stdout is kept for
 * `session <id>`. Messages quote outside text (administrators' messages, server errors, login names), so
 * every line is written with its escapes shown: one message is one line, and it cannot drive the terminal.
 */
import { showEscapes } from '../../shared/terminal-text.ts';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(options: { verbose: boolean; write?: (line: string) => void }): Logger {
  const sink = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const write = (line: string) => sink(showEscapes(line));
  return {
    debug: (message) => {
      if (options.verbose) write(`[witness] ${message}`);
    },
    info: (message) => write(`[witness] ${message}`),
    warn: (message) => write(`[witness] warning: ${message}`),
    error: (message) => write(`[witness] error: ${message}`),
  };
}
