/**
 * Who is on the other end of a unix socket, as the kernel recorded it when they connected (SO_PEERCRED):
 * the broker decides a login's user from this, never from what the client says. Node has no getsockopt, and
 * no maintained npm package offers SO_PEERCRED (docs/decisions.md), so the connection's descriptor is handed
 * to perl (perl-base, which every Debian system has: it is Essential) as its standard input, which asks.
 */
import { execFile, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ASK = `use Socket; my $c = getsockopt(STDIN, SOL_SOCKET, SO_PEERCRED) or die "getsockopt: $!\\n";
my ($pid, $uid, $gid) = unpack("lLL", $c); print "$pid $uid $gid\\n";`;

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export function peerCredentials(socket: Socket): Promise<PeerCredentials> {
  return new Promise((resolve, reject) => {
    const child = spawn('perl', ['-e', ASK], { stdio: [socket, 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const match = /^(\d+) (\d+) (\d+)\n$/.exec(out);
      if (code !== 0 || !match) {
        reject(new Error(`cannot read the peer's credentials: ${err.trim() || `perl exited ${code}`}`));
        return;
      }
      resolve({ pid: Number(match[1]), uid: Number(match[2]), gid: Number(match[3]) });
    });
  });
}

/** The account name of `uid` (NSS: /etc/passwd, LDAP, …), or null when it has none. */
export async function accountName(uid: number): Promise<string | null> {
  try {
    const { stdout } = await run('getent', ['passwd', String(uid)], { encoding: 'utf8' });
    const name = stdout.split(':')[0];
    return name ? name : null;
  } catch {
    return null;
  }
}
