/**
 * witness-agent on a real host: Debian's sshd (its own configuration, a loopback port) with the agent installed
 * into that configuration only, the real `ssh` client logging in straight to sshd, recording into the fake
 * Witness server (test/support/fake-witness.ts, which checks every piece as the server does).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseCast } from '../../protocol/asciicast.ts';
import { FakeWitness, type FakeSession } from '../support/fake-witness.ts';
import { waitFor } from '../support/wait-for.ts';
import { type Account, type AgentHost, runAgent, startAgentHost, testAccount } from './agent/agent-host.ts';

const API_KEY = 'agent-key-for-test-host';

function castEvents(cast: string, code: string): string[] {
  return parseCast(cast)
    .events.filter(([, c]) => c === code)
    .map(([, , data]) => data);
}

/** Waits for the session at `index` (in launch order) to be finished: `end` received, every piece stored. */
async function finished(witness: FakeWitness, host: AgentHost, index: number): Promise<FakeSession> {
  return waitFor(
    `session ${index} to be finished`,
    () => {
      const session = [...witness.sessions.values()][index];
      return session && witness.finished(session) && session;
    },
    { timeoutMs: 20_000, detail: () => `agent log:\n${host.log()}` },
  );
}

describe('witness-agent with a real sshd', () => {
  let witness: FakeWitness;
  let host: AgentHost;

  beforeAll(async () => {
    witness = new FakeWitness({ apiKey: API_KEY, policy: { keystrokesEnabled: true } });
    await witness.start();
    host = await startAgentHost({ server: witness.url, apiKey: API_KEY, host: 'test-host' });
  });

  afterAll(async () => {
    await host?.stop();
    await witness?.close();
  });

  test('install puts a ForceCommand block at the top of that sshd configuration only', () => {
    const text = readFileSync(host.sshdConfig, 'utf8');
    expect(text.startsWith('# BEGIN witness-agent')).toBe(true);
    expect(text).toMatch(
      /^ForceCommand '.+node' '.+agents\/agent\/src\/cli\.ts' 'session' '--config' '.+agent\.json' '--sshd-config' '.+sshd_config'$/m,
    );
    expect(text.endsWith(host.sshdConfigBefore)).toBe(true);
    expect(host.installed).toContain(`added the witness-agent ForceCommand to ${host.sshdConfig}`);
  });

  test('an interactive SSH login is recorded: output, what was typed, commands, processes', async () => {
    const index = witness.sessions.size;
    const client = await host.shell();
    // sleep runs past a poll of /proc (every 500 ms), so its start is seen.
    client.type('sleep 1.5; echo agent-$((6*7))\n');
    await client.waitFor('agent-42');
    client.type('exit\n');
    expect(await client.exited).toBe(0);
    const session = await finished(witness, host, index);
    expect(session).toMatchObject({
      user: host.sshd.username,
      target: 'test-host',
      protocol: 'ssh',
      format: 'asciicast',
    });
    const cast = witness.cast(session);
    // The recording holds exactly what the client was shown.
    expect(castEvents(cast, 'o').join('')).toBe(client.stdout());
    // ssh -tt from a pipe sends the newline as typed; the recorder's terminal is raw, so it arrives as sent.
    expect(castEvents(cast, 'i').join('')).toContain('sleep 1.5; echo agent-$((6*7))\n');
    expect(parseCast(cast).header).toMatchObject({ width: 80, height: 24 });
    const commands = witness.events(session).filter((event) => event.type === 'ssh.command');
    expect(commands.map((event) => event.text)).toEqual(['sleep 1.5; echo agent-$((6*7))', 'exit']);
    const sleep = witness.events(session).find((event) => event.type === 'process.start' && event.name === 'sleep');
    expect(sleep).toMatchObject({ path: '/usr/bin/sleep', commandLine: 'sleep 1.5', user: host.sshd.username });
    expect(witness.events(session).some((event) => event.type === 'process.stop' && event.name === 'sleep')).toBe(true);
    const [hello] = witness.messages(session, 'hello');
    expect(hello?.launcher.name).toBe('witness-agent');
    expect(hello?.client?.address).toBe('127.0.0.1');
  });

  test('an exec login (ssh host command) keeps its output and exit status, and its command is recorded', async () => {
    const index = witness.sessions.size;
    const client = host.login(['echo out-$((2+3)); echo err >&2; exit 3']);
    expect(await client.exited).toBe(3);
    expect(client.stdout()).toBe('out-5\n');
    expect(client.stderr()).toContain('err');
    const session = await finished(witness, host, index);
    expect(castEvents(witness.cast(session), 'o').join('')).toContain('out-5');
    expect(witness.events(session).find((event) => event.type === 'ssh.command')?.text).toBe(
      'echo out-$((2+3)); echo err >&2; exit 3',
    );
  });

  test('a password answer is recorded as <redacted>', async () => {
    const index = witness.sessions.size;
    const client = await host.shell();
    // Quoted apart, so that the echo of this line is not taken for the prompt.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${#var}, not a template
    client.type('read -s -p "Pass""word: " secret; echo; echo got-${#secret}\n');
    await client.waitFor('Password: ');
    client.type('hunter2-agent\n');
    await client.waitFor('got-13');
    client.type('exit\n');
    await client.exited;
    const session = await finished(witness, host, index);
    const cast = witness.cast(session);
    expect(cast).not.toContain('hunter2-agent');
    expect(castEvents(cast, 'i')).toContain('<redacted>\n');
  });

  test('terminate says why on the terminal and ends every process of the login', async () => {
    const index = witness.sessions.size;
    const client = await host.shell();
    client.type('sleep 300 & echo started-$!\n');
    await client.waitFor(/started-\d+/);
    const background = Number(/started-(\d+)/.exec(client.stdout())?.[1]);
    const session = await waitFor('the session', () => [...witness.sessions.values()][index]);
    await waitFor('the control socket', () => session.control !== null);
    witness.send(session, { type: 'terminate', id: 'cmd-1', message: 'Policy violation' });
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain('*** Session terminated by administrator: Policy violation ***');
    await waitFor('the background job to be gone', () => !existsSync(`/proc/${background}`));
    const ended = await finished(witness, host, index);
    expect(witness.messages(ended, 'delivered').map((m) => m.id)).toContain('cmd-1');
    expect(castEvents(witness.cast(ended), 'o').join('')).toContain('Session terminated by administrator');
  });

  test("an administrator's message reaches the terminal; the server's inactivity end closes the login", async () => {
    const index = witness.sessions.size;
    const client = await host.shell();
    const session = await waitFor('the session', () => [...witness.sessions.values()][index]);
    await waitFor('the control socket', () => session.control !== null);
    witness.send(session, { type: 'message', id: 'msg-1', text: 'Maintenance in 5 minutes' });
    await client.waitFor('*** Message from administrator: Maintenance in 5 minutes ***');
    await waitFor('the delivery', () => witness.messages(session, 'delivered').some((m) => m.id === 'msg-1'));
    witness.end(session, 'inactivity_timeout');
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain('*** Session ended by Witness: inactivity timeout ***');
  });

  test('tamper signal: a configuration changed and the recorder stopped are in the activity; the login ends', async () => {
    const index = witness.sessions.size;
    const client = await host.shell();
    client.type('echo recorder-$PPID\n');
    await client.waitFor(/recorder-\d+/);
    const recorder = Number(/recorder-(\d+)/.exec(client.stdout())?.[1]);
    const session = await waitFor('the session', () => [...witness.sessions.values()][index]);
    const configText = readFileSync(host.configPath, 'utf8');
    writeFileSync(host.configPath, `${configText}\n`);
    await waitFor('the configuration change to be reported', () =>
      witness.events(session).some((event) => event.type === 'agent.tamper'),
    );
    process.kill(recorder, 'SIGTERM');
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain('*** witness-agent was stopped (SIGTERM): this login is closed ***');
    const ended = await finished(witness, host, index);
    const tampering = witness.events(ended).filter((event) => event.type === 'agent.tamper');
    expect(tampering.map((event) => event.text)).toEqual([
      `the agent's configuration ${host.configPath} changed while this session ran`,
      'witness-agent was sent SIGTERM',
    ]);
    expect(castEvents(witness.cast(ended), 'm')).toContain('witness-agent: witness-agent was sent SIGTERM');
    writeFileSync(host.configPath, configText);
  });

  test('install again changes nothing; status says it is installed', async () => {
    const before = readFileSync(host.sshdConfig, 'utf8');
    const again = await runAgent([
      'install',
      '--server',
      witness.url,
      '--api-key',
      API_KEY,
      '--host',
      'test-host',
      '--config',
      host.configPath,
      '--spool-dir',
      host.spoolDir,
      '--key-file',
      host.keyFile,
      '--broker-socket',
      host.brokerSocket,
      '--systemd-unit',
      host.systemdUnit,
      '--sshd-config',
      host.sshdConfig,
    ]);
    expect(again).toMatchObject({ code: 0, stdout: 'already installed: nothing to change\n' });
    expect(readFileSync(host.sshdConfig, 'utf8')).toBe(before);
    const status = await runAgent(['status', '--config', host.configPath, '--sshd-config', host.sshdConfig]);
    expect(status.stdout).toContain('every SSH login is recorded');
  });
});

