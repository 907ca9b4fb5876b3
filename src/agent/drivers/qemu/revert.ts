/**
 * Undo steps for a multi-step setup (Incus' revert): each step registers how to undo
 * itself; on failure they run newest first; success() keeps everything.
 */
export class Revert {
  private steps: (() => unknown)[] = [];

  add(undo: () => unknown): void {
    this.steps.push(undo);
  }

  success(): void {
    this.steps = [];
  }

  /** Runs the undo steps; their own failures are swallowed so every step gets its turn. */
  async fail(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const undo of steps) {
      try {
        await undo();
      } catch {
        // best effort: the original error is what the caller reports
      }
    }
  }
}
