/**
 * Witness as `npm start` runs it (scripts/start.ts → wrangler dev), on a state directory the caller owns, so
 * the search benchmark can stop the server, write to its local D1 file, and start it again on the same state.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { freePort, killServers, serverRoot, spawnGroup, stopGroup, waitHealthy } from '../lib/servers.ts';
import { sleep } from '../lib/stats.ts';

export { killServers, serverRoot };

export interface WitnessServer {
  baseUrl: string;
  /** The process group leader (node scripts/start.ts); wrangler and workerd are in its group. */
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts Witness on a free port over `stateDir` and waits for `/api/health`. */
export async function startWitness(
  stateDir: string,
  secrets: { apiKey: string; adminPassword: string },
): Promise<WitnessServer> {
  const port = await freePort();
  const { child, output } = spawnGroup(
    serverRoot,
    ['scripts/start.ts', '--port', String(port), '--persist-to', stateDir, '--skip-build'],
    {
      ...process.env,
      WITNESS_API_KEY: secrets.apiKey,
      WITNESS_ADMIN_PASSWORD: secrets.adminPassword,
      WRANGLER_SEND_METRICS: 'false',
    },
  );
  const stop = async () => {
    await stopGroup(child);
    await sleep(500); // the D1 file is written to next: let workerd's handles go
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(baseUrl, child, output, 180_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, pid: child.pid as number, output, stop };
}

/** The local D1 database of the `DB` binding (the only D1 binding) under a wrangler state directory. */
export function localD1File(stateDir: string): string {
  const dir = path.join(stateDir, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  if (files.length !== 1) throw new Error(`expected one D1 database under ${dir}, found ${files.join(', ') || 'none'}`);
  return path.join(dir, files[0] as string);
}
