/**
 * A progress line on stderr for interactive terminals (nothing when stderr is not a TTY, so piped
 * output and logs stay clean): a bar when the total is known, else a count and a rate.
 */
export class Progress {
  readonly #total: number | undefined;
  readonly #label: string;
  readonly #tty = process.stderr.isTTY;
  readonly #started = performance.now();
  #done = 0;
  #lastDraw = 0;

  constructor(total: number | undefined, label = 'rows') {
    this.#total = total;
    this.#label = label;
  }

  add(rows: number): void {
    this.set(this.#done + rows);
  }

  set(rows: number): void {
    this.#done = rows;
    if (!this.#tty) return;
    const now = performance.now();
    // At most ten redraws a second.
    if (now - this.#lastDraw < 100 && (this.#total === undefined || this.#done < this.#total)) return;
    this.#lastDraw = now;
    if (this.#total === undefined) {
      const perSecond = this.#done / Math.max((now - this.#started) / 1000, 0.001);
      process.stderr.write(`\r${this.#done} ${this.#label} (${Math.round(perSecond)}/s)\x1b[K`);
      return;
    }
    const width = 30;
    const filled = Math.min(width, Math.round((width * this.#done) / Math.max(this.#total, 1)));
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.#total} ${this.#label}`,
    );
  }

  done(): void {
    if (this.#tty) process.stderr.write('\r\x1b[K');
  }
}
