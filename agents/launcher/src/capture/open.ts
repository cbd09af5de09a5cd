/**
 * Opening the activity capture for this platform and source. Apart from capture.ts, which only says what a
 * capture is: the interfaces import none of their implementations.
 */
import type { Logger } from '../log.ts';
import type { ActivityCapture } from './capture.ts';
import { X11ActivityCapture } from './x11-capture.ts';

export interface OpenCapture {
  /** The recording's source: only a captured X display has a capture today. */
  source: string;
  /** The X display being recorded. */
  display: string | undefined;
  log: Logger;
  platform?: NodeJS.Platform;
}

/**
 * The capture for this platform and source, connected; null when there is none (Windows and macOS: see
 * docs/launcher.md, "Activity capture") or when the display cannot be used (the reason is logged).
 */
export async function openActivityCapture(options: OpenCapture): Promise<ActivityCapture | null> {
  const platform = options.platform ?? process.platform;
  if (platform === 'win32' || platform === 'darwin') return null;
  if (options.source !== 'x11' || !options.display) return null;
  try {
    return await X11ActivityCapture.open(options.display, options.log);
  } catch (error) {
    options.log.warn(`no activity capture on ${options.display}: ${(error as Error).message}`);
    return null;
  }
}
