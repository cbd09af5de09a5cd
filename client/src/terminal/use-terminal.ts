/** Preact glue for the terminal: a screen in the host element and a player core over it. */
import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Driver, PlayerCore } from '../player/core.ts';
import { TerminalScreen } from './screen.ts';

export interface TerminalPlayer {
  core: PlayerCore<TerminalScreen>;
  screen: TerminalScreen;
}

/** Creates the screen and its core once the host exists; disposes both on unmount. */
export function useTerminalCore(
  host: RefObject<HTMLElement>,
  makeDriver: () => Driver<TerminalScreen>,
): TerminalPlayer | null {
  const [player, setPlayer] = useState<TerminalPlayer | null>(null);
  useEffect(() => {
    if (!host.current) return;
    const screen = new TerminalScreen(host.current);
    const core = new PlayerCore(screen, makeDriver());
    setPlayer({ core, screen });
    return () => {
      core.destroy();
      screen.dispose();
    };
  }, []);
  return player;
}
