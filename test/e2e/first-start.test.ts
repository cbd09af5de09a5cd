/**
 * The first screen of `npm start` on a fresh machine (no WITNESS_ADMIN_PASSWORD, no API key, empty state): short,
 * with the URL and the admin's one-time password framed in its first 15 lines, every other line timestamped, and
 * the password the one that signs in. What wrangler printed (its migrations tables, its offline warnings) is not on
 * screen but kept in the log file the screen names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.ts';
import { type LocalServer, startLocalServer } from './local-server.ts';

let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer({
    env: { WITNESS_ADMIN_PASSWORD: undefined, WITNESS_ADMIN_PASSWORD_ONE_TIME: undefined, WITNESS_API_KEY: undefined },
    args: ['--no-processor'],
  });
  await waitFor('the framed account on screen', () => server.output().includes('└'), { timeoutMs: 30_000 });
});

afterAll(async () => {
  await server?.stop();
});

describe('npm start on a fresh machine', () => {
  it('shows the URL and the one-time password, framed, within its first 15 lines', async () => {
    const lines = server.output().split('\n');
    const first = lines.slice(0, 15);
    const urlLine = first.findIndex((line) => line.includes(`http://127.0.0.1:${server.port}`));
    const passwordLine = first.findIndex((line) => /one-time password:\s+\S{12,}/.test(line));
    expect(urlLine, server.output()).toBeGreaterThanOrEqual(0);
    expect(passwordLine, server.output()).toBeGreaterThanOrEqual(0);
    // Framed: both inside the box.
    expect(first[urlLine]).toMatch(/^\s+│ .* │$/);
    expect(first[passwordLine]).toMatch(/^\s+│ .* │$/);

    const shown = lines.filter((line) => line.trim() !== '');
    expect(shown.length, server.output()).toBeLessThanOrEqual(15);
    for (const line of shown.filter((l) => !/^\s+[┌│└]/.test(l))) {
      expect(line, 'every line outside the frame is timestamped').toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    }
    expect(server.output()).not.toMatch(/ENOTFOUND|0000_init\.sql/);

    const password = first[passwordLine]?.match(/one-time password:\s+(\S+)/)?.[1];
    const res = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: { mustChangePassword: boolean } };
    expect(body.user.mustChangePassword).toBe(true);
  });

  it('keeps what the tools printed in the log file it names', () => {
    const named = server.output().match(/full log: (\S+)/)?.[1];
    expect(named, server.output()).toBe(path.join(server.state, 'witness.log'));
    const log = readFileSync(path.join(server.state, 'witness.log'), 'utf8');
    expect(log).toContain('Migrations to be applied');
    expect(log).toContain('0000_init');
    expect(log).toMatch(/\[wrangler\] .*Ready on http:\/\/127\.0\.0\.1:/);
  });
});
