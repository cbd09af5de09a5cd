/** Fit (the font sized so that every recorded column shows) or 1:1 (the base font; the pane scrolls). */
import { useState } from 'preact/hooks';
import type { TerminalScale } from './fit.ts';
import type { TerminalScreen } from './screen.ts';

const CHOICES: ReadonlyArray<{ scale: TerminalScale; label: string; title: string }> = [
  { scale: 'fit', label: 'Fit', title: 'Every column in view, the font sized to the pane' },
  { scale: '1:1', label: '1:1', title: 'The terminal at its own font size; scroll to see the rest' },
];

export function ScaleToggle({ screen }: { screen: TerminalScreen | null }) {
  const [scale, setScale] = useState<TerminalScale>(screen?.scale ?? 'fit');
  return (
    <fieldset class="scale-toggle">
      <legend class="visually-hidden">Terminal size</legend>
      {CHOICES.map((choice) => (
        <button
          key={choice.scale}
          type="button"
          aria-pressed={scale === choice.scale}
          title={choice.title}
          disabled={!screen}
          onClick={() => {
            screen?.setScale(choice.scale);
            setScale(choice.scale);
          }}
        >
          {choice.label}
        </button>
      ))}
    </fieldset>
  );
}
