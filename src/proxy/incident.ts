/**
 * "Once per incident": a condition that can hold for thousands of connections in a row (a full copy budget, the
 * connection cap) is reported when it starts, counted while it lasts, and reported again only after it has ended.
 * The caller says when it ended, with hysteresis, so a value hovering at a limit does not flood the event stream.
 */
export class Incident {
  private active = false;
  /** Occurrences in the current (or last) incident. */
  count = 0;

  constructor(private readonly report: (count: number) => void) {}

  /** One occurrence: reported if it starts an incident. */
  occur(): void {
    this.count = this.active ? this.count + 1 : 1;
    if (this.active) return;
    this.active = true;
    this.report(1);
  }

  /** The condition is over; the next occurrence is a new incident. */
  end(): void {
    this.active = false;
  }

  get ongoing(): boolean {
    return this.active;
  }
}
