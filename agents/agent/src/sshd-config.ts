/**
 * The block `witness-agent install` puts at the top of an sshd configuration, and its removal. sshd takes the
 * first value it reads for a keyword, so a block at the top wins over the same keyword further down (and over
 * an `Include`d file); uninstall removes exactly the block, leaving the file byte for byte as it was.
 */

export const BLOCK_BEGIN =
  '# BEGIN witness-agent (written by `witness-agent install`; `witness-agent uninstall` removes it)';
export const BLOCK_END = '# END witness-agent';

/** Characters that cannot be quoted into the sshd line and the shell command sshd runs it with. */
const UNQUOTABLE = /['\n\r\0]/;

/** `'word'` for the login shell sshd hands the ForceCommand to (`$SHELL -c`). */
export function shellQuote(word: string): string {
  if (UNQUOTABLE.test(word)) throw new Error(`cannot use ${JSON.stringify(word)} in an sshd ForceCommand`);
  return `'${word}'`;
}

/** The managed block: every SSH login (shell, exec, subsystem) runs `command` (argv) instead, under the recorder. */
export function agentBlock(command: readonly string[]): string {
  return [BLOCK_BEGIN, `ForceCommand ${command.map(shellQuote).join(' ')}`, BLOCK_END, ''].join('\n');
}

/** Where the managed block is in `text` (its start, and the end past its last newline), or null. */
function findBlock(text: string): { start: number; end: number } | null {
  const start = text.indexOf(`${BLOCK_BEGIN}\n`);
  if (start === -1) return null;
  const endLine = text.indexOf(`${BLOCK_END}\n`, start);
  if (endLine === -1) throw new Error(`the witness-agent block has a BEGIN line but no "${BLOCK_END}" line`);
  return { start, end: endLine + BLOCK_END.length + 1 };
}

/** `text` with the block at the top (replacing an older one in place, so install is idempotent). */
export function withAgentBlock(text: string, block: string): string {
  const found = findBlock(text);
  if (found) return text.slice(0, found.start) + block + text.slice(found.end);
  return block + text;
}

/** `text` without the block (unchanged when there is none). */
export function withoutAgentBlock(text: string): string {
  const found = findBlock(text);
  return found ? text.slice(0, found.start) + text.slice(found.end) : text;
}

export function hasAgentBlock(text: string): boolean {
  return findBlock(text) !== null;
}

/**
 * `ForceCommand` lines outside the block: one inside a `Match` block would override the agent's for the logins
 * it matches (sshd applies Match blocks after the main section), so install refuses to run beside them.
 */
export function otherForceCommands(text: string): number[] {
  const lines: number[] = [];
  let inBlock = false;
  for (const [index, line] of text.split('\n').entries()) {
    if (line === BLOCK_BEGIN) inBlock = true;
    else if (line === BLOCK_END) inBlock = false;
    else if (!inBlock && /^\s*forcecommand(\s|=)/i.test(line)) lines.push(index + 1);
  }
  return lines;
}
