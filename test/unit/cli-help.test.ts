/** Every command a user runs answers --help with examples and exit codes, and --version with the package's. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; bin: Record<string, string> };

describe.each(Object.entries(pkg.bin))('%s', (_name, bin) => {
  const run = (flag: string) => execFileSync(process.execPath, [bin, flag], { encoding: 'utf8', timeout: 30_000 });

  it('prints its usage with examples and exit codes', () => {
    const help = run('--help');
    expect(help).toMatch(/^Usage/);
    expect(help).toContain('Examples:');
    expect(help).toMatch(/Exit codes: 0 /);
  });

  it("prints the package's version", () => {
    expect(run('--version').trim()).toBe(pkg.version);
  });
});
