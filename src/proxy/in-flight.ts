/**
 * Exchanges in progress, per device connection, for a clean stop: an exchange counts from its request until it has
 * been handed to the analysis (not merely until the device got its response), so `idle()` resolving means every
 * exchange a device received is in the capture's hands.
 */
export class InFlight {
  private total = 0;
  private readonly perConnection = new Map<object, number>();
  private waiters: Array<() => void> = [];

  begin(connection: object): void {
    this.total++;
    this.perConnection.set(connection, (this.perConnection.get(connection) ?? 0) + 1);
  }

  end(connection: object): void {
    this.total--;
    const n = (this.perConnection.get(connection) ?? 1) - 1;
    if (n > 0) this.perConnection.set(connection, n);
    else this.perConnection.delete(connection);
    if (this.total === 0) for (const w of this.waiters.splice(0)) w();
  }

  busy(connection: object): boolean {
    return this.perConnection.has(connection);
  }

  get count(): number {
    return this.total;
  }

  /** Resolves once nothing is in flight, or after `boundMs` (false then). */
  idle(boundMs: number): Promise<boolean> {
    if (this.total === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, boundMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}
