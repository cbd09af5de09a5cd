/**
 * This machine as a launcher or the SSH proxy names it in its hello: its host name and its network addresses
 * (loopback and link-local left out), recorded with the session so an auditor knows where it was recorded.
 */
import { hostname, networkInterfaces } from 'node:os';
import { LauncherHost } from '../../protocol/control.ts';
import { HIDDEN_CHARACTERS } from '../../protocol/identifier.ts';

export function thisHost(): LauncherHost | undefined {
  // A name the server would refuse (an invisible character) is shown with `?` rather than not at all.
  const name = hostname().replace(HIDDEN_CHARACTERS, '?').trim().slice(0, 255) || 'unknown';
  const addresses: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.internal || entry.address.toLowerCase().startsWith('fe80:')) continue;
      if (!addresses.includes(entry.address)) addresses.push(entry.address);
    }
  }
  const host = LauncherHost.safeParse({ name, addresses: addresses.slice(0, 16) });
  return host.success ? host.data : undefined;
}
