/**
 * wrangler dev for `npm start`, run by scripts/start.ts as a child with an IPC channel: the same dev server as
 * `wrangler dev --ip 127.0.0.1 --port P --env-file F [--persist-to DIR]` (the CLI builds its server from this
 * very DevEnv), but through wrangler's programmatic API, so that start.ts learns where the Worker's own workerd
 * listens. That address is internal to wrangler and changes at every reload (miniflare restarts workerd on a new
 * port); this script tells start.ts when a reload begins and where the Worker is once it is done
 * (docs/decisions.md, "A local edge in front of wrangler dev").
 *
 *   node scripts/wrangler-dev.ts --port P --env-file F [--persist-to DIR]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { unstable_DevEnv } from 'wrangler';

/** What this script tells start.ts. */
export type WranglerDevMessage =
  /** A new build is about to replace the Worker's workerd: its address is going away. */
  | { type: 'reloading' }
  /** The Worker answers at `worker`: its workerd's entry socket, which wrangler's ProxyWorker forwards to. */
  | { type: 'reloaded'; worker: { host: string; port: number } }
  /** The reload failed (printed here, as wrangler only logs it when debugging); the old Worker may still run. */
  | { type: 'reload-failed'; reason: string };

type DevEvent = Parameters<unstable_DevEnv['dispatch']>[0];

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'env-file': { type: 'string' },
    'persist-to': { type: 'string' },
  },
});
if (!process.send || !values.port || !values['env-file']) {
  console.error('[witness] scripts/wrangler-dev.ts is run by scripts/start.ts (with --port and --env-file)');
  process.exit(2);
}

function tell(message: WranglerDevMessage): void {
  if (process.connected) process.send?.(message);
}

/** A DevEnv that also reports, on the way, what start.ts needs: every event between its controllers passes here. */
class ReportingDevEnv extends unstable_DevEnv {
  override dispatch(event: DevEvent): void {
    if (event.type === 'reloadStart') tell({ type: 'reloading' });
    else if (event.type === 'reloadComplete') {
      const { hostname, port } = event.proxyData.userWorkerUrl;
      tell({ type: 'reloaded', worker: { host: hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(port) } });
    } else if (event.type === 'error' && event.source === 'LocalRuntimeController') {
      console.error(`[witness] ${event.reason}: ${event.cause.message}`);
      tell({ type: 'reload-failed', reason: event.reason });
    }
    super.dispatch(event);
  }
}

const devEnv = new ReportingDevEnv();
const worker = await devEnv.startWorker({
  config: path.join(root, 'wrangler.jsonc'),
  envFiles: [path.resolve(values['env-file'])],
  dev: {
    server: { hostname: '127.0.0.1', port: Number(values.port) },
    persist: values['persist-to'] ? path.resolve(values['persist-to']) : undefined,
  },
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await worker.dispose().catch((error: unknown) => console.error('[witness] stopping wrangler dev:', error));
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());
// start.ts is gone (killed, say): nobody can reach this server any more.
process.on('disconnect', () => void stop());
