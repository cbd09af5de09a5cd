/**
 * The session's process capture on Linux: the kernel's process events through the helper where it runs
 * (process-events.ts), else /proc polled every 50 ms (processes.ts), and which of them ran, for the record.
 */
import { existsSync } from 'node:fs';
import type { ProcessCapture } from '../../../../protocol/control.ts';
import type { Logger } from '../log.ts';
import type { CapturedEvent } from './capture.ts';
import { findHelper, ProcessEventsWatcher } from './process-events.ts';
import { PROCESS_POLL_MS, ProcessWatcher } from './processes.ts';

export interface SessionProcessesOptions {
  emit: (event: CapturedEvent) => void;
  uid: number;
  launcherPid: number;
  scope: { display: string | undefined; session: string };
  log: Logger;
  /** The method changed during the session (the helper died): the record should say so at once. */
  onChange: () => void;
  /** The helper to run; default: findHelper(). `null` forces polling. */
  helper?: string | null;
  procRoot?: string;
}

export class SessionProcesses {
  readonly #options: SessionProcessesOptions;
  #events: ProcessEventsWatcher | null = null;
  #poller: ProcessWatcher | null = null;
  #programPid: number | null = null;
  #detail: string | undefined;
  /** Counts of a helper that died, kept when the poller takes over. */
  #carried = { excluded: 0, lost: 0 };

  constructor(options: SessionProcessesOptions) {
    this.#options = options;
  }

  /** Whether this machine has a /proc to capture processes from. */
  static available(procRoot = '/proc'): boolean {
    return existsSync(`${procRoot}/self/stat`);
  }

  async start(): Promise<void> {
    const helper = this.#options.helper === undefined ? findHelper() : this.#options.helper;
    if (helper) {
      const events = new ProcessEventsWatcher({
        ...this.#options,
        helper,
        onFailed: (why) => this.#fallBack(`the process-event helper stopped: ${why}`),
      });
      // Set before it starts: a helper that dies right after saying it listens falls back (#fallBack) at once.
      this.#events = events;
      if (this.#programPid !== null) events.programStarted(this.#programPid);
      try {
        await events.start();
        this.#options.log.debug(`processes: kernel process events (${helper})`);
        return;
      } catch (error) {
        this.#events = null;
        await events.stop().catch(() => {});
        this.#detail = `the process-event helper cannot listen: ${(error as Error).message}`;
      }
    } else {
      this.#detail = 'the process-event helper is not installed (docs/launcher.md, "Processes: how they are seen")';
    }
    this.#options.log.info(`processes: polling /proc every ${PROCESS_POLL_MS} ms (${this.#detail})`);
    this.#startPoller();
  }

  programStarted(pid: number): void {
    this.#programPid = pid;
    this.#events?.programStarted(pid);
    this.#poller?.programStarted(pid);
  }

  async stop(): Promise<void> {
    await this.#events?.stop();
    this.#poller?.stop();
  }

  /** What the session's record says of the process capture. */
  status(): ProcessCapture {
    if (this.#events) {
      return { method: 'netlink', excluded: this.#events.excluded, lost: this.#events.lost };
    }
    return {
      method: 'poll',
      pollMs: PROCESS_POLL_MS,
      excluded: this.#carried.excluded + (this.#poller?.excluded ?? 0),
      ...(this.#carried.lost > 0 && { lost: this.#carried.lost }),
      ...(this.#detail && { detail: this.#detail }),
    };
  }

  #startPoller(): void {
    this.#poller = new ProcessWatcher({ ...this.#options, pollMs: PROCESS_POLL_MS });
    if (this.#programPid !== null) this.#poller.programStarted(this.#programPid);
    this.#poller.start();
  }

  #fallBack(detail: string): void {
    const events = this.#events;
    if (!events) return;
    this.#carried = { excluded: events.excluded, lost: events.lost };
    this.#events = null;
    void events.stop();
    this.#detail = detail;
    // The poller's baseline is what runs now: what the helper already reported keeps its start; its stop is
    // the helper's last word or none. Said in the record, so an auditor knows the rest was polled.
    this.#startPoller();
    this.#options.onChange();
  }
}
