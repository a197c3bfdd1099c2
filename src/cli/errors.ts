import { UserError } from '../util/user-error.js';

export { UserError };

export function reportAndExit(e: unknown): void {
  if (e instanceof UserError) {
    process.stderr.write(`mdmtap: ${e.message}\n`);
    process.exitCode = e.exitCode;
    return;
  }
  // A bug, not a user mistake: keep the detail, but still as a readable message.
  const err = e as Error;
  process.stderr.write(`mdmtap: internal error: ${err?.message ?? String(e)}\n`);
  if (process.env.MDMTAP_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  process.exitCode = 70;
}
