/** The player's keyboard shortcuts work anywhere on the page, except where a key already means something. */

/** Typing in a field, or pressing a button or link, keeps its own meaning for the key. */
export function ownsKey(target: EventTarget | null, key: string): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.closest('input, textarea, select')) return true;
  return key === ' ' && target.closest('button, a, summary') !== null;
}

/** A key the player may take: no modifier but Shift, not owned by the target, no dialog open. */
export function playerKey(event: KeyboardEvent): boolean {
  if (event.ctrlKey || event.metaKey || event.altKey || ownsKey(event.target, event.key)) return false;
  return document.querySelector('dialog[open]') === null;
}
