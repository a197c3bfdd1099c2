/**
 * A mistake the user can fix (bad flag, bad file, port in use): one plain line on stderr, no stack trace, and the
 * exit status (2 for user mistakes). Thrown wherever options are read, including the sinks that own flags.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
