/**
 * The SSH proxy end to end on one machine: the real OpenSSH client → the proxy → a real sshd, recording into
 * the fake Witness server (test/support/fake-witness.ts).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseCast } from '../../protocol/asciicast.ts';
import type { FakeSession } from '../support/fake-witness.ts';
import { waitFor } from '../support/wait-for.ts';
import { freePort, type Sshd, ssh, sshOptions, startSshd, waitForPort } from './ssh/openssh.ts';
import { type Harness, startHarness } from './ssh/proxy-harness.ts';

/** Async: the proxy runs in this process, so a synchronous child would block it. */
const run = promisify(execFile);

/** The cast's events of one code, with their times in ms. */
function eventsOf(cast: string, code: string): { ms: number; data: string }[] {
  return parseCast(cast)
    .events.filter(([, c]) => c === code)
    .map(([time, , data]) => ({ ms: Math.round(time * 1000), data }));
}

/** Waits until the session's recording is finished (`end` received and every piece stored). */
async function finished(h: Harness, session: () => FakeSession | undefined): Promise<FakeSession> {
  const ended = await waitFor(
    'the session to end',
    () => {
      const s = session();
      return s && h.witness.finished(s) && s;
    },
    { timeoutMs: 20_000, detail: () => `log:\n${h.log.join('\n')}` },
  );
  await h.proxy.drained();
  return ended;
}

/** The cast pieces stored so far, in any order: enough to see whether an event has been recorded. */
function castSoFar(session: FakeSession | undefined): string {
  return [...(session?.pieces.values() ?? [])].map((p) => p.bytes.toString('utf8')).join('');
}

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

