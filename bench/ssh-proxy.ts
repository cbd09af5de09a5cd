/**
 * The SSH proxy beside a direct connection to the same sshd, in the same run: keystroke echo round trip
 * (one byte into `cat` on a pty, until its echo comes back) and bulk output (`cat` of a large text file,
 * recorded in full as cast pieces). The proxy runs as its CLI in its own process and records into the fake
 * Witness server of the unit tests (the edge is not what is measured here).
 *
 *   node bench/ssh-proxy.ts [--keys 200] [--megabytes 200] [--rounds 3] [--no-record] [--delay-ms 1]
 *                           [--profile DIR]
 * Goals (issue #6): echo latency ≤ 1.5× direct; throughput ≥ 50 % of direct — on loopback, the primary figures.
 *
 * Besides loopback, the echo is also measured as deployed: the user remote, the proxy next to the target. The
 * client then reaches sshd (direct) and the proxy over a link that delays every chunk by `--delay-ms` each
 * way (0 skips it). The kernel here has no netem qdisc (`tc … netem` says "Specified qdisc kind is
 * unknown"), so the link is a small TCP relay in its own process (this file with `--serve-delay-link`),
 * the same for both paths; the proxy reaches sshd over loopback as before.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../agents/ssh-proxy/src/config.ts';
import { sshCryptoBinding, sshCryptoWarning } from '../agents/ssh-proxy/src/native-crypto.ts';
import { PROXY_NODE_FLAGS } from '../agents/ssh-proxy/src/node-flags.ts';
import { FakeWitness } from '../test/unit/ssh/fake-witness.ts';
import { keygen, sshOptions, startSshd } from '../test/unit/ssh/openssh.ts';

// The delay link's process: `--serve-delay-link MS:PORT,PORT…` listens on one free port per target port,
// prints `delay-link <port>…`, and relays each chunk MS later in each direction (order kept).
const serving = process.argv.indexOf('--serve-delay-link');
if (serving > 0) {
  const [ms, targets] = (process.argv[serving + 1] as string).split(':') as [string, string];
  const delay = Number(ms);
  const later = (from: net.Socket, to: net.Socket) => {
    const queue: { due: number; bytes: Buffer }[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const now = performance.now();
      while (queue.length > 0 && (queue[0] as { due: number }).due <= now)
        to.write((queue.shift() as { bytes: Buffer }).bytes);
      if (queue.length > 0) {
        scheduled = true;
        setTimeout(flush, (queue[0] as { due: number }).due - now);
      }
    };
    from.on('data', (bytes: Buffer) => {
      queue.push({ due: performance.now() + delay, bytes });
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, delay);
      }
    });
    from.on('end', () => setTimeout(() => to.end(), delay + 1));
    from.on('error', () => to.destroy());
  };
  const ports = await Promise.all(
    targets.split(',').map(
      (target) =>
        new Promise<number>((resolve) => {
          const server = net.createServer({ noDelay: true }, (client) => {
            const upstream = net.connect({ port: Number(target), host: '127.0.0.1', noDelay: true });
            later(client, upstream);
            later(upstream, client);
          });
          server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
        }),
    ),
  );
  console.log(`delay-link ${ports.join(' ')}`);
  await new Promise(() => {});
}

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '200' },
    megabytes: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    /** The server's policy says not to record: the relay alone, to see what recording costs. */
    'no-record': { type: 'boolean', default: false },
    /** The proxy's `ciphers` for clients (comma-separated); its default when not given. */
    ciphers: { type: 'string' },
    /** One-way delay (ms) of the simulated remote user's link; 0 skips that part. */
    'delay-ms': { type: 'string', default: '1' },
    /** Writes a CPU profile of the proxy process (node --cpu-prof) into this folder. */
    profile: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'Usage: node bench/ssh-proxy.ts [--keys 200] [--megabytes 200] [--rounds 3] [--no-record] [--delay-ms 1] [--profile DIR]',
  );
  process.exit(0);
}
const KEYS = Number(values.keys);
const MEGABYTES = Number(values.megabytes);
const ROUNDS = Number(values.rounds);
const DELAY_MS = Number(values['delay-ms']);

