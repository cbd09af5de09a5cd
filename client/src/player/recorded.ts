/**
 * The recorded driver: plays a sealed session's seekable `recording.webm`. The browser reads the file's Cues
 * and fetches only the byte ranges a seek needs (HTTP Range), so no index of our own is needed here.
 *
 * Before Play the video shows its first frame: it preloads, and once data is there the playhead is placed on
 * the first frame the file has (the first keyframe may start a little after 0, and a video placed before
 * its first frame stays black).
 */
import type { Driver, DriverContext } from './core.ts';

export function recordedDriver(url: string): Driver {
  let video: HTMLVideoElement | null = null;
  const toFirstFrame = () => {
    const v = video;
    if (!v?.paused || v.seeking || v.buffered.length === 0) return;
    const first = v.buffered.start(0);
    if (v.currentTime < first) v.currentTime = first;
  };
  return {
    attach(context: DriverContext) {
      video = context.video;
      video.preload = 'auto';
      video.addEventListener('loadeddata', toFirstFrame, { once: true });
      video.src = url;
    },
    detach() {
      if (!video) return;
      video.removeEventListener('loadeddata', toFirstFrame);
      video.pause();
      video.removeAttribute('src');
      video.load();
    },
  };
}
