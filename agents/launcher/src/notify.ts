/** Shows an administrator's message on the user's screen, best effort: never blocks, never throws. */
import { spawn } from 'node:child_process';
import { findExecutable } from './which.ts';

/** Command lines that show `text`, in order of preference, for the platform. */
export function dialogCommands(text: string, platform: NodeJS.Platform = process.platform): string[][] {
  if (platform === 'darwin') {
    const quoted = `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
    return [['osascript', '-e', `display dialog ${quoted} with title "Witness" buttons {"OK"} default button 1`]];
  }
  if (platform === 'win32') return [['msg', '*', text]];
  return [
    ['zenity', '--info', '--title=Witness', `--text=${text}`, '--no-markup'],
    ['notify-send', '--urgency=critical', 'Witness', text],
    ['xmessage', '-center', '-title', 'Witness', text],
  ];
}

/**
 * Starts the first available dialog program, detached. On X11 it needs a display; without one (or without
 * any of the programs) the message is only printed to stderr by the caller. Returns the program used.
 */
export function showDialog(text: string, display: string | undefined): string | null {
  if (process.platform !== 'darwin' && process.platform !== 'win32' && !display) return null;
  for (const [program, ...args] of dialogCommands(text)) {
    if (!program || !findExecutable(program)) continue;
    try {
      const child = spawn(program, args, {
        detached: true,
        stdio: 'ignore',
        env: display ? { ...process.env, DISPLAY: display } : process.env,
      });
      child.on('error', () => {});
      child.unref();
      return program;
    } catch {
      // try the next one
    }
  }
  return null;
}
