/** The version every Witness CLI prints for `--version`: the package's own. */
import { readFileSync } from 'node:fs';

export function witnessVersion(): string {
  // A package.json that cannot be read is no reason to fail a `--version`: the fallback says it is unknown.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
