/**
 * Declarative Device Management on the wire. DDM rides on check-in: `MessageType=DeclarativeManagement` with an
 * `Endpoint` (`tokens`, `declaration-items`, `declaration/<type>/<identifier>`, `status`) and, for `status`, a
 * base64 JSON `Data`; the server answers with JSON or 404. The `DeclarativeManagement` command carries the
 * server's sync tokens the same way. Apple's schemas: declarative/protocol/*.yaml, declarative/status/*.yaml.
 *
 * Everything here reads copies beside forwarding and gives up rather than guess: JSON over MAX_DDM_JSON is not
 * parsed, and a body that is not the JSON it should be is reported as `malformed`, never thrown.
 */
import type { DdmCheckin, DeclarationKind, DeclarationStatus } from '../model/message.js';

/** Largest JSON read (a full status report with every client capability is tens of KB). */
export const MAX_DDM_JSON = 1024 * 1024;
/** Declarations kept from one report or item list: a real device has dozens. */
const MAX_DECLARATIONS = 2000;
const MAX_REASONS = 16;
const MAX_TEXT = 512;

const KINDS: ReadonlyArray<[string, DeclarationKind]> = [
  ['activations', 'activation'],
  ['configurations', 'configuration'],
  ['assets', 'asset'],
  ['management', 'management'],
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonResult = { ok: true; value: Json } | { ok: false; reason: string };

function isObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined);

export function parseJson(bytes: Uint8Array): JsonResult {
  if (bytes.length > MAX_DDM_JSON) return { ok: false, reason: `JSON of ${bytes.length} bytes is over the ${MAX_DDM_JSON}-byte limit (not decoded)` };
  try {
    return { ok: true, value: JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Json };
  } catch (e) {
    // A SyntaxError, or a RangeError from nesting deep enough to exhaust the stack. V8's message quotes the input
    // around the error, which may be a secret: only where it failed is kept.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    return { ok: false, reason: e instanceof RangeError ? 'not JSON: nested too deep' : `not JSON${at ? ` (at byte ${at})` : ''}` };
  }
}

/** The kind of a DDM endpoint, and the declaration it names. */
export function endpointOf(endpoint: string): Pick<DdmCheckin, 'kind' | 'declaration'> {
  if (endpoint === 'tokens' || endpoint === 'declaration-items' || endpoint === 'status') return { kind: endpoint };
  const m = /^declaration\/([^/]+)\/(.+)$/.exec(endpoint);
  if (m) return { kind: 'declaration', declaration: { type: m[1].slice(0, MAX_TEXT), identifier: m[2].slice(0, MAX_TEXT) } };
  return { kind: 'other' };
}

export interface DdmResponse {
  status: number;
  body: Uint8Array;
  /** Cut at --max-body: not decoded. */
  truncated: boolean;
  /** No response at all. */
  failed: boolean;
}

/**
 * A DDM check-in: the endpoint, the request's JSON (status reports) and the server's answer. `data` is the
 * request's decoded `Data`, or the reason it could not be read.
 */
export function decodeDdmCheckin(endpoint: string, data: Uint8Array | { problem: string } | undefined, res: DdmResponse): DdmCheckin {
  const out: DdmCheckin = { endpoint: endpoint.slice(0, MAX_TEXT), ...endpointOf(endpoint) };
  if (data && 'problem' in data) {
    if (out.kind === 'status') out.malformed = { side: 'request', reason: data.problem };
  }
  else if (data && out.kind === 'status') {
    const j = parseJson(data);
    if (!j.ok) out.malformed = { side: 'request', reason: j.reason };
    else {
      const status = statusReportOf(j.value);
      if (status) out.status = status;
      else out.malformed = { side: 'request', reason: 'status report has no StatusItems' };
    }
  }
  if (res.failed) return out;
  if (res.status === 404) {
    out.notFound = true;
    return out;
  }
  if (res.status !== 200 || res.truncated || (out.kind !== 'tokens' && out.kind !== 'declaration-items')) return out;
  const j = parseJson(res.body);
  if (!j.ok) {
    out.malformed ??= { side: 'response', reason: j.reason };
    return out;
  }
  if (out.kind === 'tokens') {
    const token = isObject(j.value) && isObject(j.value.SyncTokens) ? text(j.value.SyncTokens.DeclarationsToken) : undefined;
    if (token !== undefined) out.declarationsToken = token;
    else out.malformed ??= { side: 'response', reason: 'tokens response has no SyncTokens.DeclarationsToken' };
  } else {
    const v = j.value;
    if (!isObject(v) || !isObject(v.Declarations)) {
      out.malformed ??= { side: 'response', reason: 'declaration-items response has no Declarations' };
      return out;
    }
    const token = text(v.DeclarationsToken);
    if (token !== undefined) out.declarationsToken = token;
    const items: NonNullable<DdmCheckin['items']> = [];
    for (const [plural, kind] of KINDS) {
      const list = v.Declarations[plural[0].toUpperCase() + plural.slice(1)];
      if (!Array.isArray(list)) continue;
      for (const it of list) {
        if (items.length >= MAX_DECLARATIONS) break;
        const identifier = isObject(it) ? text(it.Identifier) : undefined;
        if (identifier !== undefined) items.push({ kind, identifier, serverToken: (isObject(it) && text(it.ServerToken)) || '' });
      }
    }
    out.items = items;
  }
  return out;
}

/** A status report's declarations (StatusItems.management.declarations), whether DDM's capabilities came with it. */
export function statusReportOf(v: Json): DdmCheckin['status'] | undefined {
  if (!isObject(v) || !isObject(v.StatusItems)) return undefined;
  const management = isObject(v.StatusItems.management) ? v.StatusItems.management : undefined;
  const declarations: DeclarationStatus[] = [];
  const lists = management && isObject(management.declarations) ? management.declarations : undefined;
  if (lists) {
    for (const [plural, kind] of KINDS) {
      const list = lists[plural];
      if (!Array.isArray(list)) continue;
      for (const d of list) {
        if (declarations.length >= MAX_DECLARATIONS) break;
        if (!isObject(d) || typeof d.identifier !== 'string') continue;
        const s: DeclarationStatus = { kind, identifier: d.identifier.slice(0, MAX_TEXT) };
        const token = text(d['server-token']);
        if (token !== undefined) s.serverToken = token;
        if (typeof d.active === 'boolean') s.active = d.active;
        const valid = text(d.valid);
        if (valid !== undefined) s.valid = valid;
        if (Array.isArray(d.reasons)) {
          const reasons = d.reasons
            .filter(isObject)
            .slice(0, MAX_REASONS)
            .map((r) => ({ code: text(r.code) ?? '', ...(text(r.description) !== undefined ? { description: text(r.description)! } : {}) }));
          if (reasons.length) s.reasons = reasons;
        }
        declarations.push(s);
      }
    }
  }
  return {
    full: v.FullReport === true,
    clientCapabilities: !!management && isObject(management['client-capabilities']),
    declarations,
    errors: Array.isArray(v.Errors) ? v.Errors.length : 0,
  };
}

/** A `DeclarativeManagement` command's `Data`: the `SyncTokens.DeclarationsToken` it tells the device to reach. */
export function commandDeclarationsToken(data: Uint8Array): string | undefined {
  const j = parseJson(data);
  return j.ok && isObject(j.value) && isObject(j.value.SyncTokens) ? text(j.value.SyncTokens.DeclarationsToken) : undefined;
}
