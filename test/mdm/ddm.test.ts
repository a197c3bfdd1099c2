/**
 * DDM on the wire: every protocol object built from Apple's own schemas (schemas/apple-device-management) and the
 * real status reports of test/fixtures/kmfddm, through classify() as the proxy sees them: a DeclarativeManagement
 * check-in (plist, base64 JSON `Data`) and the server's JSON answer, and the DeclarativeManagement command.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { classify } from '../../src/mdm/classify.js';
import type { CheckinMessage, CommandMessage } from '../../src/model/message.js';
import type { Exchange } from '../../src/model/exchange.js';
import { fixture } from '../helpers/fixtures.js';
import { checkin, commandBody, status } from '../helpers/mdm-bodies.js';

const SCHEMAS = fileURLToPath(new URL('../../schemas/apple-device-management/', import.meta.url));

interface SchemaKey {
  key: string;
  type: string;
  presence?: string;
  rangelist?: unknown[];
  subkeys?: SchemaKey[];
}

/**
 * A value with every key the schema names (optional ones too), each filled with a distinct value of its type; an
 * array holds `n` elements of its element template (`_Name`). Keys named ANY (free-form) are left out.
 */
function sample(keys: SchemaKey[], n = 2, seed = { i: 0 }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k.key !== 'ANY') out[k.key] = valueOf(k, n, seed);
  return out;
}
function valueOf(k: SchemaKey, n: number, seed: { i: number }): unknown {
  const i = ++seed.i;
  switch (k.type) {
    case '<string>':
      return k.rangelist ? k.rangelist[i % k.rangelist.length] : `${k.key}-${i}`;
    case '<boolean>':
      return i % 2 === 0;
    case '<integer>':
      return i;
    case '<array>':
      return Array.from({ length: n }, () => (k.subkeys?.[0] ? valueOf(k.subkeys[0], n, seed) : `item-${++seed.i}`));
    case '<dictionary>':
      return sample(k.subkeys ?? [], n, seed);
    default:
      return `${k.key}-${i}`;
  }
}
const schema = (rel: string) => parse(readFileSync(SCHEMAS + rel, 'utf8')) as { payloadkeys: SchemaKey[] };

function exchange(requestBody: Buffer, responseBody: Buffer | string = '', over: Partial<Exchange> = {}): Exchange {
  return {
    id: 'x1', connectionId: 'c1', startedAt: 1000, endedAt: 1010, host: 'mdm.example.com', method: 'PUT', path: '/checkin',
    requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin' }, requestBody, requestTruncated: false,
    status: 200, responseHeaders: {}, responseBody: Buffer.from(responseBody), responseTruncated: false, ...over,
  };
}
const ddmCheckin = (endpoint: string, data?: unknown) =>
  checkin('DeclarativeManagement', { Endpoint: endpoint, ...(data === undefined ? {} : { Data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)) }) });
const ddmOf = (ex: Exchange) => {
  const m = classify(ex, { assumeMdm: true }) as CheckinMessage;
  expect(m.endpoint).toBe('checkin');
  expect(m.messageType).toBe('DeclarativeManagement');
  return m.ddm!;
};

describe('DDM objects built from Apple\'s schemas', () => {
  it('the check-in request has the keys the decoder reads', () => {
    const keys = schema('mdm/checkin/declarativemanagement.yaml').payloadkeys.map((k) => k.key);
    expect(keys).toEqual(expect.arrayContaining(['MessageType', 'Endpoint', 'Data', 'UDID', 'EnrollmentID', 'UserID', 'UserShortName']));
  });

  it('tokens: the DeclarationsToken the server offers', () => {
    const body = sample(schema('declarative/protocol/tokensresponse.yaml').payloadkeys);
    // The schema names SyncTokens (subkeytype SynchronizationTokens) without its keys; Apple's documentation of
    // SynchronizationTokens gives them: DeclarationsToken and Timestamp.
    expect(body.SyncTokens).toEqual({});
    const token = 'c1b8f1a0-token';
    body.SyncTokens = { DeclarationsToken: token, Timestamp: '2026-11-28T00:00:00Z' };
    expect(ddmOf(exchange(ddmCheckin('tokens'), JSON.stringify(body)))).toEqual({ endpoint: 'tokens', kind: 'tokens', declarationsToken: token });
  });

  it('declaration-items: every declaration of every kind, with its server token', () => {
    const body = sample(schema('declarative/protocol/declarationitemsresponse.yaml').payloadkeys, 3);
    const d = ddmOf(exchange(ddmCheckin('declaration-items'), JSON.stringify(body)));
    expect(d.declarationsToken).toBe(body.DeclarationsToken);
    const lists = body.Declarations as Record<string, Array<{ Identifier: string; ServerToken: string }>>;
    const expected = (['Activations', 'Configurations', 'Assets', 'Management'] as const).flatMap((plural) =>
      lists[plural].map((it) => ({ kind: plural === 'Management' ? 'management' : plural.slice(0, -1).toLowerCase(), identifier: it.Identifier, serverToken: it.ServerToken })),
    );
    expect(expected).toHaveLength(12);
    expect(d.items).toEqual(expected);
  });

  it('status: each declaration\'s active, valid and reasons, the report\'s errors and FullReport', () => {
    const report = sample(schema('declarative/protocol/statusreport.yaml').payloadkeys, 2);
    const item = sample(schema('declarative/status/management.declarations.yaml').payloadkeys, 2)['management.declarations'] as Record<string, Array<Record<string, unknown>>>;
    report.StatusItems = { management: { declarations: item, 'client-capabilities': {} } };
    report.FullReport = true;
    const d = ddmOf(exchange(ddmCheckin('status', report)));
    expect(d.status?.full).toBe(true);
    expect(d.status?.clientCapabilities).toBe(true);
    expect(d.status?.errors).toBe(2);
    const expected = Object.entries(item).flatMap(([plural, list]) =>
      list.map((x) => ({
        kind: plural === 'management' ? 'management' : plural.slice(0, -1),
        identifier: x.identifier,
        serverToken: x['server-token'],
        active: x.active,
        valid: x.valid,
        reasons: (x.reasons as Array<{ code: string; description: string }>).map((r) => ({ code: r.code, description: r.description })),
      })),
    );
    expect(expected).toHaveLength(8);
    expect(d.status?.declarations).toEqual(expected);
  });

  it('declaration/<type>/<identifier>: the declaration it names; a 404 is said', () => {
    const ex = exchange(ddmCheckin('declaration/configuration/com.example.passcode'), JSON.stringify({ Type: 'com.apple.configuration.passcode.settings', Identifier: 'com.example.passcode', ServerToken: 't1', Payload: {} }));
    expect(ddmOf(ex)).toEqual({ endpoint: 'declaration/configuration/com.example.passcode', kind: 'declaration', declaration: { type: 'configuration', identifier: 'com.example.passcode' } });
    expect(ddmOf(exchange(ddmCheckin('declaration/asset/gone'), '', { status: 404 })).notFound).toBe(true);
  });

  it('the DeclarativeManagement command: the SyncTokens it carries in Data', () => {
    const data = Buffer.from(JSON.stringify({ SyncTokens: { DeclarationsToken: 'dt-42', Timestamp: '2026-11-28T00:00:00Z' } }));
    const m = classify(exchange(status('Acknowledged', 'prev'), commandBody('c-1', 'DeclarativeManagement', { Data: data })), { assumeMdm: true }) as CommandMessage;
    expect(m.reply).toEqual({ kind: 'command', commandUUID: 'c-1', requestType: 'DeclarativeManagement', declarationsToken: 'dt-42' });
    // Another command's Data is not read.
    const other = classify(exchange(status('Acknowledged', 'prev'), commandBody('c-2', 'InstallProfile', { Data: data })), { assumeMdm: true }) as CommandMessage;
    expect(other.reply).toEqual({ kind: 'command', commandUUID: 'c-2', requestType: 'InstallProfile' });
  });
});