describe('a shell through the proxy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sshd });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('records what was typed and printed as asciicast, at the right offsets, with commands', async () => {
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type("PS1='$ '; echo ready-$((40+2))\r");
    await client.waitFor('ready-42');
    // A fixed pause, and the one left in these tests: the pause is the input under test (the cast must place
    // the second command at least 2.4 s after the first), and nothing in the system marks 2.5 s passing.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    client.type('echo second-$((1+1))\r');
    await client.waitFor('second-2');
    client.type('exit\r');
    expect(await client.exited).toBe(0);

    const session = await finished(h, () => h.witness.soleSession());
    expect(session.user).toBe('alice');
    expect(session.target).toBe('target');
    const cast = h.witness.cast(session);
    const { header } = parseCast(cast);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24 });
    // What the client saw is exactly what the "o" events hold.
    expect(
      eventsOf(cast, 'o')
        .map((e) => e.data)
        .join(''),
    ).toBe(client.stdout());
    const input = eventsOf(cast, 'i');
    expect(input.map((e) => e.data).join('')).toBe("PS1='$ '; echo ready-$((40+2))\recho second-$((1+1))\rexit\r");
    const secondTyped = input.find((e) => e.data.includes('second'))?.ms ?? -1;
    const firstTyped = input[0]?.ms ?? -1;
    expect(secondTyped - firstTyped).toBeGreaterThanOrEqual(2_400);
    // The echo comes after the keys that caused it.
    const echoed = eventsOf(cast, 'o').find((e) => e.data.includes('second-2'))?.ms ?? -1;
    expect(echoed).toBeGreaterThanOrEqual(secondTyped);

    const events = h.witness.events(session);
    const commands = events.filter((e) => e.type === 'ssh.command');
    expect(commands.map((e) => e.text)).toEqual(["PS1='$ '; echo ready-$((40+2))", 'echo second-$((1+1))', 'exit']);
    expect(commands[1]?.atMs).toBe(secondTyped);
    const runs = events.filter((e) => e.type === 'ssh.input');
    expect(runs.map((e) => e.text)).toContain('echo second-$((1+1))<Enter>');
    // Pieces are announced with the times they hold, and the recording ended with the highest seq.
    const lastSeq = Math.max(...session.pieces.keys());
    expect(h.witness.messages(session, 'end')).toEqual([{ type: 'end', lastSeq }]);
    expect(session.received[0]?.message).toMatchObject({ type: 'hello', launcher: { name: 'witness-ssh-proxy' } });
  });

  test('in a real terminal (tmux): the pty size is the header, a resize is an "r" event', async () => {
    const name = `witness-${process.pid}-${Date.now()}`;
    const tmux = (...args: string[]) => run('tmux', args, { env: { ...process.env, TERM: 'xterm-256color' } });
    const screen = async () => (await tmux('capture-pane', '-p', '-t', name)).stdout;
    const waitForScreen = (text: string) =>
      waitFor(`tmux to show ${text}`, async () => (await screen()).includes(text), {
        timeoutMs: 15_000,
        detail: screen,
      });
    const before = h.witness.sessions.size;
    const latest = () => (h.witness.sessions.size > before ? h.witness.latestSession() : undefined);
    const command = ['ssh', ...sshOptions(h.port, h.alice.path), 'alice+target@127.0.0.1'].join(' ');
    await tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', command);
    try {
      await tmux('send-keys', '-t', name, 'echo tm-$((20+1))', 'Enter');
      await waitForScreen('tm-21');
      await tmux('resize-window', '-t', name, '-x', '120', '-y', '40');
      // The proxy records the window change as it passes it to the target: once it is in the cast, the
      // target's pty has been resized too.
      await waitFor('the resize to be recorded', () => castSoFar(latest()).includes('"r","120x40"'), {
        timeoutMs: 15_000,
      });
      await tmux('send-keys', '-t', name, 'stty size', 'Enter');
      await waitForScreen('40 120');
      await tmux('send-keys', '-t', name, 'exit', 'Enter');
    } finally {
      await tmux('kill-session', '-t', name).catch(() => undefined);
    }
    const session = await finished(h, latest);
    const cast = h.witness.cast(session);
    expect(parseCast(cast).header).toMatchObject({ width: 100, height: 30, env: { TERM: 'tmux-256color' } });
    expect(eventsOf(cast, 'r').map((e) => e.data)).toContain('120x40');
  });

  test('relays exec with its exit status and stderr, and records the command', async () => {
    const client = ssh([
      ...sshOptions(h.port, h.alice.path),
      'alice+target@127.0.0.1',
      'echo exec-out; echo exec-err >&2; exit 7',
    ]);
    expect(await client.exited).toBe(7);
    expect(client.stdout()).toBe('exec-out\n');
    expect(client.stderr()).toContain('exec-err');
    const session = await finished(h, () => h.witness.latestSession());
    const cast = h.witness.cast(session);
    expect(
      eventsOf(cast, 'o')
        .map((e) => e.data)
        .join(''),
    ).toContain('exec-out\n');
    expect(h.witness.events(session)).toContainEqual(
      expect.objectContaining({ type: 'ssh.command', text: 'echo exec-out; echo exec-err >&2; exit 7' }),
    );
  });

  test('refuses port and X11 forwarding: no traffic passes the recording', async () => {
    const login = [...sshOptions(h.port, h.alice.path), 'alice+target@127.0.0.1'];
    // -R is a global request: refused, and with ExitOnForwardFailure the client says so and stops.
    const remote = ssh(['-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9', ...login, 'true']);
    expect(await remote.exited).toBe(255);
    expect(remote.stderr()).toMatch(/remote port forwarding failed/);

    // -L opens a channel to the target's sshd when something connects to the local port: refused, so the
    // connection closes without sshd's greeting (it would send "SSH-2.0-…" at once).
    const port = await freePort();
    const local = ssh(['-L', `${port}:127.0.0.1:${sshd.port}`, ...login, 'sleep 2; echo done']);
    await waitForPort(port);
    const answered = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let got = '';
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1');
      });
      socket.on('close', () => resolve(got));
      socket.on('error', () => resolve(got));
    });
    expect(answered).toBe('');
    expect(await local.exited).toBe(0);
    expect(local.stdout()).toBe('done\n');

    // -X: refused, so the shell on the target has no display (this sshd forwards X11 to a direct client:
    // its DISPLAY would be localhost:10.0).
    const x11 = ssh(['-X', '-tt', ...login, 'echo "display=[$DISPLAY]"'], { DISPLAY: ':99' });
    expect(await x11.exited).toBe(0);
    expect(x11.stdout()).toContain('display=[]');
    expect(x11.stderr()).toMatch(/X11 forwarding request failed/);
  });

  test('redacts what is typed into a password prompt, in the cast and in activity', async () => {
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    // The prompt text is built by the shell, so the typed command line does not itself look like a prompt.
    // Echo goes off before the prompt is printed: once the client shows it, what it types is not echoed.
    const command = ['P=Passw; stty -echo; printf "$', '{P}ord: "; read pw; stty echo; echo; echo got-$', '{#pw}'].join(
      '',
    );
    client.type(`${command}\r`);
    await client.waitFor('Password: ');
    client.type('hunter2\r');
    await client.waitFor('got-7');
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    const session = await finished(h, () => h.witness.latestSession());
    const cast = h.witness.cast(session);
    expect(cast).not.toContain('hunter2');
    expect(eventsOf(cast, 'i').map((e) => e.data)).toContain('<redacted>\r');
    const events = h.witness.events(session);
    expect(JSON.stringify(events)).not.toContain('hunter2');
    expect(events).toContainEqual(expect.objectContaining({ type: 'ssh.input', text: '<redacted>', redacted: true }));
    expect(events.filter((e) => e.type === 'ssh.command').map((e) => e.text)).toEqual([command, 'exit']);
  });

  test('redacts secrets on typed command lines in the cast, input and echo, with markers, keystroke by keystroke', async () => {
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type("PS1='$ '; echo ready-$((1+2))\r");
    await client.waitFor('ready-3');
    // Typed one key at a time, as a person types: the secret spans many input events (and echoes).
    const line = 'mysql -pS3cretPw9 -e status; echo typed-$((2+2))';
    for (let i = 0; i < line.length; i++) {
      client.type(line[i] as string);
      await client.waitFor(new RegExp(`${line.slice(0, i + 1).replace(/[$()+]/g, '\\$&')}$`));
    }
    client.type('\r');
    await client.waitFor('typed-4');
    client.type('export DB_PASSWORD=hunter2-xyz && echo set-$((3+3))\r');
    await client.waitFor('set-6');
    client.type('echo plain-$((4+4))\r');
    await client.waitFor('plain-8');
    client.type('exit\r');
    expect(await client.exited).toBe(0);

    const session = await finished(h, () => h.witness.latestSession());
    const cast = h.witness.cast(session);
    for (const secret of ['S3cretPw9', 'hunter2-xyz']) expect(cast).not.toContain(secret);
    const input = eventsOf(cast, 'i');
    const output = eventsOf(cast, 'o');
    const typed = input.map((e) => e.data).join('');
    expect(typed).toContain('mysql -p<redacted:password> -e status; echo typed-$((2+2))\r');
    expect(typed).toContain('export DB_PASSWORD=<redacted:secret-assignment> && echo set-$((3+3))\r');
    // The echo says the same, and a line without a secret is recorded as it was typed and printed.
    const printed = output.map((e) => e.data).join('');
    expect(printed).toContain('mysql -p<redacted:password> -e status; echo typed-$((2+2))');
    expect(printed).toContain('export DB_PASSWORD=<redacted:secret-assignment> && echo set-$((3+3))');
    expect(typed).toContain('echo plain-$((4+4))\r');
    expect(printed).toBe(
      client
        .stdout()
        .replaceAll('S3cretPw9', '<redacted:password>')
        .replaceAll('hunter2-xyz', '<redacted:secret-assignment>'),
    );
    // Keystrokes keep their own times: the line typed key by key is still many events, in time order.
    const lineStart = input.findIndex((e) => e.data === 'm');
    const lineEnd = input.findIndex((e, i) => i > lineStart && e.data === '\r');
    expect(lineEnd - lineStart).toBe(line.length - 'S3cretPw9'.length + 1);
    expect(input[lineStart + 'mysql -p'.length]?.data).toBe('<redacted:password>');
    const times = parseCast(cast).events.map(([t]) => t);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const events = h.witness.events(session);
    expect(JSON.stringify(events)).not.toMatch(/S3cretPw9|hunter2-xyz/);
  });

  test('a full-screen program (alternate screen) is recorded as keys come, not held for a line', async () => {
    const before = h.witness.sessions.size;
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type("PS1='$ '; printf '\\033[?1049hfull-%s\\n' screen; cat\r");
    await client.waitFor('full-screen');
    client.type('keys-without-enter');
    const latest = () => (h.witness.sessions.size > before ? h.witness.latestSession() : undefined);
    // The keys reach the cast (a piece a second) before any line ends.
    await waitFor('the keys to be recorded', () => castSoFar(latest()).includes('keys-without-enter'), {
      timeoutMs: 15_000,
    });
    client.type('\r\u0004');
    client.type("printf '\\033[?1049l'; exit\r");
    expect(await client.exited).toBe(0);
    await finished(h, latest);
  });

  test('copies files over sftp and scp, recorded as file transfers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witness-transfer-'));
    try {
      const local = join(dir, 'up.bin');
      writeFileSync(local, Buffer.alloc(300_000, 7));
      const remote = join(dir, 'remote.bin');
      writeFileSync(join(dir, 'batch'), `put ${local} ${remote}\nget ${remote} ${join(dir, 'down.bin')}\n`);
      const sftp = await run('sftp', [
        ...sshOptions(h.port, h.alice.path).map((a) => (a === '-p' ? '-P' : a)),
        '-b',
        join(dir, 'batch'),
        'alice+target@127.0.0.1',
      ]);
      expect(sftp.stdout).toContain('put');
      expect(readFileSync(join(dir, 'down.bin')).length).toBe(300_000);
      const sftpSession = await finished(h, () => h.witness.latestSession());
      const transfers = h.witness.events(sftpSession).filter((e) => e.type === 'file.transfer');
      expect(transfers).toEqual([
        expect.objectContaining({ direction: 'upload', path: remote, size: 300_000, protocol: 'sftp' }),
        expect.objectContaining({ direction: 'download', path: remote, size: 300_000, protocol: 'sftp' }),
      ]);

      // Legacy scp (-O): `scp -t` on the server for an upload, `scp -f` for a download.
      const scpArgs = sshOptions(h.port, h.alice.path).map((a) => (a === '-p' ? '-P' : a));
      await run('scp', ['-O', ...scpArgs, local, `alice+target@127.0.0.1:${join(dir, 'scp-up.bin')}`]);
      const up = await finished(h, () => h.witness.latestSession());
      await run('scp', [
        '-O',
        ...scpArgs,
        `alice+target@127.0.0.1:${join(dir, 'scp-up.bin')}`,
        join(dir, 'scp-down.bin'),
      ]);
      const down = await finished(h, () => h.witness.latestSession());
      expect(readFileSync(join(dir, 'scp-down.bin')).length).toBe(300_000);
      expect(h.witness.events(up).filter((e) => e.type === 'file.transfer')).toEqual([
        expect.objectContaining({ direction: 'upload', path: join(dir, 'scp-up.bin'), size: 300_000, protocol: 'scp' }),
      ]);
      expect(h.witness.events(down).filter((e) => e.type === 'file.transfer')).toEqual([
        expect.objectContaining({
          direction: 'download',
          path: join(dir, 'scp-up.bin'),
          size: 300_000,
          protocol: 'scp',
        }),
      ]);
      expect(eventsOf(h.witness.cast(down), 'm').map((e) => e.data)).toEqual([
        `scp download ${join(dir, 'scp-up.bin')} (300000 bytes)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('terminate shows the admin message on the terminal and ends the ssh client', async () => {
    const before = h.witness.sessions.size;
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type('echo up-$((2+3))\r');
    await client.waitFor('up-5');
    const session = h.witness.latestSession() as FakeSession;
    expect(h.witness.sessions.size).toBe(before + 1);
    h.witness.send(session, { type: 'terminate', id: 'cmd-1', message: 'Policy violation' });
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain('*** Session terminated by administrator: Policy violation ***');
    await finished(h, () => session);
    expect(h.witness.messages(session, 'delivered')).toEqual([{ type: 'delivered', id: 'cmd-1' }]);
    expect(h.witness.cast(session)).toContain('Session terminated by administrator: Policy violation');
  });

  test('a session the server ends (inactivity) is closed with a line for the user', async () => {
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type('echo idle-$((3+4))\r');
    await client.waitFor('idle-7');
    const session = h.witness.latestSession() as FakeSession;
    h.witness.end(session, 'inactivity_timeout');
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain('*** Session ended by Witness: inactivity timeout ***');
    await h.proxy.drained();
  });

  test('refuses wrong keys, unknown and forbidden targets and odd logins with a clear message', async () => {
    const sessions = h.witness.sessions.size;
    const refused = async (key: string | undefined, login: string, message: string) => {
      const client = ssh([...sshOptions(h.port, key, 'INFO'), login, 'true']);
      expect(await client.exited).toBe(255);
      expect(client.stderr()).toContain(message);
    };
    await refused(h.stranger.path, 'alice+target@127.0.0.1', 'witness: no key you offered is authorized for "alice"');
    await refused(h.alice.path, 'alice+nowhere@127.0.0.1', 'witness: unknown target "nowhere"');
    await refused(h.alice.path, 'alice+other@127.0.0.1', 'witness: "alice" may not use target "other"');
    await refused(h.alice.path, 'mallory+target@127.0.0.1', 'witness: no key you offered is authorized for "mallory"');
    await refused(h.alice.path, 'alice@127.0.0.1', '"alice" is not a login this proxy knows');
    // A target whose host key is not the pinned one is not connected to, and no session is launched.
    const pinned = ssh([...sshOptions(h.port, h.alice.path), 'alice+pinned-wrong@127.0.0.1', 'true']);
    expect(await pinned.exited).toBe(1);
    expect(pinned.stderr()).toMatch(/presented the host key SHA256:\S+, not the pinned SHA256:AAAA/);
    expect(h.witness.sessions.size).toBe(sessions);
  });

  test('a session launched elsewhere is joined with its ingest token as the password', async () => {
    const session = h.witness.createSession('bob', 'target');
    const dir = mkdtempSync(join(tmpdir(), 'witness-askpass-'));
    try {
      const askpass = join(dir, 'askpass');
      const answer = (token: string) => {
        writeFileSync(askpass, `#!/bin/sh\necho '${token}'\n`);
        chmodSync(askpass, 0o755);
      };
      const env = { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };

      answer('not-the-token');
      const wrong = ssh([...sshOptions(h.port, undefined, 'INFO'), `${session.id}@127.0.0.1`, 'true'], env);
      expect(await wrong.exited).toBe(255);
      expect(wrong.stderr()).toContain(`witness: the Witness server refused session ${session.id}`);

      answer(h.witness.token(session));
      const client = ssh([...sshOptions(h.port), `${session.id}@127.0.0.1`, 'echo via-token'], env);
      expect(await client.exited).toBe(0);
      expect(client.stdout()).toBe('via-token\n');
      await finished(h, () => session);
      expect(h.witness.cast(session)).toContain('via-token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('when the edge connection drops', () => {
  let h: Harness;
  let blocked = true;
  beforeAll(async () => {
    h = await startHarness({ sshd, witness: { unavailable: (seq) => blocked && seq >= 1 } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('no recorded byte is lost: pieces wait in the spool and go out when the server is back', async () => {
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type('echo one-$((0+1))\r');
    await client.waitFor('one-1');
    const session = h.witness.soleSession();
    h.witness.dropControl(session);
    client.type('seq 1 2000 | tail -n 1; echo two-$((1+1))\r');
    await client.waitFor('two-2');
    // The pieces after the drop are refused until the server is back.
    await waitFor('a piece PUT refused with 503', () => session.puts.some((p) => p.status === 503), {
      timeoutMs: 15_000,
    });
    blocked = false;
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    await finished(h, () => session);
    expect(session.controlConnections).toBeGreaterThanOrEqual(2);
    const cast = h.witness.cast(session);
    expect(
      eventsOf(cast, 'o')
        .map((e) => e.data)
        .join(''),
    ).toBe(client.stdout());
    const lastSeq = Math.max(...session.pieces.keys());
    expect(h.witness.messages(session, 'end')).toEqual([{ type: 'end', lastSeq }]);
  });
});

describe('when the policy turns keystroke recording off', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sshd, witness: { policy: { keystrokesEnabled: false } } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('records what the server printed and nothing the user typed', async () => {
    const client = ssh([...sshOptions(h.port, h.alice.path), '-tt', 'alice+target@127.0.0.1']);
    client.type("PS1='$ '; echo quiet-$((40+2))\r");
    await client.waitFor('quiet-42');
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    const session = await finished(h, () => h.witness.soleSession());
    // Every piece was accepted by a server that refuses `i` events under this policy.
    expect(session.puts.filter((p) => p.status === 422)).toEqual([]);
    expect(session.pieces.size).toBeGreaterThan(1);
    const cast = h.witness.cast(session);
    expect(eventsOf(cast, 'i')).toEqual([]);
    expect(
      eventsOf(cast, 'o')
        .map((e) => e.data)
        .join(''),
    ).toBe(client.stdout());
    const typed = h.witness.events(session).filter((e) => e.type === 'ssh.input' || e.type === 'ssh.command');
    expect(typed).toEqual([]);
  });
});
