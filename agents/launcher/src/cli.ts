/** `witness-launcher`: parses the command line, asks for a launch if needed, records, exits with a code. */

import { showEscapes } from '../../shared/terminal-text.ts';
import { witnessVersion } from '../../shared/version.ts';
import { parseCli, USAGE, UsageError } from './args.ts';
import { LaunchError, requestLaunchPatiently } from './launch.ts';
import { createLogger } from './log.ts';
import { ExitCode, runSession } from './session.ts';

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let command: ReturnType<typeof parseCli>;
  try {
    command = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`witness-launcher: ${error.message}\n\n${USAGE}\n`);
    return ExitCode.failed;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.ok;
  }
  if (command.kind === 'version') {
    process.stdout.write(`${witnessVersion()}\n`);
    return ExitCode.ok;
  }
  const log = createLogger({ verbose: command.recording.verbose });
  const heartbeatMs = Number(process.env.WITNESS_HEARTBEAT_MS) || undefined;
  if (command.kind === 'record') {
    return runSession({
      session: command.session,
      token: command.token,
      expiresAt: null,
      recording: command.recording,
      log,
      version: witnessVersion(),
      heartbeatMs,
    });
  }
  let reply: Awaited<ReturnType<typeof requestLaunchPatiently>>;
  try {
    // The launcher records the screen: WebM, whatever the protocol (an SSH client window is recorded as video).
    reply = await requestLaunchPatiently(
      { ...command, server: command.recording.server, format: 'webm' },
      { timeoutMs: command.recording.connectTimeoutMs, log },
    );
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error;
    log.error(error.message);
    return ExitCode.failed;
  }
  process.stdout.write(`session ${showEscapes(reply.sessionId)}\n`);
  return runSession({
    session: reply.sessionId,
    token: reply.token,
    expiresAt: reply.expiresAt,
    recording: command.recording,
    log,
    version: witnessVersion(),
    heartbeatMs,
  });
}

if (import.meta.main ?? process.argv[1] === new URL(import.meta.url).pathname) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`witness-launcher: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(ExitCode.failed);
    },
  );
}
