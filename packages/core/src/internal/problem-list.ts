import type { Problem } from '../errors.js';

/** Collects problems up to a cap and counts the rest, so a batch of a million bad rows stays cheap. */
export class ProblemList {
  readonly listed: Problem[] = [];
  total = 0;

  constructor(
    private readonly file: string,
    private readonly maxListed: number,
  ) {}

  add(path: string, message: string): void {
    this.total++;
    if (this.listed.length < this.maxListed) this.listed.push({ file: this.file, path, message });
  }

  /** The listed problems, plus one that says how many were left out. */
  details(): Problem[] {
    const unlisted = this.total - this.listed.length;
    if (unlisted === 0) return this.listed;
    return [...this.listed, { file: this.file, path: 'batch', message: `and ${unlisted} more problems not listed` }];
  }
}
