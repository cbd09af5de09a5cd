/**
 * The capture for X11 desktops (Linux, the BSDs): focus and keystrokes from the X server, processes from
 * /proc where there is one.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../log.ts';
import type { ActivityCapture, CaptureStart } from './capture.ts';
import { ProcessWatcher } from './processes.ts';
import { X11Desktop } from './x11-desktop.ts';

export class X11ActivityCapture implements ActivityCapture {
  readonly seesInput = true;
  readonly #desktop: X11Desktop;
  readonly #log: Logger;
  readonly #launcherPid: number;
  #processes: ProcessWatcher | null = null;
  #programPid: number | null = null;
  readonly #display: string;

  private constructor(desktop: X11Desktop, log: Logger, launcherPid: number, display: string) {
    this.#display = display;
    this.#desktop = desktop;
    this.#log = log;
    this.#launcherPid = launcherPid;
  }

  /** Connects to the display; throws with the reason when it cannot be captured. */
  static async open(display: string, log: Logger, launcherPid = process.pid): Promise<X11ActivityCapture> {
    return new X11ActivityCapture(await X11Desktop.open(display, log), log, launcherPid, display);
  }

  async start(options: CaptureStart): Promise<void> {
    if (options.events && existsSync('/proc/self/stat') && process.getuid) {
      this.#processes = new ProcessWatcher({
        emit: (event) => options.sink.event(event),
        uid: process.getuid(),
        launcherPid: this.#launcherPid,
        scope: { display: this.#display, session: options.session },
      });
      if (this.#programPid !== null) this.#processes.programStarted(this.#programPid);
      this.#processes.start();
    }
    await this.#desktop.start(options);
    const what = options.events
      ? `windows, ${this.#processes ? 'processes' : 'no processes (no /proc)'}, ${options.keystrokes ? 'keystrokes' : 'no keystrokes (policy)'}`
      : 'input only (recording is off)';
    this.#log.debug(`activity capture started: ${what}`);
  }

  programStarted(pid: number): void {
    this.#programPid = pid;
    this.#processes?.programStarted(pid);
  }

  async stop(): Promise<void> {
    this.#processes?.stop();
    const excluded = this.#processes?.excluded ?? 0;
    if (excluded > 0) {
      this.#log.info(`${excluded} process(es) of this user outside the session were not recorded (docs/launcher.md)`);
    }
    await this.#desktop.stop();
  }
}
