/**
 * The user's terminal (sshd's, or the console's) in raw mode, input and output: bytes pass both ways exactly,
 * as the recorder's own terminal processes them for the shell. Node's setRawMode is libuv's raw mode, which
 * keeps output processing (ONLCR turns the shell's "\r\n" into "\r\r\n"), so `stty raw -echo` is used,
 * and the terminal's settings as they were are put back at the end.
 */
import { execFileSync } from 'node:child_process';

/** Makes stdin's terminal raw; returns what puts it back (nothing to do when stdin is not a terminal). */
export function rawTerminal(): () => void {
  if (!process.stdin.isTTY) return () => {};
  const stty = (args: string[]) =>
    execFileSync('stty', args, { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
  let saved: string;
  try {
    saved = stty(['-g']);
    stty(['raw', '-echo']);
  } catch {
    // No stty: libuv's raw mode is the next best (output keeps its newline translation).
    process.stdin.setRawMode(true);
    return () => process.stdin.setRawMode(false);
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    try {
      stty([saved]);
    } catch {
      // The terminal is gone (the client hung up): nothing to put back.
    }
  };
}
