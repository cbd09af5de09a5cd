/** witness-agent: records every login on a Linux host (docs/agent.md). */
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '../../launcher/src/log.ts';
import { witnessVersion } from '../../shared/version.ts';
import { startBroker } from './broker.ts';
import {
  AgentConfig,
  AgentConfigError,
  AgentKey,
  DEFAULT_BROKER_SOCKET,
  DEFAULT_CONFIG_PATH,
  DEFAULT_KEY_FILE,
  DEFAULT_SPOOL_DIR,
  loadAgentConfig,
  loadAgentKey,
} from './config.ts';
import { flushOnce, pendingDirs } from './flush.ts';
import { DEFAULT_SSHD_CONFIG, DEFAULT_SYSTEMD_UNIT, InstallError, install, installedIn, uninstall } from './install.ts';
import { currentLogin } from './login.ts';
import { askPolicy, keepPolicy } from './policy.ts';
import { agentLogFile, recordLogin } from './record-login.ts';

const USAGE = `Usage:
  witness-agent install --server URL --api-key KEY [--host NAME] [--config FILE] [--sshd-config FILE]
                        [--spool-dir DIR] [--key-file FILE] [--broker-socket PATH] [--systemd-unit FILE]
                        [--fail-closed]
  witness-agent uninstall [--config FILE] [--sshd-config FILE] [--systemd-unit FILE]
  witness-agent status [--config FILE] [--sshd-config FILE]
  witness-agent broker [--config FILE]              the root daemon holding the key (systemd runs it)
  witness-agent flush [--config FILE] [--wait]      upload logins recorded while Witness was unreachable (root)
  witness-agent session [--config FILE]             what sshd runs for each login (its ForceCommand)

Records every SSH login on this host into Witness, also when nobody launched it through Witness.

Options:
  --server URL        the Witness server
  --api-key KEY       an API key of the agent scope, bound to this host's name (or WITNESS_AGENT_API_KEY)
  --host NAME         this host's name in Witness: the sessions' target (default: the host name, ${hostname()})
  --config FILE       the agent's configuration (default ${DEFAULT_CONFIG_PATH})
  --sshd-config FILE  the sshd configuration to change (default ${DEFAULT_SSHD_CONFIG}); tests point it at their own
  --spool-dir DIR     where recordings wait for the server (default ${DEFAULT_SPOOL_DIR})
  --key-file FILE     where the agent key is kept, mode 0600 (default ${DEFAULT_KEY_FILE})
  --broker-socket P   the broker's unix socket (default ${DEFAULT_BROKER_SOCKET})
  --systemd-unit FILE the broker's unit (default ${DEFAULT_SYSTEMD_UNIT}); elsewhere, start the broker yourself
  --fail-closed       refuse logins while Witness or the broker cannot be reached (default: record them,
                      upload later)
  --wait              flush: keep trying until everything is uploaded (up to 24 hours)
  --verbose           debug lines
  --help, --version

Examples:
  witness-agent install --server https://witness.example.com --api-key "$KEY" --host db-01
  systemctl reload ssh                                  # new logins are recorded from now on
  witness-agent status
  witness-agent install --server http://127.0.0.1:8787 --api-key "$KEY" --host test-host \\
    --config /tmp/t/agent.json --sshd-config /tmp/t/sshd_config --spool-dir /tmp/t/spool
  witness-agent uninstall --config /tmp/t/agent.json --sshd-config /tmp/t/sshd_config

Exit codes: 0 done; 1 a bad option, configuration or sshd configuration (nothing changed), or a login refused
(session, with --fail-closed while Witness is unreachable); 2 flush left recordings to upload later. For
session, the login's own exit code (1 when an administrator terminated it). docs/agent.md says what changes
on the host.`;

const OPTIONS = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  host: { type: 'string' },
  config: { type: 'string' },
  'sshd-config': { type: 'string' },
  'spool-dir': { type: 'string' },
  'key-file': { type: 'string' },
  'broker-socket': { type: 'string' },
  'systemd-unit': { type: 'string' },
  'fail-closed': { type: 'boolean' },
  wait: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean' },
  version: { type: 'boolean' },
} as const;