/** Sends one line to the broker's socket as `account` (a process of that uid) and returns its answer. */
function askBrokerAs(account: Account, socket: string, request: unknown): Promise<unknown> {
  const script = `const s = require('node:net').connect(process.argv[1]); let t = '';
s.on('connect', () => s.write(process.argv[2] + '\\n')); s.on('data', (d) => { t += d; });
s.on('close', () => process.stdout.write(t));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', script, socket, JSON.stringify(request)],
      { uid: account.uid, gid: account.gid, encoding: 'utf8' },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))),
    );
  });
}

describe('the root broker holds the agent key', () => {
  let witness: FakeWitness;
  let host: AgentHost;
  let account: Account;

  beforeAll(async () => {
    account = testAccount();
    witness = new FakeWitness({ apiKey: API_KEY, policy: { keystrokesEnabled: true } });
    await witness.start();
    host = await startAgentHost({ server: witness.url, apiKey: API_KEY, host: 'test-host' });
  });

  afterAll(async () => {
    await host?.stop();
    await witness?.close();
  });

  test("a non-root login cannot read the key, and is recorded as that user's own session", async () => {
    expect(statSync(host.keyFile)).toMatchObject({ uid: 0 });
    expect(statSync(host.keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(host.configPath, 'utf8')).not.toContain(API_KEY);
    const index = witness.sessions.size;
    const client = host.login([`cat ${host.keyFile}; echo cat-exit-$?; id -un`], {}, account.name);
    expect(await client.exited).toBe(0);
    expect(client.stdout()).toBe(`cat-exit-1\n${account.name}\n`);
    expect(client.stderr()).toContain('Permission denied');
    const session = await finished(witness, host, index);
    expect(session).toMatchObject({ user: account.name, target: 'test-host', protocol: 'ssh' });
    expect(castEvents(witness.cast(session), 'o').join('')).toContain(`cat-exit-1\n${account.name}`);
    expect(host.brokerLog()).toMatch(new RegExp(`session \\S+ for ${account.name} \\(pid \\d+`));
  });

  test("a user asking the broker for another user's session is refused, and nothing is launched", async () => {
    const before = witness.sessions.size;
    const answer = await askBrokerAs(account, host.brokerSocket, {
      type: 'login',
      user: 'root',
      protocol: 'ssh',
      login: { tty: null, remoteAddress: null },
    });
    expect(answer).toMatchObject({ type: 'refused', code: 'wrong_user' });
    expect((answer as { message: string }).message).toContain(`this process runs as ${account.name}`);
    expect(await askBrokerAs(account, host.brokerSocket, { type: 'login', user: 42 })).toMatchObject({
      type: 'refused',
      code: 'bad_request',
    });
    expect(witness.sessions.size).toBe(before);
  });

  test('with the broker down a login is spooled, and the broker uploads it, as its owner, when it is back', async () => {
    await host.stopBroker();
    try {
      const client = host.login(['echo broker-down-$((3*3))'], {}, account.name);
      expect(await client.exited).toBe(0);
      expect(client.stdout()).toBe('broker-down-9\n');
      const pending = readdirSync(host.spoolDir).filter((name) => name.startsWith('pending-'));
      expect(pending).toHaveLength(1);
      const dir = join(host.spoolDir, pending[0] as string);
      expect(statSync(dir).uid).toBe(account.uid);
      expect(host.log(account.uid)).toContain('the witness-agent broker is not running');
      // A recorder could write any name into its login.json: the folder's owner decides whose login it is.
      const meta = JSON.parse(readFileSync(join(dir, 'login.json'), 'utf8'));
      writeFileSync(join(dir, 'login.json'), JSON.stringify({ ...meta, user: 'root' }));
      const index = witness.sessions.size;
      await host.startBroker();
      const session = await finished(witness, host, index);
      expect(session.user).toBe(account.name);
      expect(castEvents(witness.cast(session), 'o').join('')).toBe('broker-down-9\n');
      await waitFor('the pending folder to be removed', () => !existsSync(dir));
    } finally {
      await host.startBroker();
    }
  });
});

describe('witness-agent while Witness cannot be reached', () => {
  test('the login is recorded to the spool and uploaded, complete, once the server is back', async () => {
    const first = new FakeWitness({ apiKey: API_KEY, policy: { keystrokesEnabled: true } });
    await first.start();
    const port = Number(new URL(first.url).port);
    const host = await startAgentHost({ server: first.url, apiKey: API_KEY, host: 'test-host' });
    await first.close();
    const back = new FakeWitness({ apiKey: API_KEY, policy: { keystrokesEnabled: true } });
    try {
      const client = await host.shell();
      client.type('echo offline-$((40+2))\n');
      await client.waitFor('offline-42');
      client.type('exit\n');
      expect(await client.exited).toBe(0);
      const pending = readdirSync(host.spoolDir).filter((name) => name.startsWith('pending-'));
      expect(pending).toHaveLength(1);
      const dir = join(host.spoolDir, pending[0] as string);
      expect(readFileSync(join(dir, 'login.json'), 'utf8')).toContain('"finished":true');
      await back.start(port);
      // The flush the login started in the background retries until the server answers.
      const session = await waitFor(
        'the offline login to be uploaded',
        () => {
          const s = back.latestSession();
          return s && back.finished(s) && s;
        },
        { timeoutMs: 60_000, detail: () => host.log() },
      );
      expect(castEvents(back.cast(session), 'o').join('')).toBe(client.stdout());
      expect(back.events(session).some((e) => e.type === 'ssh.command' && e.text === 'echo offline-$((40+2))')).toBe(
        true,
      );
      await waitFor('the pending folder to be removed', () => !existsSync(dir));
    } finally {
      await host.stop();
      await back.close();
    }
  });

  test('a recorder killed outright offline (SIGKILL) leaves what it spooled, and flush uploads it', async () => {
    const first = new FakeWitness({ apiKey: API_KEY });
    await first.start();
    const port = Number(new URL(first.url).port);
    const host = await startAgentHost({ server: first.url, apiKey: API_KEY, host: 'test-host' });
    await first.close();
    const back = new FakeWitness({ apiKey: API_KEY });
    try {
      const client = await host.shell();
      client.type('echo recorder-$PPID; echo kept-$((5*5))\n');
      await client.waitFor('kept-25');
      const recorder = Number(/recorder-(\d+)/.exec(client.stdout())?.[1]);
      const [pending] = readdirSync(host.spoolDir).filter((name) => name.startsWith('pending-'));
      const dir = join(host.spoolDir, pending as string);
      // Pieces are cut every second: wait until the one with the output is on disk.
      await waitFor('the output to be spooled', () =>
        readdirSync(dir).some(
          (file) => file.endsWith('.cast') && readFileSync(join(dir, file), 'utf8').includes('kept-25'),
        ),
      );
      process.kill(recorder, 'SIGKILL');
      await client.exited;
      expect(readFileSync(join(dir, 'login.json'), 'utf8')).toContain('"finished":false');
      await back.start(port);
      const flushed = await runAgent(['flush', '--config', host.configPath]);
      expect(flushed.code, flushed.stderr).toBe(0);
      expect(flushed.stderr).toContain('ended before finishing; uploading what it kept');
      const session = back.soleSession();
      expect(back.finished(session)).toBe(true);
      expect(castEvents(back.cast(session), 'o').join('')).toContain('kept-25');
      expect(back.messages(session, 'end')[0]?.error).toContain('witness-agent stopped before the login ended');
      expect(existsSync(dir)).toBe(false);
    } finally {
      await host.stop();
      await back.close();
    }
  });

  test('with --fail-closed the login is refused with a message saying why', async () => {
    const gone = new FakeWitness({ apiKey: API_KEY });
    await gone.start();
    const host = await startAgentHost({ server: gone.url, apiKey: API_KEY, host: 'test-host', failClosed: true });
    await gone.close();
    try {
      const client = host.login(['-tt']);
      expect(await client.exited).toBe(1);
      expect(client.stdout() + client.stderr()).toContain('witness: this login cannot be recorded, so it is refused');
      expect(readdirSync(host.spoolDir).filter((name) => name.startsWith('pending-'))).toEqual([]);
      // The broker down is the same: nothing can record the login, so it is refused.
      await host.stopBroker();
      const again = host.login(['-tt']);
      expect(await again.exited).toBe(1);
      expect(again.stdout() + again.stderr()).toContain('the witness-agent broker is not running');
    } finally {
      await host.stop();
    }
  });
});

describe('witness-agent install and uninstall', () => {
  test('uninstall leaves the sshd configuration exactly as it was', async () => {
    const witness = new FakeWitness({ apiKey: API_KEY });
    await witness.start();
    const host = await startAgentHost({ server: witness.url, apiKey: API_KEY, host: 'test-host' });
    try {
      const removed = await runAgent([
        'uninstall',
        '--config',
        host.configPath,
        '--sshd-config',
        host.sshdConfig,
        '--systemd-unit',
        host.systemdUnit,
      ]);
      expect(removed.code).toBe(0);
      expect(readFileSync(host.sshdConfig, 'utf8')).toBe(host.sshdConfigBefore);
      expect(existsSync(host.configPath)).toBe(false);
      expect(existsSync(host.keyFile)).toBe(false);
      expect(existsSync(host.systemdUnit)).toBe(false);
      const again = await runAgent(['uninstall', '--config', host.configPath, '--sshd-config', host.sshdConfig]);
      expect(again.stdout).toBe('not installed: nothing to change\n');
    } finally {
      await host.stop();
      await witness.close();
    }
  });

  test('install refuses an sshd configuration with a ForceCommand of its own, and one sshd rejects', async () => {
    const witness = new FakeWitness({ apiKey: API_KEY });
    await witness.start();
    const host = await startAgentHost({ server: witness.url, apiKey: API_KEY, host: 'test-host' });
    try {
      await runAgent(['uninstall', '--config', host.configPath, '--sshd-config', host.sshdConfig]);
      const install = (config: string) =>
        runAgent([
          'install',
          '--server',
          witness.url,
          '--api-key',
          API_KEY,
          '--host',
          'test-host',
          '--config',
          host.configPath,
          '--spool-dir',
          host.spoolDir,
          '--key-file',
          host.keyFile,
          '--systemd-unit',
          host.systemdUnit,
          '--sshd-config',
          config,
        ]);
      const withOwn = `${host.sshdConfigBefore}Match User nobody\n  ForceCommand /bin/true\n`;
      writeFileSync(host.sshdConfig, withOwn);
      const refused = await install(host.sshdConfig);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('has its own ForceCommand (line');
      expect(readFileSync(host.sshdConfig, 'utf8')).toBe(withOwn);
      const broken = `${host.sshdConfigBefore}NoSuchKeyword yes\n`;
      writeFileSync(host.sshdConfig, broken);
      const rejected = await install(host.sshdConfig);
      expect(rejected.code).toBe(1);
      expect(rejected.stderr).toContain('sshd refuses the changed configuration');
      expect(readFileSync(host.sshdConfig, 'utf8')).toBe(broken);
    } finally {
      await host.stop();
      await witness.close();
    }
  });

  test('install refuses a key bound to another host, changing nothing', async () => {
    const witness = new FakeWitness({ apiKey: API_KEY, agentPolicy: { host: 'other-host', record: true } });
    await witness.start();
    await expect(startAgentHost({ server: witness.url, apiKey: API_KEY, host: 'test-host' })).rejects.toThrow(
      /this agent key is bound to the host "other-host", not "test-host" \(--host\); nothing changed/,
    );
    await witness.close();
  });

  test('a host the server does not record (its rule says so) logs in unrecorded', async () => {
    const witness = new FakeWitness({ apiKey: API_KEY, agentPolicy: { host: 'test-host', record: false } });
    await witness.start();
    const host = await startAgentHost({ server: witness.url, apiKey: API_KEY, host: 'test-host' });
    try {
      const client = host.login(['echo plain-$((1+1))']);
      expect(await client.exited).toBe(0);
      expect(client.stdout()).toBe('plain-2\n');
      expect(witness.sessions.size).toBe(0);
      expect(host.log()).toContain('is not recorded: the rule for test-host says so');
    } finally {
      await host.stop();
      await witness.close();
    }
  });

  test('bad options are named', async () => {
    const result = await runAgent(['install', '--server', 'ftp://x', '--api-key', 'k']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--server');
    expect(result.stderr).toContain('--api-key');
    expect((await runAgent(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect((await runAgent(['--help'])).stdout).toContain('Exit codes:');
  });
});
