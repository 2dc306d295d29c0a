/** Cleanup steps, run newest first whatever happened. */
export class Cleanup {
  readonly #steps: (() => Promise<void> | void)[] = [];
  add(step: () => Promise<void> | void): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error(`bench: cleanup failed: ${String(error)}`);
      }
    }
  }
}
