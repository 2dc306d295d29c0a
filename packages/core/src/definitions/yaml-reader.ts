/**
 * Reads typed values out of a parsed YAML document and reports shape problems (unknown keys,
 * wrong types, missing keys) with the file, the path and the line. Internal to the YAML loader.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Problem } from '../errors.js';

export class YamlReader {
  readonly problems: Problem[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Follows aliases (`*anchor`) so users may reuse blocks with anchors. */
  resolve(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }

  lineOf(node: unknown): number | undefined {
    const range = (node as Node | null)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }

  report(path: string, node: unknown, message: string): void {
    const line = this.lineOf(node);
    this.problems.push({ file: this.file, path, message: line === undefined ? message : `${message} (line ${line})` });
  }

  /** The entries of a map, reporting non-maps, unknown keys and missing required keys. */
  map(
    node: unknown,
    path: string,
    what: string,
    keys: readonly string[],
    required: readonly string[] = [],
  ): Map<string, Node | null> | undefined {
    const resolved = this.resolve(node);
    if (!isMap(resolved)) {
      this.report(path, node, `${what} must be a map of keys to values, got ${describeNode(resolved)}`);
      return undefined;
    }
    const entries = new Map<string, Node | null>();
    for (const pair of resolved.items) {
      const key = this.resolve(pair.key);
      const name = scalarText(key);
      if (name === undefined) {
        this.report(path, pair.key, `${what}: keys must be plain names`);
        continue;
      }
      if (!keys.includes(name)) {
        const guess = closest(name, keys);
        const hint = guess === undefined ? `valid keys: ${keys.join(', ')}` : `did you mean ${guess}?`;
        this.report(joinPath(path, name), pair.key, `${what}: unknown key "${name}"; ${hint}`);
        continue;
      }
      entries.set(name, this.resolve(pair.value));
    }
    for (const name of required) {
      if (!entries.has(name)) this.report(joinPath(path, name), resolved, `${what}: missing required key "${name}"`);
    }
    return entries;
  }

  /** The items of a sequence, or undefined (reported) when the node is not one. */
  seq(node: Node | null | undefined, path: string, what: string, example: string): (Node | null)[] | undefined {
    if (node === undefined || node === null) return undefined;
    if (!isSeq(node)) {
      this.report(path, node, `${what} must be a list, e.g. ${example}; got ${describeNode(node)}`);
      return undefined;
    }
    return node.items.map((item) => this.resolve(item));
  }

  string(node: Node | null | undefined, path: string, what: string): string | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.report(path, node, `${what} must be a string, got ${describeNode(node)}`);
    return undefined;
  }

  boolean(node: Node | null | undefined, path: string, what: string): boolean | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.report(path, node, `${what} must be true or false, got ${describeNode(node)}`);
    return undefined;
  }

  number(node: Node | null | undefined, path: string, what: string): number | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'bigint')) return Number(node.value);
    this.report(path, node, `${what} must be a number, got ${describeNode(node)}`);
    return undefined;
  }

  /** A scalar as-is (strings, numbers, bigints); used for allowed_values, checked later by type. */
  scalar(node: Node | null | undefined, path: string, what: string): string | number | bigint | undefined {
    if (isScalar(node)) {
      const value = node.value;
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return value;
    }
    this.report(path, node, `${what} must be a string or a number, got ${describeNode(node ?? null)}`);
    return undefined;
  }

  stringList(node: Node | null | undefined, path: string, what: string, example: string): string[] | undefined {
    const items = this.seq(node, path, what, example);
    if (items === undefined) return undefined;
    const out: string[] = [];
    items.forEach((item, i) => {
      const value = this.string(item, `${path}[${i}]`, `${what} items`);
      if (value !== undefined) out.push(value);
    });
    return out;
  }

  /** Tags: a map of names to scalars; numbers and booleans are kept as their text. */
  tags(node: Node | null | undefined, path: string, what: string): Record<string, string> | undefined {
    if (node === undefined) return undefined;
    if (!isMap(node)) {
      this.report(path, node, `${what}: tags must be a map, e.g. tags: { team: growth }; got ${describeNode(node)}`);
      return undefined;
    }
    const tags: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const pair of node.items) {
      const key = this.resolve(pair.key);
      const value = this.resolve(pair.value);
      const name = scalarText(key);
      const text = scalarText(value);
      if (name === undefined || text === undefined) {
        this.report(joinPath(path, name ?? '?'), pair.value ?? pair.key, `${what}: tag values must be text`);
        continue;
      }
      tags[name] = text;
    }
    return { ...tags };
  }
}

/** The text of a string, number, bigint or boolean scalar; undefined for anything else. */
export function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const value = node.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function describeNode(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return 'nothing';
    if (typeof value === 'string') return `text ${JSON.stringify(value)}`;
    return `${typeof value === 'boolean' ? 'boolean' : 'number'} ${scalarText(node) ?? '?'}`;
  }
  return 'an unsupported value';
}

/** The valid key closest to a misspelt one (edit distance ≤ 2), for "did you mean" hints. */
function closest(name: string, keys: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const key of keys) {
    const d = editDistance(name, key);
    if (d < bestDistance) {
      best = key;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
