/**
 * The login the agent is recording, as the host knows it: the account (from the process's uid, not from the
 * environment a user controls), the SSH client's address, the terminal, the command asked for, the shell.
 * Names are made safe for the server: a name it would refuse is recorded with its odd characters shown as
 * escapes (and cut to length) rather than not recorded at all.
 */
import { userInfo } from 'node:os';
import { AgentLogin } from '../../../protocol/session.ts';
import { showEscapes } from '../../shared/terminal-text.ts';

/** The server's limit on a session's user name (worker/routes/launches.ts). */
const MAX_USER = 200;

export interface Login {
  /** The Witness user: the account's name, made printable. */
  user: string;
  /** The account's name as the system spells it, when it differed from `user`. */
  rawUser: string | null;
  /** `ssh` for a login that came over SSH, `console` for a terminal of the host's own. */
  protocol: 'ssh' | 'console';
  remote: { address: string; port: number } | null;
  /** The terminal the login has (`/dev/pts/3`), or null (`ssh host command` without `-t`). */
  tty: string | null;
  /** What the client asked to run (`ssh host 'uptime'`), or null for an interactive shell. */
  command: string | null;
  shell: string;
  home: string;
}

/** Makes a name printable and short enough: hidden characters become escapes, a long one ends in `…`. */
export function printableName(name: string, max = MAX_USER): string {
  const shown = showEscapes(name).trim() || '?';
  return shown.length <= max ? shown : `${shown.slice(0, max - 1)}…`;
}

/** The login this process runs for; `env` is what sshd (or login/su) set. */
export function currentLogin(env: NodeJS.ProcessEnv = process.env): Login {
  const account = userInfo();
  const user = printableName(account.username);
  // SSH_CONNECTION: "client-address client-port server-address server-port".
  const [address, port] = (env.SSH_CONNECTION ?? '').split(' ');
  const remoteAddress = AgentLogin.shape.remoteAddress.safeParse(address ?? null);
  const remote =
    address && remoteAddress.success && remoteAddress.data !== null
      ? { address: remoteAddress.data, port: Number(port) || 0 }
      : null;
  const tty = AgentLogin.shape.tty.safeParse(env.SSH_TTY ?? null);
  return {
    user,
    rawUser: user === account.username ? null : account.username,
    protocol: env.SSH_CONNECTION ? 'ssh' : 'console',
    remote,
    tty: tty.success ? tty.data : null,
    command: env.SSH_ORIGINAL_COMMAND ?? null,
    shell: account.shell || env.SHELL || '/bin/sh',
    home: account.homedir,
  };
}
