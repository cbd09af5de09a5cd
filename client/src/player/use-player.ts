/** Preact glue: a core for a `<video>` the view renders, and subscriptions that re-render on its events. */
import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Driver, PlayerCore, type PlayerEvents, type PlayerState } from './core.ts';

/** Creates the core once the video element exists; destroys it (and its driver) on unmount. */
export function usePlayerCore(video: RefObject<HTMLVideoElement>, makeDriver: () => Driver): PlayerCore | null {
  const [core, setCore] = useState<PlayerCore | null>(null);
  useEffect(() => {
    if (!video.current) return;
    const created = new PlayerCore(video.current, makeDriver());
    setCore(created);
    return () => created.destroy();
  }, []);
  return core;
}

/** The core's state, re-rendering on every change. */
export function usePlayerState(core: PlayerCore | null): PlayerState | null {
  const [state, setState] = useState<PlayerState | null>(core?.state ?? null);
  useEffect(() => {
    if (!core) return;
    setState(core.state);
    return core.on('state', setState);
  }, [core]);
  return state;
}

/** The latest detail of one event (null until it fires). */
export function usePlayerEvent<K extends keyof PlayerEvents>(core: PlayerCore | null, type: K): PlayerEvents[K] | null {
  const [detail, setDetail] = useState<PlayerEvents[K] | null>(null);
  useEffect(() => {
    if (!core) return;
    return core.on(type, (d) => setDetail(() => d));
  }, [core, type]);
  return detail;
}
