/**
 * One process capture alone, as the launcher runs it (agents/launcher/src/capture/process-capture.ts), for
 * bench/process-capture.ts to measure: `netlink` (the helper), `poll` (/proc every 50 ms) or `none` (Node idle,
 * the baseline). Prints how many starts of `true` it reported, and how many unread, when it gets SIGTERM.
 *
 *   node bench/lib/process-capture-child.ts netlink|poll|none SESSION
 */
import { SessionProcesses } from '../../agents/launcher/src/capture/process-capture.ts';
import { GONE } from '../../agents/launcher/src/capture/process-events.ts';
import { createLogger } from '../../agents/launcher/src/log.ts';

const [method = 'none', session = 'bench'] = process.argv.slice(2);
let events = 0;
let unread = 0;
let processes: SessionProcesses | null = null;
if (method !== 'none') {
  processes = new SessionProcesses({
    // The load's programs (bench/process-capture.ts starts /bin/true), each reported once as started: by name,
    // or as one that ended before it could be read (the load starts nothing else).
    emit: (event) => {
      if (event.type !== 'process.start') return;
      if (event.name === 'true') events++;
      else if (event.commandLine === GONE) unread++;
    },
    uid: process.getuid?.() ?? 0,
    launcherPid: process.pid,
    scope: { display: undefined, session },
    log: createLogger({ verbose: false }),
    onChange: () => {},
    helper: method === 'netlink' ? undefined : null,
  });
  await processes.start();
  const status = processes.status();
  if (status.method !== method) throw new Error(`asked for ${method}, got ${JSON.stringify(status)}`);
}
console.log('ready');
const keepAlive = setInterval(() => {}, 60_000);
process.once('SIGTERM', async () => {
  await processes?.stop();
  console.log(`events ${events} ${unread}`);
  if (processes) console.error(`status ${JSON.stringify(processes.status())}`);
  clearInterval(keepAlive);
});
