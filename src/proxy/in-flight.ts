/**
 * Exchanges in progress, per device connection, for a clean stop: an exchange counts from its request until it has
 * been handed to the analysis (not merely until the device got its response), so `idle()` resolving means every
 * exchange a device received is in the capture's hands.
 *
 * It also keeps a connection to one exchange at a time. Node hands over pipelined requests at once, and each would
 * take an upstream socket of its own: one connection sending hundreds without waiting held that many sockets
 * (past its own close) and starved every other device. Requests that arrive while one is in progress wait here
 * in order, a bounded number of them.
 */
export class InFlight {
  private total = 0;
  private readonly perConnection = new Map<object, number>();
  private readonly queued = new Map<object, Array<() => void>>();
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
    if (n <= 0) this.runQueued(connection);
  }

  /**
   * Runs `start` now if the connection has no exchange in progress, else once it has none; false (nothing
   * queued) when `max` requests wait already. `start` need not begin an exchange (a refusal, a closed connection).
   */
  whenFree(connection: object, start: () => void, max: number): boolean {
    if (!this.perConnection.has(connection)) {
      start();
      return true;
    }
    let q = this.queued.get(connection);
    if (!q) this.queued.set(connection, (q = []));
    if (q.length >= max) return false;
    q.push(start);
    return true;
  }

  private runQueued(connection: object): void {
    const q = this.queued.get(connection);
    while (q?.length && !this.perConnection.has(connection)) q.shift()!();
    if (q && q.length === 0) this.queued.delete(connection);
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