describe('real status reports (kmfddm)', () => {
  const decode = (name: string) => ddmOf(exchange(ddmCheckin('status', fixture(`kmfddm/${name}`).toString('utf8'))));

  it('a first report: DDM on (client capabilities), nothing declared yet', () => {
    const d = decode('status.first.json');
    expect(d.status).toEqual({ full: false, clientCapabilities: true, declarations: [], errors: 0 });
  });

  it('invalid configurations: which, and why', () => {
    const d = decode('status.invalid-configurations.json');
    const invalid = d.status!.declarations.filter((x) => x.valid === 'invalid');
    expect(invalid.map((x) => [x.kind, x.identifier, x.reasons?.[0]?.code])).toEqual([
      ['configuration', '0FCD2F56-D5BC-48EA-B98D-E0CCC0C6F9E0', 'Error.ConfigurationCannotBeApplied'],
      ['configuration', '4D6F8451-C089-4E65-A615-7C6EFF154F72', 'Error.ConfigurationCannotBeApplied'],
    ]);
    expect(d.status!.declarations.map((x) => x.kind)).toEqual(['activation', 'configuration', 'configuration', 'configuration', 'management']);
    expect(d.status!.declarations.find((x) => x.kind === 'management')).toMatchObject({ active: false, valid: 'valid', serverToken: '456fc8c6-85e9-52e9-b93d-eed694a4f487' });
  });

  it('a configuration no activation references: unknown, with its Info reason', () => {
    const d = decode('status.not-referenced.json');
    expect(d.status!.clientCapabilities).toBe(false);
    expect(d.status!.declarations).toEqual([
      {
        kind: 'configuration', identifier: 'com.example.test', serverToken: '7c6d85989e823101', active: false, valid: 'unknown',
        reasons: [{ code: 'Info.NotReferencedByActivation', description: 'Configuration “com.example.test:7c6d85989e823101” is not referenced by an activation.' }],
      },
    ]);
  });
});

describe('DDM bodies that are not what they should be', () => {
  it('a status Data that is not JSON, or a response that is not, is flagged and the check-in still classified', () => {
    expect(ddmOf(exchange(ddmCheckin('status', '{"StatusItems": ')))).toMatchObject({ kind: 'status', malformed: { side: 'request' } });
    expect(ddmOf(exchange(ddmCheckin('tokens'), '<html>oops</html>'))).toMatchObject({ kind: 'tokens', malformed: { side: 'response', reason: expect.stringMatching(/^not JSON/) } });
    expect(ddmOf(exchange(ddmCheckin('declaration-items'), '{"Declarations": 3}'))).toMatchObject({ malformed: { side: 'response', reason: 'declaration-items response has no Declarations' } });
  });

  it('JSON nested past the stack, or over the size limit, gives up without throwing', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(ddmOf(exchange(ddmCheckin('status', deep)))).toMatchObject({ malformed: { side: 'request' } });
    const big = JSON.stringify({ StatusItems: {}, pad: 'x'.repeat(1_100_000) });
    expect(ddmOf(exchange(ddmCheckin('status', big))).malformed?.reason).toMatch(/over the 1048576-byte limit/);
  });
});
