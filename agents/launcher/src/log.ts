/** Launcher diagnostics go to stderr with a `[witness]` prefix; stdout is kept for `session <id>`. */

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(options: { verbose: boolean; write?: (line: string) => void }): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  return {
    debug: (message) => {
      if (options.verbose) write(`[witness] ${message}`);
    },
    info: (message) => write(`[witness] ${message}`),
    warn: (message) => write(`[witness] warning: ${message}`),
    error: (message) => write(`[witness] error: ${message}`),
  };
}