/** CPU ms (user, system) a process or thread has used so far, from /proc (10 ms ticks). */
function cpuTimes(stat: string): { user: number; system: number } {
  const fields = readFileSync(stat, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

/** The proxy's CPU ms so far: in all, its main thread's user and system time, and its other threads'. */
function proxyCpu(pid: number): { all: number; user: number; system: number; others: number } {
  const process = cpuTimes(`/proc/${pid}/stat`);
  const main = cpuTimes(`/proc/${pid}/task/${pid}/stat`);
  const all = process.user + process.system;
  return { all, user: main.user, system: main.system, others: all - main.user - main.system };
}

const root = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'witness-bench-ssh-'));
const sshd = await startSshd();
const witness = new FakeWitness({
  trustPieces: true,
  ...(values['no-record'] ? { policy: { recordingEnabled: false } } : {}),
});
await witness.start();
let proxy: ChildProcess | null = null;
let link: ChildProcess | null = null;

function split(cpu: { user: number; system: number; others: number } | undefined): string {
  if (!cpu) return '';
  return `${cpu.user.toFixed(1)} user + ${cpu.system.toFixed(1)} system, other threads ${cpu.others.toFixed(1)}`;
}

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
      ...(values.ciphers ? { ciphers: values.ciphers.split(',') } : {}),
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
  // The cipher the client and the proxy agree on: the client's first that the proxy offers (RFC 4253 7.1).
  const offered: readonly string[] = loadConfig(config).ciphers;
  const clientCiphers = /^ciphers (.+)$/m.exec(
    execFileSync('ssh', ['-G', '-F', '/dev/null', 'x'], { encoding: 'utf8' }),
  );
  const sameCipher = (clientCiphers?.[1] ?? '').split(',').find((c) => offered.includes(c));
  if (!sameCipher) throw new Error('the client and the proxy share no cipher');
  const profile = values.profile
    ? ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', path.resolve(values.profile)]
    : [];
  const started = spawn(process.execPath, [...PROXY_NODE_FLAGS, ...profile, cli, '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
  const rate = { direct: [] as number[], proxy: [] as number[], sameCipher: [] as number[] };
  const remote = { direct: [] as number[], proxy: [] as number[] };
  /** The proxy's own CPU µs per keystroke in the echo runs, its session's start and end included. */
  const cpuPerKey: number[] = [];
  /** The proxy's own CPU ms per MB relayed (and recorded) in the bulk runs. */
  const cpuPerMb: number[] = [];
  /** The same split: the main thread's user and system time, the other threads' (V8's GC helpers, libuv's pool). */
  const cpuSplit: { user: number; system: number; others: number }[] = [];
  let remoteArgs: { direct: string[]; proxy: string[] } | null = null;
  if (DELAY_MS > 0) {
    const started = spawn(
      process.execPath,
      [import.meta.filename, '--serve-delay-link', `${DELAY_MS}:${sshd.port},${port}`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    link = started;
    const [directPort, proxyPort] = await new Promise<number[]>((resolve) => {
      started.stdout?.on('data', (d: Buffer) => {
        const match = /delay-link (\d+) (\d+)/.exec(String(d));
        if (match) resolve([Number(match[1]), Number(match[2])]);
      });
    });
    remoteArgs = {
      direct: [...sshOptions(directPort as number, sshd.clientKey.path), `${sshd.username}@127.0.0.1`],
      proxy: [...sshOptions(proxyPort as number, alice.path), 'alice+bench@127.0.0.1'],
    };
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const d = await echoLatency(direct);
    const echoCpu0 = proxyCpu(started.pid as number);
    const p = await echoLatency(proxied);
    const echoCpu1 = proxyCpu(started.pid as number);
    latency.direct.push(d.median);
    latency.proxy.push(p.median);
    // Includes the session's start and end (login, target connection, cast header and last piece).
    cpuPerKey.push(((echoCpu1.all - echoCpu0.all) * 1000) / KEYS);
    console.log(
      `round ${round}: echo median ${d.median.toFixed(2)} ms direct, ${p.median.toFixed(2)} ms proxy ` +
        `(p95 ${d.p95.toFixed(2)} / ${p.p95.toFixed(2)}; proxy CPU ${(cpuPerKey.at(-1) as number).toFixed(0)} µs per key)`,
    );
    const dr = await throughput(direct, big, bytes);
    // The direct baseline is the client's defaults (OpenSSH picks chacha20-poly1305); the proxy gives clients
    // AES-GCM, which is faster here: the direct connection with that cipher too, for reference.
    rate.sameCipher.push(await throughput(['-c', sameCipher, ...direct], big, bytes));
    const cpu0 = proxyCpu(started.pid as number);
    const pr = await throughput(proxied, big, bytes);
    const cpu1 = proxyCpu(started.pid as number);
    const mb = bytes / 1e6;
    cpuPerMb.push((cpu1.all - cpu0.all) / mb);
    cpuSplit.push({
      user: (cpu1.user - cpu0.user) / mb,
      system: (cpu1.system - cpu0.system) / mb,
      others: (cpu1.others - cpu0.others) / mb,
    });
    rate.direct.push(dr);
    rate.proxy.push(pr);
    console.log(
      `round ${round}: cat ${(bytes / 1e6).toFixed(0)} MB: ${dr.toFixed(0)} MB/s direct ` +
        `(${(rate.sameCipher.at(-1) as number).toFixed(0)} with ${sameCipher}), ${pr.toFixed(0)} MB/s proxy ` +
        `(proxy CPU ${(cpuPerMb.at(-1) as number).toFixed(1)} ms/MB: main thread ${split(cpuSplit.at(-1))})`,
    );
    if (remoteArgs) {
      const rd = await echoLatency(remoteArgs.direct);
      const rp = await echoLatency(remoteArgs.proxy);
      remote.direct.push(rd.median);
      remote.proxy.push(rp.median);
      console.log(
        `round ${round}: echo over a ${DELAY_MS} ms link: ${rd.median.toFixed(2)} ms direct, ${rp.median.toFixed(2)} ms proxy`,
      );
    }
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
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const crypto = sshCryptoBinding();
  console.log(
    `\nsummary (${ROUNDS} rounds, medians; ${(recorded / 1e6).toFixed(0)} MB of cast stored; load average ${load}; ` +
      `ssh2 crypto: ${crypto.loaded ? 'native binding' : 'JavaScript fallback'})`,
  );
  if (!crypto.loaded) console.log(`  ${sshCryptoWarning(crypto)}`);
  console.log('  loopback (the goals):');
  console.log(
    `  echo round trip   direct ${median(latency.direct).toFixed(2)} ms   proxy ${median(latency.proxy).toFixed(2)} ms   ` +
      `ratio ${latencyRatio.toFixed(2)}× (goal ≤ 1.5×) ${latencyRatio <= 1.5 ? 'met' : 'NOT met'}; ` +
      `proxy CPU ${median(cpuPerKey).toFixed(0)} µs per key`,
  );
  console.log(
    `  bulk output       direct ${median(rate.direct).toFixed(0)} MB/s   proxy ${median(rate.proxy).toFixed(0)} MB/s   ` +
      `${(rateRatio * 100).toFixed(0)} % (goal ≥ 50 %) ${rateRatio >= 0.5 ? 'met' : 'NOT met'}; ` +
      `proxy CPU ${median(cpuPerMb).toFixed(1)} ms/MB`,
  );
  console.log(
    `                    direct with the proxy's cipher (${sameCipher}) ${median(rate.sameCipher).toFixed(0)} MB/s: ` +
      `proxy ${((median(rate.proxy) / median(rate.sameCipher)) * 100).toFixed(0)} % of that`,
  );
  console.log(
    `                    proxy CPU per MB, medians: main thread ${split({
      user: median(cpuSplit.map((c) => c.user)),
      system: median(cpuSplit.map((c) => c.system)),
      others: median(cpuSplit.map((c) => c.others)),
    })}`,
  );
  if (remoteArgs) {
    const ratio = median(remote.proxy) / median(remote.direct);
    console.log(`  remote user (client link delayed ${DELAY_MS} ms each way; not the goal's figure):`);
    console.log(
      `  echo round trip   direct ${median(remote.direct).toFixed(2)} ms   proxy ${median(remote.proxy).toFixed(2)} ms   ` +
        `ratio ${ratio.toFixed(2)}×`,
    );
  }
} finally {
  link?.kill();
  if (proxy && proxy.exitCode === null) {
    const exited = new Promise((resolve) => proxy?.once('exit', resolve));
    proxy.kill('SIGTERM');
    await exited;
  }
  await witness.close();
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
