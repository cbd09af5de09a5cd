/**
 * Which page plays a session: SSH sessions record a terminal log (asciicast) and play in xterm.js, the others
 * record their screen and play in a video. Each page is its own chunk, fetched when first opened.
 */
import type { FunctionComponent } from 'preact';
import type { Permission } from '../api.ts';
import { sessionFormat } from './api.ts';

export type WatchKind = 'live' | 'recording';
export interface WatchProps {
  sessionId: string;
  can: (permission: Permission) => boolean;
}

// One import() per loader (not chosen inside one expression), so the build preloads each page's own chunks and CSS.
const PAGES = {
  live: {
    video: () => import('../watch/live-page.tsx').then((m) => m.WatchLivePage),
    terminal: () => import('./live-page.tsx').then((m) => m.TerminalLivePage),
  },
  recording: {
    video: () => import('../watch/recording-page.tsx').then((m) => m.WatchRecordingPage),
    terminal: () => import('./recording-page.tsx').then((m) => m.TerminalRecordingPage),
  },
} satisfies Record<WatchKind, Record<'video' | 'terminal', () => Promise<FunctionComponent<WatchProps>>>>;

/**
 * The page for `kind` of this session, by its recording format (anyone who may watch a session may read it;
 * should the details still be refused, the video pages play, as before SSH sessions existed).
 */
export async function loadWatchPage(sessionId: string, kind: WatchKind): Promise<FunctionComponent<WatchProps>> {
  const format = await sessionFormat(sessionId);
  return PAGES[kind][format === 'asciicast' ? 'terminal' : 'video']();
}
