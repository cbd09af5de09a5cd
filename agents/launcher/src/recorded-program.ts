/** The program being recorded (`-- command args`): runs in the launcher's terminal; the session lasts while it runs. */
import { type ChildProcess, spawn } from 'node:child_process';

export interface ProgramExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all. */
  error: Error | null;
}

export class RecordedProgram {
  readonly done: Promise<ProgramExit>;
  readonly #child: ChildProcess;
  #exited = false;

  constructor(command: string[], env: NodeJS.ProcessEnv) {
    const [program, ...args] = command;
    if (!program) throw new Error('no program to record');
    this.#child = spawn(program, args, { stdio: 'inherit', env });
    this.done = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        this.#exited = true;
        resolve({ code: null, signal: null, error });
      });
      this.#child.once('exit', (code, signal) => {
        this.#exited = true;
        resolve({ code, signal, error: null });
      });
    });
  }

  /** The program's process id (undefined when it could not be started). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return !this.#exited;
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. Resolves when it has exited. */
  async stop(graceMs = 5_000): Promise<ProgramExit> {
    if (this.#exited) return this.done;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    const exit = await this.done;
    clearTimeout(timer);
    return exit;
  }
}
