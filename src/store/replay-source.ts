/** SQLite captures for `mdmtap analyze`: read back by the capture store (issue 4 brings the reader). */
import { CaptureFormatError } from '../capture/har.js';
import type { LoadedCapture } from '../capture/load.js';

export async function readCaptureForAnalysis(file: string): Promise<LoadedCapture> {
  throw new CaptureFormatError(`${file} is an SQLite file; reading mdmtap SQLite captures is not available yet`);
}
