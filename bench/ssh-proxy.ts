/**
 * The SSH proxy beside a direct connection to the same sshd, in the same run: keystroke echo round trip
 * (one byte into `cat` on a pty, until its echo comes back) and bulk output (`cat` of a large text file,
 * recorded in full as cast pieces). The proxy runs as its CLI in its own process and records into the fake
 * Witness server of the unit tests (the edge is not what is measured here).
 *
 *   node bench/ssh-proxy.ts [--keys 200] [--megabytes 200] [--rounds 3] [--no-record]
 * Goals (issue #6): echo latency ≤ 1.5× direct; throughput ≥ 50 % of direct.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FakeWitness } from '../test/unit/ssh/fake-witness.ts';
import { keygen, sshOptions, startSshd } from '../test/unit/ssh/openssh.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '200' },
    megabytes: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    /** The server's policy says not to record: the relay alone, to see what recording costs. */
    'no-record': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/ssh-proxy.ts [--keys 200] [--megabytes 200] [--rounds 3] [--no-record]');
  process.exit(0);
}
const KEYS = Number(values.keys);
const MEGABYTES = Number(values.megabytes);
const ROUNDS = Number(values.rounds);

const root = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'witness-bench-ssh-'));
const sshd = await startSshd();
const witness = new FakeWitness({
  trustPieces: true,
  ...(values['no-record'] ? { policy: { recordingEnabled: false } } : {}),
});
await witness.start();
let proxy: ChildProcess | null = null;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Median and p95 of `count` echo round trips (ms) through `ssh -tt … cat`. */
async function echoLatency(args: string[]): Promise<{ median: number; p95: number }> {
  const child = spawn('ssh', [...args, '-tt', 'stty raw -echo; echo ready; cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let waiter: (() => void) | null = null;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('latin1');
    waiter?.();
  });
  const until = (test: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo; got ${JSON.stringify(out.slice(-100))}`)), 10_000);
      waiter = () => {
        if (!test()) return;
        clearTimeout(timer);
        waiter = null;
        resolve();
      };
      waiter();
    });
  await until(() => out.includes('ready'));
  const samples: number[] = [];
  for (let i = 0; i < KEYS; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const before = out.length;
    const t0 = performance.now();
    child.stdin.write(key);
    await until(() => out.length > before && out.slice(before).includes(key));
    samples.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  child.stdin.write('\x04');
  child.kill();
  samples.sort((a, b) => a - b);
  return { median: percentile(samples, 50), p95: percentile(samples, 95) };
}

/** MB/s of `cat FILE` over exec (no pty), output to /dev/null. */
async function throughput(args: string[], file: string, bytes: number): Promise<number> {
  const sink = openSync('/dev/null', 'w');
  const t0 = performance.now();
  const child = spawn('ssh', [...args, `cat ${file}`], { stdio: ['ignore', sink, 'inherit'] });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - t0) / 1000;
  closeSync(sink);
  if (code !== 0) throw new Error(`ssh cat exited ${code}`);
  return bytes / 1e6 / seconds;
}

try {
  const big = path.join(dir, 'big.txt');
  // Text, as terminals print it (base64 of random bytes: 76-column lines).
  execFileSync('sh', ['-c', `head -c ${Math.round((MEGABYTES * 1e6 * 3) / 4)} /dev/urandom | base64 > ${big}`]);
  const bytes = Number(execFileSync('stat', ['-c', '%s', big], { encoding: 'utf8' }).trim());

  const alice = keygen(path.join(dir, 'alice'));
  const config = path.join(dir, 'ssh-proxy.json');
  writeFileSync(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      server: witness.url,
      apiKey: 'key-1',
      hostKey: './host-key',
      spoolDir: './spool',
      users: { alice: { authorizedKeys: [alice.publicKey], targets: ['bench'] } },
      targets: {
        bench: {
          host: '127.0.0.1',
          port: sshd.port,
          username: sshd.username,
          privateKey: sshd.clientKey.path,
          hostKey: sshd.hostKey.fingerprint,
        },
      },
    }),
  );
  const cli = path.join(root, 'agents/ssh-proxy/bin/witness-ssh-proxy.mjs');
  execFileSync(process.execPath, [cli, '--config', config, '--init']);
  const started = spawn(process.execPath, [cli, '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  proxy = started;
  const port = await new Promise<number>((resolve, reject) => {
    started.stdout?.on('data', (d: Buffer) => {
      const match = /listening (\d+)/.exec(String(d));
      if (match) resolve(Number(match[1]));
    });
    started.once('exit', () => reject(new Error('the proxy exited')));
  });

  const direct = [...sshOptions(sshd.port, sshd.clientKey.path), `${sshd.username}@127.0.0.1`];
  const proxied = [...sshOptions(port, alice.path), 'alice+bench@127.0.0.1'];
  const latency = { direct: [] as number[], proxy: [] as number[] };
  const rate = { direct: [] as number[], proxy: [] as number[] };
  for (let round = 1; round <= ROUNDS; round++) {
    const d = await echoLatency(direct);
    const p = await echoLatency(proxied);
    latency.direct.push(d.median);
    latency.proxy.push(p.median);
    console.log(
      `round ${round}: echo median ${d.median.toFixed(2)} ms direct, ${p.median.toFixed(2)} ms proxy ` +
        `(p95 ${d.p95.toFixed(2)} / ${p.p95.toFixed(2)})`,
    );
    const dr = await throughput(direct, big, bytes);
    const pr = await throughput(proxied, big, bytes);
    rate.direct.push(dr);
    rate.proxy.push(pr);
    console.log(
      `round ${round}: cat ${(bytes / 1e6).toFixed(0)} MB: ${dr.toFixed(0)} MB/s direct, ${pr.toFixed(0)} MB/s proxy`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const latencyRatio = median(latency.proxy) / median(latency.direct);
  const rateRatio = median(rate.proxy) / median(rate.direct);
  // Every session's cast reached the fake server in full: the bulk runs were recorded, not skipped.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const recorded = [...witness.sessions.values()].reduce(
    (sum, s) => sum + [...s.pieces.values()].reduce((n, p) => n + p.bytes.length, 0),
    0,
  );
  console.log(`\nsummary (${ROUNDS} rounds, medians; ${(recorded / 1e6).toFixed(0)} MB of cast stored)`);
  console.log(
    `  echo round trip   direct ${median(latency.direct).toFixed(2)} ms   proxy ${median(latency.proxy).toFixed(2)} ms   ` +
      `ratio ${latencyRatio.toFixed(2)}× (goal ≤ 1.5×) ${latencyRatio <= 1.5 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `  bulk output       direct ${median(rate.direct).toFixed(0)} MB/s   proxy ${median(rate.proxy).toFixed(0)} MB/s   ` +
      `${(rateRatio * 100).toFixed(0)} % (goal ≥ 50 %) ${rateRatio >= 0.5 ? 'met' : 'NOT met'}`,
  );
} finally {
  if (proxy && proxy.exitCode === null) {
    const exited = new Promise((resolve) => proxy?.once('exit', resolve));
    proxy.kill('SIGTERM');
    await exited;
  }
  await witness.close();
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
