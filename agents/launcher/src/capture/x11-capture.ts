/**
 * The capture for X11 desktops (Linux, the BSDs): focus and keystrokes from the X server, processes from the
 * kernel's process events or /proc where there is one (process-capture.ts).
 */
import type { ProcessCapture } from '../../../../protocol/control.ts';
import type { Logger } from '../log.ts';
import type { ActivityCapture, CaptureSink, CaptureStart } from './capture.ts';
import { SessionProcesses } from './process-capture.ts';
import { X11Desktop } from './x11-desktop.ts';

export class X11ActivityCapture implements ActivityCapture {
  readonly seesInput = true;
  readonly #desktop: X11Desktop;
  readonly #log: Logger;
  readonly #launcherPid: number;
  #processes: SessionProcesses | null = null;
  #sink: CaptureSink | null = null;
  /** Why processes are not captured, when they are not. */
  #noProcesses = 'recording is off by policy';
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
    this.#sink = options.sink;
    const canWatch = SessionProcesses.available() && process.getuid !== undefined;
    if (options.events && !canWatch) this.#noProcesses = 'no /proc';
    if (options.events && canWatch && process.getuid) {
      this.#processes = new SessionProcesses({
        emit: (event) => options.sink.event(event),
        uid: process.getuid(),
        launcherPid: this.#launcherPid,
        scope: { display: this.#display, session: options.session },
        log: this.#log,
        onChange: () => this.#report(),
      });
      if (this.#programPid !== null) this.#processes.programStarted(this.#programPid);
      await this.#processes.start();
    }
    this.#report();
    await this.#desktop.start(options);
    const method = this.#processes?.status().method;
    const what = options.events
      ? `windows, ${this.#processes ? `processes (${method})` : 'no processes (no /proc)'}, ${options.keystrokes ? 'keystrokes' : 'no keystrokes (policy)'}`
      : 'input only (recording is off)';
    this.#log.debug(`activity capture started: ${what}`);
  }

  #processStatus(): ProcessCapture {
    return this.#processes?.status() ?? { method: 'none', excluded: 0, detail: this.#noProcesses };
  }

  #report(): void {
    this.#sink?.status({ processes: this.#processStatus() });
  }

  programStarted(pid: number): void {
    this.#programPid = pid;
    this.#processes?.programStarted(pid);
  }

  async stop(): Promise<void> {
    await this.#processes?.stop();
    const excluded = this.#processes?.status().excluded ?? 0;
    if (excluded > 0) {
      this.#log.info(`${excluded} process(es) of this user outside the session were not recorded (docs/launcher.md)`);
    }
    this.#report();
    await this.#desktop.stop();
  }
}
