/**
 * One budget for every analysis copy in flight. Each body is copied up to `--max-body` beside forwarding (see
 * body-tap.ts) and held until its exchange is handed to the analysis; a thousand stalled uploads would otherwise
 * hold a thousand such copies. Past the budget, bodies are still forwarded byte for byte but no longer copied (the
 * exchange is flagged truncated), and one `error` event (`copy-budget`) says so per incident.
 */
import { Incident } from './incident.js';

export class CopyBudget {
  private held = 0;
  private readonly incident: Incident;

  constructor(
    readonly limit: number,
    onIncident: (message: string) => void,
  ) {
    this.incident = new Incident(() =>
      onIncident(`analysis copies in flight reached --body-budget (${limit} bytes): bodies are forwarded but not copied (exchanges flagged truncated) until copies are released`),
    );
  }

  /** Takes `n` bytes from the budget, or nothing (false) when they do not fit. */
  take(n: number): boolean {
    if (this.held + n > this.limit) {
      this.incident.occur();
      return false;
    }
    this.held += n;
    return true;
  }

  release(n: number): void {
    this.held -= n;
    // Hysteresis: the incident ends once half the budget is free again.
    if (this.incident.ongoing && this.held <= this.limit / 2) this.incident.end();
  }

  get inFlight(): number {
    return this.held;
  }
}
