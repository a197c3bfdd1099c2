/** A capture file mdmtap cannot read: said in one line to the user (exit 2). */
export class CaptureFormatError extends Error {}
