/** witness-agent's pure parts: the sshd configuration block, login names, the configuration file. */
import { describe, expect, test } from 'vitest';
import { parseAgentConfig } from '../../agents/agent/src/config.ts';
import { currentLogin, printableName } from '../../agents/agent/src/login.ts';
import {
  agentBlock,
  BLOCK_BEGIN,
  hasAgentBlock,
  otherForceCommands,
  shellQuote,
  withAgentBlock,
  withoutAgentBlock,
} from '../../agents/agent/src/sshd-config.ts';

const SSHD = 'Include /etc/ssh/sshd_config.d/*.conf\nPort 22\nMatch User backup\n  X11Forwarding no\n';

describe('the sshd configuration block', () => {
  const block = agentBlock(['/usr/bin/node', '/opt/witness/cli.ts', 'session', '--config', '/etc/w/agent.json']);

  test('goes first, is found again, and comes out leaving the file byte for byte', () => {
    const installed = withAgentBlock(SSHD, block);
    expect(installed.startsWith(`${BLOCK_BEGIN}\nForceCommand '/usr/bin/node' '/opt/witness/cli.ts' 'session'`)).toBe(
      true,
    );
    expect(installed.endsWith(SSHD)).toBe(true);
    expect(hasAgentBlock(installed)).toBe(true);
    expect(withAgentBlock(installed, block)).toBe(installed);
    expect(withoutAgentBlock(installed)).toBe(SSHD);
    for (const text of ['', 'Port 22', 'Port 22\r\n', '# only a comment\n\n\n']) {
      expect(withoutAgentBlock(withAgentBlock(text, block))).toBe(text);
    }
  });

  test('a changed block replaces the old one in place', () => {
    const changed = agentBlock(['/usr/local/bin/node', '/opt/witness/cli.ts', 'session']);
    const twice = withAgentBlock(withAgentBlock(SSHD, block), changed);
    expect(twice).toBe(`${changed}${SSHD}`);
  });

  test("other ForceCommands are found with their line numbers, the agent's own is not", () => {
    const text = withAgentBlock(`${SSHD}Match User nobody\n  ForceCommand /bin/true\nforcecommand=/x\n`, block);
    expect(otherForceCommands(text)).toEqual([9, 10]);
    expect(otherForceCommands(withAgentBlock(SSHD, block))).toEqual([]);
  });

  test('a BEGIN without an END is an error, not a guess', () => {
    expect(() => withoutAgentBlock(`${BLOCK_BEGIN}\nForceCommand x\n`)).toThrow(/no "# END witness-agent" line/);
  });

  test('words that cannot be quoted for the shell are refused', () => {
    expect(shellQuote('/opt/my node/bin/node')).toBe("'/opt/my node/bin/node'");
    expect(() => shellQuote("/opt/it's")).toThrow(/cannot use/);
    expect(() => shellQuote('/opt/a\nb')).toThrow(/cannot use/);
  });
});

describe('the login', () => {
  test('a name with control characters is shown with escapes; a long one is cut', () => {
    expect(printableName('ro\u001b[2Jot')).toBe('ro\\x1b[2Jot');
    expect(printableName('al\u202eice')).toBe('al\\u{202e}ice');
    const long = printableName('x'.repeat(500));
    expect(long).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
    expect(printableName('')).toBe('?');
  });

  test('the SSH client and terminal come from sshd; odd values are left out, not passed on', () => {
    const ssh = currentLogin({
      SSH_CONNECTION: '192.0.2.7 52144 10.0.0.5 22',
      SSH_TTY: '/dev/pts/4',
      SSH_ORIGINAL_COMMAND: 'uptime',
    });
    expect(ssh).toMatchObject({
      protocol: 'ssh',
      remote: { address: '192.0.2.7', port: 52144 },
      tty: '/dev/pts/4',
      command: 'uptime',
    });
    const odd = currentLogin({ SSH_CONNECTION: 'not-an-address 1 2 3', SSH_TTY: '/dev/pts/1\u001b]0;x\u0007' });
    expect(odd).toMatchObject({ protocol: 'ssh', remote: null, tty: null, command: null });
    expect(currentLogin({})).toMatchObject({ protocol: 'console', remote: null });
  });
});

describe('the configuration file', () => {
  test('every problem is named', () => {
    expect(() => parseAgentConfig('{', 'a.json')).toThrow(/a.json is not JSON/);
    expect(() => parseAgentConfig(JSON.stringify({ server: 'ftp://x', spoolDir: '', host: 'h\n' }), 'a.json')).toThrow(
      /invalid configuration a.json: server: .*; host: must not contain a control character.*; spoolDir: /,
    );
    // An older install's file, with the key readable by every account: named, not used.
    expect(() =>
      parseAgentConfig(
        JSON.stringify({ server: 'https://w.example.com', apiKey: 'k'.repeat(12), host: 'h' }),
        'a.json',
      ),
    ).toThrow(/a.json holds the agent key, readable by every account .*run witness-agent install again/);
    const config = parseAgentConfig(JSON.stringify({ server: 'https://w.example.com/', host: 'db-01' }), 'a.json');
    expect(config).toEqual({
      server: 'https://w.example.com',
      host: 'db-01',
      spoolDir: '/var/spool/witness-agent',
      keyFile: '/etc/witness-agent/agent.key',
      brokerSocket: '/run/witness-agent/broker.sock',
      failClosed: false,
    });
  });
});