/** The command that runs this CLI again (sshd's ForceCommand, the broker's systemd unit). */
function agentCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('./cli.ts', import.meta.url))];
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`witness-agent: ${(error as Error).message}\n\n${USAGE}\n`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${witnessVersion()}\n`);
    return 0;
  }
  const command = positionals[0];
  if (positionals.length !== 1) {
    process.stderr.write(`witness-agent: name one command (install, uninstall, status, flush, session)\n\n${USAGE}\n`);
    return 1;
  }
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  const sshdConfig = values['sshd-config'] ?? DEFAULT_SSHD_CONFIG;
  const systemdUnit = values['systemd-unit'] ?? DEFAULT_SYSTEMD_UNIT;
  const verbose = values.verbose ?? false;
  try {
    switch (command) {
      case 'install': {
        const config = AgentConfig.safeParse({
          server: values.server,
          host: values.host ?? hostname(),
          spoolDir: values['spool-dir'] ?? DEFAULT_SPOOL_DIR,
          keyFile: values['key-file'] ?? DEFAULT_KEY_FILE,
          brokerSocket: values['broker-socket'] ?? DEFAULT_BROKER_SOCKET,
          failClosed: values['fail-closed'] ?? false,
        });
        const apiKey = AgentKey.safeParse(values['api-key'] ?? process.env.WITNESS_AGENT_API_KEY);
        if (!config.success || !apiKey.success) {
          const problems = [
            ...(config.error?.issues.map((issue) => `--${optionName(issue.path)}: ${issue.message}`) ?? []),
            ...(apiKey.error ? [`--api-key: ${apiKey.error.issues[0]?.message ?? 'missing'}`] : []),
          ];
          process.stderr.write(`witness-agent: ${problems.join('; ')}\n`);
          return 1;
        }
        // The key is checked first: a key for another host, or one the server refuses, changes nothing.
        const answer = await askPolicy(config.data, apiKey.data);
        if (answer.kind === 'refused') {
          process.stderr.write(`witness-agent: ${answer.why}; nothing changed\n`);
          return 1;
        }
        if (answer.kind === 'answered' && answer.reply.host !== config.data.host) {
          process.stderr.write(
            `witness-agent: this agent key is bound to the host ${JSON.stringify(answer.reply.host)}, not ` +
              `${JSON.stringify(config.data.host)} (--host); nothing changed\n`,
          );
          return 1;
        }
        const changes = install({
          config: config.data,
          apiKey: apiKey.data,
          configPath,
          sshdConfig,
          systemdUnit,
          agentCommand: agentCommand(),
        });
        if (answer.kind === 'answered') keepPolicy(config.data.spoolDir, answer.reply);
        else
          changes.push(
            `warning: ${answer.why}; the key is not checked yet (logins are recorded to the spool meanwhile)`,
          );
        report(changes, 'already installed: nothing to change');
        return 0;
      }
      case 'uninstall':
        report(uninstall({ configPath, sshdConfig, systemdUnit }), 'not installed: nothing to change');
        return 0;
      case 'status': {
        const config = loadAgentConfig(configPath);
        const pending = pendingDirs(config.spoolDir);
        process.stdout.write(
          [
            `server ${config.server}, host ${config.host}, spool ${config.spoolDir}`,
            `${sshdConfig}: ${installedIn(sshdConfig) ? 'every SSH login is recorded' : 'witness-agent is not installed'}`,
            `${pending.length} login(s) recorded offline, waiting to be uploaded`,
            '',
          ].join('\n'),
        );
        return 0;
      }
      case 'flush': {
        const config = loadAgentConfig(configPath);
        const log = createLogger({ verbose });
        return await flush(config, loadAgentKey(config), log, values.wait ?? false);
      }
      case 'broker': {
        const config = loadAgentConfig(configPath);
        const log = createLogger({ verbose });
        const broker = await startBroker({ config, apiKey: loadAgentKey(config), log, version: witnessVersion() });
        await new Promise<void>((resolve) => {
          for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
        });
        await broker.close();
        return 0;
      }
      case 'session': {
        const config = loadAgentConfig(configPath);
        const log = sessionLogger(config, verbose);
        return await recordLogin({
          config,
          configPath,
          sshdConfig: values['sshd-config'] ?? null,
          login: currentLogin(),
          log,
          version: witnessVersion(),
          heartbeatMs: Number(process.env.WITNESS_HEARTBEAT_MS) || undefined,
        });
      }
      default:
        process.stderr.write(`witness-agent: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
        return 1;
    }
  } catch (error) {
    if (error instanceof AgentConfigError || error instanceof InstallError) {
      process.stderr.write(`witness-agent: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function optionName(path: readonly PropertyKey[]): string {
  const names: Record<string, string> = {
    spoolDir: 'spool-dir',
    keyFile: 'key-file',
    brokerSocket: 'broker-socket',
    failClosed: 'fail-closed',
  };
  const key = String(path[0] ?? '');
  return names[key] ?? key;
}

function report(changes: string[], none: string): void {
  process.stdout.write(`${(changes.length > 0 ? changes : [none]).join('\n')}\n`);
}

/**
 * A login's diagnostics go to a log file in the spool, not to the user's terminal (where they would be noise
 * in the session and its recording); the user sees only the lines meant for them.
 */
function sessionLogger(config: AgentConfig, verbose: boolean): Logger {
  const file = agentLogFile(config.spoolDir);
  return createLogger({
    verbose,
    write: (line) => {
      try {
        appendFileSync(file, `${line}\n`, { mode: 0o600 });
      } catch {
        // No log is no reason to refuse a login; the recording itself fails closed on its own errors.
      }
    },
  });
}

async function flush(config: AgentConfig, apiKey: string, log: Logger, wait: boolean): Promise<number> {
  const giveUpAt = Date.now() + 24 * 3600_000;
  let delay = 2_000;
  for (;;) {
    const result = await flushOnce(config, apiKey, log, witnessVersion());
    for (const { dir, why } of result.left) log.warn(`${dir}: not uploaded yet: ${why}`);
    if (result.left.length === 0) return 0;
    if (!wait || Date.now() + delay > giveUpAt) return 2;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 60_000);
  }
}

if (import.meta.main ?? process.argv[1] === new URL(import.meta.url).pathname) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`witness-agent: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
