/**
 * The recorded driver: plays a sealed session's seekable `recording.webm`. The browser reads the file's Cues
 * and fetches only the byte ranges a seek needs (HTTP Range), so no index of our own is needed here.
 */
import type { Driver, DriverContext } from './core.ts';

export function recordedDriver(url: string): Driver {
  let video: HTMLVideoElement | null = null;
  return {
    attach(context: DriverContext) {
      video = context.video;
      video.preload = 'auto';
      video.src = url;
    },
    detach() {
      if (!video) return;
      video.pause();
      video.removeAttribute('src');
      video.load();
    },
  };
}
