/**
 * How long since the user last touched the keyboard or mouse, on each platform the launcher records: the same
 * contract everywhere (milliseconds of idle time, or null when it cannot be read), so the ActivityWatcher
 * (activity.ts) tells the server about input the same way on X11, Windows and macOS.
 * - X11: `xprintidle` (the MIT-SCREEN-SAVER extension) for the recorded display.
 * - Windows: `GetLastInputInfo` (user32), through one long-running PowerShell that prints the idle time every
 *   second: one process for the session rather than one a poll.
 * - macOS: `ioreg -c IOHIDSystem`'s `HIDIdleTime` (nanoseconds).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { findExecutable } from './which.ts';

export interface IdleReader {
  /** The idle time now, in ms; null when it could not be read. */
  read(): Promise<number | null>;
  close(): void;
}

/** Where the idle time comes from for a recording, before anything is started. */
export type IdleSource =
  | { kind: 'xprintidle'; display: string }
  | { kind: 'powershell'; executable: string }
  | { kind: 'ioreg' };

/** The idle source for a recording of `source` on `platform`, or null when there is none on this machine. */
export function idleSourceFor(
  source: string,
  display: string | undefined,
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): IdleSource | null {
  if (source === 'x11') {
    return display !== undefined && findExecutable('xprintidle', env) !== null ? { kind: 'xprintidle', display } : null;
  }
  if (platform === 'win32' && (source === 'gdigrab' || source === 'ddagrab')) {
    const executable = findExecutable('powershell', env) ?? findExecutable('pwsh', env);
    return executable ? { kind: 'powershell', executable } : null;
  }
  if (platform === 'darwin' && source === 'avfoundation') {
    return findExecutable('ioreg', env) !== null ? { kind: 'ioreg' } : null;
  }
  return null;
}

export function openIdleReader(idle: IdleSource): IdleReader {
  switch (idle.kind) {
    case 'xprintidle':
      return {
        read: () =>
          run('xprintidle', [], { DISPLAY: idle.display }).then((out) => (out === null ? null : parseXprintidle(out))),
        close: () => {},
      };
    case 'ioreg':
      return {
        read: () =>
          run('ioreg', ['-c', 'IOHIDSystem', '-d', '4', '-k', 'HIDIdleTime']).then((out) =>
            out === null ? null : parseIoregIdle(out),
          ),
        close: () => {},
      };
    case 'powershell':
      return new WindowsIdleReader(idle.executable);
  }
}

/** xprintidle prints the idle time in ms. */
export function parseXprintidle(stdout: string): number | null {
  const text = stdout.trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** ioreg lists `"HIDIdleTime" = <ns>` (as a number, or as hex data on some versions); the first one counts. */
export function parseIoregIdle(stdout: string): number | null {
  const decimal = /"HIDIdleTime"\s*=\s*(\d+)/.exec(stdout);
  if (decimal) return Math.floor(Number(decimal[1]) / 1e6);
  const data = /"HIDIdleTime"\s*=\s*<([0-9a-f]{1,16})>/i.exec(stdout);
  if (!data) return null;
  // Little-endian bytes.
  const bytes = (data[1] as string).padEnd(16, '0').match(/../g) ?? [];
  const ns = bytes.reduceRight((value, byte) => value * 256n + BigInt(`0x${byte}`), 0n);
  return Number(ns / 1_000_000n);
}

/** One line of the PowerShell loop: the idle ms, as `GetLastInputInfo` and `GetTickCount` give it. */
export function parseWindowsIdle(line: string): number | null {
  const text = line.trim();
  return /^\d{1,10}$/.test(text) ? Number(text) : null;
}

/** The PowerShell loop: user32's last-input tick against the tick count, once a second, as a plain number a line. */
export const WINDOWS_IDLE_SCRIPT = `
Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class WitnessIdle {
  [StructLayout(LayoutKind.Sequential)] struct LASTINPUTINFO { public uint cbSize; public uint dwTime; }
  [DllImport("user32.dll")] static extern bool GetLastInputInfo(ref LASTINPUTINFO info);
  public static uint Ms() {
    var info = new LASTINPUTINFO(); info.cbSize = (uint)Marshal.SizeOf(info);
    if (!GetLastInputInfo(ref info)) return uint.MaxValue;
    return unchecked((uint)Environment.TickCount - info.dwTime);
  }
}
'@
while ($true) { [Console]::Out.WriteLine([WitnessIdle]::Ms()); [Console]::Out.Flush(); Start-Sleep -Milliseconds 1000 }
`;

class WindowsIdleReader implements IdleReader {
  #latest: number | null = null;
  #child: ChildProcess;

  constructor(executable: string) {
    const encoded = Buffer.from(WINDOWS_IDLE_SCRIPT, 'utf16le').toString('base64');
    this.#child = spawn(executable, ['-NoProfile', '-NonInteractive', '-EncodedCommand', encoded], {
      stdio: ['ignore', 'pipe', 'ignore'],
      windowsHide: true,
    });
    let buffered = '';
    this.#child.stdout?.setEncoding('utf8');
    this.#child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split(/\r?\n/);
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const ms = parseWindowsIdle(line);
        // 4294967295: GetLastInputInfo failed; keep what was read before.
        if (ms !== null && ms !== 0xffffffff) this.#latest = ms;
      }
    });
    this.#child.on('error', () => {
      this.#latest = null;
    });
  }

  async read(): Promise<number | null> {
    return this.#latest;
  }

  close(): void {
    this.#child.kill();
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { ...process.env, ...env }, timeout: 2_000 }, (error, stdout) =>
      resolve(error ? null : String(stdout)),
    );
  });
}
