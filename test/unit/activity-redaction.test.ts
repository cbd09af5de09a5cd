/** The launcher and the SSH proxy send no secret in clear: the activity log redacts every event before it spools it. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityLog } from '../../agents/launcher/src/activity-log.ts';
import { formatCommandLine } from '../../agents/launcher/src/capture/processes.ts';
import { createLogger } from '../../agents/launcher/src/log.ts';
import { EventSpool, type SpooledBatch } from '../../agents/launcher/src/spool.ts';
import { redactArgv } from '../../protocol/redaction.ts';

const ORIGIN = 1_800_000_000_000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('activity log redaction', () => {
  it('spools command lines, titles, typed runs and SSH input with their secrets replaced, and counts them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witness-redact-'));
    dirs.push(dir);
    const spool = new EventSpool(dir);
    const uploaded: SpooledBatch[] = [];
    const activity = new ActivityLog({
      spool,
      upload: (b) => uploaded.push(b),
      log: createLogger({ verbose: false, write: () => {} }),
    });
    activity.setOrigin(ORIGIN);
    activity.add({
      type: 'process.start',
      atMs: ORIGIN + 1,
      pid: 7,
      name: 'psql',
      path: '/usr/bin/psql',
      commandLine: 'PGPASSWORD=Hunter2 psql -h db',
      user: 'alice',
    });
    activity.add({ type: 'window.focus', atMs: ORIGIN + 2, title: 'mysql -pHunter3 - xterm', app: 'XTerm' });
    activity.add({ type: 'keys', atMs: ORIGIN + 3, endMs: ORIGIN + 4, text: 'export API_TOKEN=Hunter4<Enter>' });
    activity.add({ type: 'ssh.input', atMs: 5, endMs: 6, text: 'curl -u https://u:Hunter5@host<Enter>' });
    activity.close();
    const sent = readFileSync(join(spool.dir, '0000000000.json'), 'utf8');
    expect(sent).not.toContain('Hunter');
    expect(sent).toContain('PGPASSWORD=<redacted:secret-assignment>');
    expect(sent).toContain('mysql -p<redacted:password> - xterm');
    expect(sent).toContain('API_TOKEN=<redacted:secret-assignment>');
    expect(sent).toContain('https://u:<redacted:url-credentials>@host');
    expect(activity.redactions).toBe(4);
  });

  it("keeps an argument's boundaries: a quoted password with spaces goes whole", () => {
    const argv = ['mysql', '--user', 'root', '--password', 'correct horse battery', 'db'];
    expect(formatCommandLine(redactArgv(argv).argv)).toBe('mysql --user root --password <redacted:password> db');
  });
});
