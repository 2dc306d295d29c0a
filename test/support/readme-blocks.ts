import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@tessera/testkit';

/** One fenced code block of a Markdown file, as a reader copies it (a list item's indent removed). */
export interface CodeBlock {
  readonly lang: string;
  readonly body: string;
}

/** The text of `file` (from the repository root) from the `heading` line to the next heading of its level or above. */
export function readmeSection(file: string, heading: string): string {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`${file} has no "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const rest = text.slice(start + heading.length + 2);
  const next = new RegExp(`^#{1,${level}} `, 'm').exec(rest);
  return rest.slice(0, next?.index ?? rest.length);
}

/** Every fenced block of `markdown`, in order; an indented fence (inside a list item) is dedented. */
export function codeBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^( *)```(\w+)\n([\s\S]*?)^\1```$/gm)].map((m) => {
    const indent = m[1] ?? '';
    const body = (m[3] ?? '')
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
    return { lang: m[2] ?? '', body };
  });
}

/** The block after `block` in `blocks` (its printed output), which must be a `text` block. */
export function outputAfter(blocks: readonly CodeBlock[], block: CodeBlock): string {
  const next = blocks[blocks.indexOf(block) + 1];
  if (next?.lang !== 'text') throw new Error(`no text block follows:\n${block.body}`);
  return next.body;
}

/** The one block of `lang` whose body matches `pattern`. */
export function blockWith(blocks: readonly CodeBlock[], lang: string, pattern: RegExp): CodeBlock {
  const found = blocks.filter((b) => b.lang === lang && pattern.test(b.body));
  if (found.length !== 1)
    throw new Error(`expected one ${lang} block matching ${String(pattern)}, found ${found.length}`);
  return found[0]!;
}
