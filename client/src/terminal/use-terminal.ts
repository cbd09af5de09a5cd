/** Preact glue for the terminal: a screen in the host element and a player core over it. */
import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Driver, PlayerCore } from '../player/core.ts';
import { TerminalScreen } from './screen.ts';

/** Creates the screen and its core once the host exists; disposes both on unmount. */
export function useTerminalCore(
  host: RefObject<HTMLElement>,
  makeDriver: () => Driver<TerminalScreen>,
): PlayerCore<TerminalScreen> | null {
  const [core, setCore] = useState<PlayerCore<TerminalScreen> | null>(null);
  useEffect(() => {
    if (!host.current) return;
    const screen = new TerminalScreen(host.current);
    const created = new PlayerCore(screen, makeDriver());
    setCore(created);
    return () => {
      created.destroy();
      screen.dispose();
    };
  }, []);
  return core;
}
