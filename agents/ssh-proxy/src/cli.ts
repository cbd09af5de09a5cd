/** `witness-ssh-proxy`: reads the configuration, creates the host key with --init, runs the proxy. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../../launcher/src/log.ts';
import { witnessVersion } from '../../shared/version.ts';
import { ConfigError, fingerprintOfPrivateKey, initProxy, loadConfig } from './config.ts';
import { sshCryptoBinding, sshCryptoWarning } from './native-crypto.ts';
import { ProxyServer } from './server.ts';

export const USAGE = `Usage: witness-ssh-proxy [--config FILE] [--init] [--verbose]

Records SSH sessions into Witness: users connect with any SSH client as
  ssh -p 2222 alice+db-01@proxy        (alice's key, listed in the configuration)
  ssh -p 2222 <session id>@proxy       (the launch's ingest token as the password)

Options:
  --config FILE   the configuration (JSON; default ./ssh-proxy.json)
  --init          create the host key (and an example configuration) if missing, then exit
  --verbose       debug lines on stderr
  --help, --version

Examples:
  witness-ssh-proxy --config ssh-proxy.json --init     # a host key and an example configuration
  WITNESS_API_KEY=KEY witness-ssh-proxy --config ssh-proxy.json
  ssh -p 2222 alice+db-01@127.0.0.1                    # then, as a user: recorded

Exit codes: 0 stopped by SIGINT/SIGTERM after uploading what was left (or --init done); 1 a bad option or
configuration, or an unexpected error. Configuration and what is recorded: docs/ssh-proxy.md.`;

export async function main(argv: string[]): Promise<number> {
  let values: { config?: string; init?: boolean; verbose?: boolean; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        init: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`witness-ssh-proxy: ${(error as Error).message}\n\n${USAGE}\n`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${witnessVersion()}\n`);
    return 0;
  }
  const configPath = values.config ?? 'ssh-proxy.json';
  const log = createLogger({ verbose: values.verbose ?? false });
  try {
    if (values.init) {
      for (const line of initProxy(configPath)) process.stdout.write(`${line}\n`);
      return 0;
    }
    const config = loadConfig(configPath);
    const cryptoWarning = sshCryptoWarning(sshCryptoBinding());
    if (cryptoWarning) log.warn(cryptoWarning);
    const server = new ProxyServer({
      config,
      log,
      version: witnessVersion(),
      heartbeatMs: Number(process.env.WITNESS_HEARTBEAT_MS) || undefined,
    });
    const port = await server.listen();
    const hostKey = fingerprintOfPrivateKey(readFileSync(config.hostKeyPath));
    log.info(
      `SSH proxy listening on ${config.listen.host}:${port} (host key ${hostKey}), recording to ${config.server}`,
    );
    process.stdout.write(`listening ${port}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    log.info('stopping: closing connections and uploading what is left');
    await server.close();
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`witness-ssh-proxy: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main ?? process.argv[1] === new URL(import.meta.url).pathname) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`witness-ssh-proxy: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
