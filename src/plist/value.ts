/**
 * The JavaScript shape of a decoded property list. It matches what the `plist` package produces for XML
 * (dict → plain object, array → array, data → Buffer, date → Date, integer and real → number, true/false →
 * boolean), except that integers beyond ±2^53 decode to bigint instead of losing precision.
 */
export type PlistValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | PlistValue[]
  | PlistDict;

export interface PlistDict {
  [key: string]: PlistValue;
}

/**
 * Which keys of a dictionary to decode. `true` decodes the key's whole value; a nested Selection applies to a
 * dictionary value (and to each dictionary inside an array value). Keys not named are passed over: their structure
 * is still checked (balanced, terminated), their content is not turned into values. This is what lets mdmtap read
 * the dozen keys the analysis needs from a 1 MB InstalledApplicationList in well under a millisecond.
 */
export interface Selection {
  readonly [key: string]: true | Selection;
}

/** A decoding failure: what went wrong and where (byte offset into the input). */
export interface PlistError {
  code: 'not-plist' | 'syntax' | 'unsupported' | 'truncated' | 'limit';
  message: string;
  offset: number;
}

export type DecodeResult = { ok: true; value: PlistValue } | { ok: false; error: PlistError };

export function isDict(v: PlistValue | undefined): v is PlistDict {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array)
  );
}
