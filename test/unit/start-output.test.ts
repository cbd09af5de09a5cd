import { describe, expect, it } from 'vitest';
import { appliedMigrations, framed, worthShowing } from '../../scripts/start-output.ts';

describe("npm start's screen", () => {
  it("keeps wrangler's chatter off the screen and a Worker's own errors on it", () => {
    for (const chatter of [
      '│ 0000_init.sql                 │ ✅     │',
      '🌀 Executing on local database DB (00000000-0000-0000-0000-000000000000) from ../../tmp/qs/v3/d1:',
      '[wrangler:warn] Unable to fetch the `Request.cf` object! Falling back to a default placeholder...',
      'Error: getaddrinfo ENOTFOUND workers.cloudflare.com',
      '    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:122:26)',
      'env.RECORDINGS (witness-recordings)                           R2 Bucket                 local',
      '[wrangler:info] GET /api/health 200 OK (3ms)',
      '⎔ Reloading local server...',
      '',
    ])
      expect(worthShowing(chatter), chatter).toBe(false);
    for (const news of [
      'sealing failed 3f2a… R2 put failed',
      '✘ [ERROR] Build failed with 1 error:',
      '[witness] reload failed: the Worker threw at start-up',
    ])
      expect(worthShowing(news), news).toBe(true);
  });

  it('reads which migrations wrangler applied, or that there were none', () => {
    const applied = `Migrations to be applied:
┌──────────────────┐
│ name             │
├──────────────────┤
│ 0018_a.sql       │
├──────────────────┤
│ 0019_agent_b.sql │
└──────────────────┘
? About to apply 2 migration(s)
│ 0018_a.sql       │ ✅     │
│ 0019_agent_b.sql │ ✅     │`;
    expect(appliedMigrations(applied)).toEqual(['0018_a', '0019_agent_b']);
    expect(appliedMigrations('✅ No migrations to apply!')).toEqual([]);
    expect(appliedMigrations('something else entirely')).toBeNull();
  });

  it('frames lines to the longest', () => {
    expect(framed(['ab', 'abcd']).split('\n')).toEqual([
      '  ┌────────┐',
      '  │  ab    │',
      '  │  abcd  │',
      '  └────────┘',
    ]);
  });
});
