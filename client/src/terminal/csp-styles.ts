/**
 * xterm.js writes its theme, row and scrollbar rules into `<style>` elements it creates while it opens. The
 * console's Content-Security-Policy (`style-src 'self'`) refuses inline styles, so those rules would be
 * dropped (no colours, wrong row heights) with a violation each. While the terminal opens, its `<style>`
 * elements are stand-ins whose text goes into constructable stylesheets instead: CSSOM, which the policy
 * allows, and the rules are xterm's own (colours and sizes it computed), never recorded text.
 *
 * Truecolour cells are different: xterm's DOM renderer sets them as `style` attributes, which the policy
 * allows with `style-src-attr 'unsafe-inline'` (attributes only; `<style>` elements stay refused).
 */
import type { Terminal } from '@xterm/xterm';

/** A detached element standing in for one `<style>`: xterm appends it, sets its text, and removes it. */
function styleStandIn(create: Document['createElement']): HTMLElement {
  const sheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  // A <template> renders nothing and applies nothing, wherever xterm puts it.
  const standIn: HTMLElement = create.call(document, 'template');
  Object.defineProperty(standIn, 'textContent', {
    get: () => '',
    set: (css: string) => sheet.replaceSync(css),
  });
  const remove = standIn.remove.bind(standIn);
  Object.defineProperty(standIn, 'remove', {
    value: () => {
      remove();
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
    },
  });
  return standIn;
}

/** `terminal.open(host)`, with xterm's `<style>` elements replaced by stand-ins (see the top of this file). */
export function openWithoutInlineStyles(terminal: Terminal, host: HTMLElement): void {
  const create = document.createElement;
  document.createElement = ((tag: string, options?: ElementCreationOptions) =>
    tag.toLowerCase() === 'style' ? styleStandIn(create) : create.call(document, tag, options)) as typeof create;
  try {
    terminal.open(host);
  } finally {
    document.createElement = create;
  }
}
