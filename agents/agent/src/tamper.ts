/**
 * The tamper signal: while a login is recorded, the agent watches what could stop it recording — a signal to
 * stop the recorder, a change to its configuration or to sshd's (the ForceCommand block removed) — and reports
 * each as an `agent.tamper` activity event (and a cast marker), so the session says so. Root can still stop an
 * agent without a trace (SIGKILL, or changes made when no login is recorded): docs/agent.md, "Limits".
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { hasAgentBlock } from './sshd-config.ts';

const WATCH_EVERY_MS = 1_000;

export interface TamperWatch {
  stop(): void;
}

export function watchForTamper(options: {
  configPath: string;
  sshdConfig: string | null;
  report: (what: string) => void;
}): TamperWatch {
  const watched: string[] = [];
  const watch = (path: string, describe: () => string) => {
    watchFile(path, { interval: WATCH_EVERY_MS, persistent: false }, (current, previous) => {
      if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size)
        return;
      options.report(describe());
    });
    watched.push(path);
  };
  watch(options.configPath, () => `the agent's configuration ${options.configPath} changed while this session ran`);
  const sshdConfig = options.sshdConfig;
  if (sshdConfig) {
    watch(sshdConfig, () => {
      let text: string | null = null;
      try {
        text = readFileSync(sshdConfig, 'utf8');
      } catch {
        // gone, or not ours to read
      }
      const still = text !== null && hasAgentBlock(text);
      return `sshd's configuration ${sshdConfig} changed while this session ran${still ? '' : ': the witness-agent block is gone'}`;
    });
  }
  return {
    stop: () => {
      for (const path of watched) unwatchFile(path);
    },
  };
}
