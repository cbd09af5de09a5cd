/** Starts the SSH proxy in-process between a real sshd and the fake Witness server, as tests need it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../agents/launcher/src/log.ts';
import { initProxy, loadConfig, type ProxyConfigFile } from '../../../agents/ssh-proxy/src/config.ts';
import { ProxyServer } from '../../../agents/ssh-proxy/src/server.ts';
import { FakeWitness, type FakeWitnessOptions } from '../../support/fake-witness.ts';
import { type KeyPair, keygen, type Sshd, startSshd } from './openssh.ts';

export interface Harness {
  sshd: Sshd;
  witness: FakeWitness;
  proxy: ProxyServer;
  port: number;
  dir: string;
  /** alice's key, authorized for "target" and "other". */
  alice: KeyPair;
  /** A key nobody authorized. */
  stranger: KeyPair;
  spoolRoot: string;
  log: string[];
  stop(): Promise<void>;
}

export interface HarnessOptions {
  witness?: FakeWitnessOptions;
  /** Changes to the configuration before it is loaded. */
  configure?: (config: Record<string, unknown>) => void;
  sshd?: Sshd;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sshd = options.sshd ?? (await startSshd());
  const witness = new FakeWitness(options.witness);
  await witness.start();
  const dir = mkdtempSync(join(tmpdir(), 'witness-ssh-proxy-'));
  const alice = keygen(join(dir, 'alice'), 'alice@laptop');
  const stranger = keygen(join(dir, 'stranger'), 'stranger');
  const configPath = join(dir, 'ssh-proxy.json');
  const target = {
    host: '127.0.0.1',
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.clientKey.path,
    hostKey: sshd.hostKey.fingerprint,
  };
  const config: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 0 },
    server: witness.url,
    apiKey: 'key-1',
    hostKey: './host_key',
    spoolDir: './spool',
    drainTimeoutMs: 60_000,
    users: { alice: { authorizedKeys: [alice.publicKey], targets: ['target', 'pinned-wrong'] } },
    targets: {
      target,
      other: target,
      'pinned-wrong': { ...target, hostKey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    },
  } satisfies Partial<Record<keyof ProxyConfigFile, unknown>>;
  options.configure?.(config);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  initProxy(configPath);
  const log: string[] = [];
  const proxy = new ProxyServer({
    config: loadConfig(configPath),
    log: createLogger({ verbose: true, write: (line) => log.push(line) }),
    version: 'test',
    heartbeatMs: 1_000,
    serverTimeoutMs: 5_000,
  });
  const port = await proxy.listen();
  return {
    sshd,
    witness,
    proxy,
    port,
    dir,
    alice,
    stranger,
    spoolRoot: join(dir, 'spool'),
    log,
    async stop() {
      await proxy.close();
      await witness.close();
      if (!options.sshd) await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
