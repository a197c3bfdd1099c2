/**
 * The reference server's DDM side: a few declarations served on the `DeclarativeManagement` check-in endpoints
 * (`tokens`, `declaration-items`, `declaration/<type>/<identifier>`; `status` reports are read and answered 200),
 * and the `Data` of the DeclarativeManagement command that tells a device to sync. Shapes follow Apple's
 * declarative/protocol schemas.
 */
import { createHash } from 'node:crypto';

export interface Declaration {
  Type: string;
  Identifier: string;
  ServerToken: string;
  Payload: Record<string, unknown>;
}

/** The kind a declaration's Type names (com.apple.configuration.… → configuration). */
export function kindOf(type: string): 'activation' | 'configuration' | 'asset' | 'management' {
  const k = type.split('.')[2];
  return k === 'activation' || k === 'asset' || k === 'management' ? k : 'configuration';
}

const token = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

function declaration(Type: string, Identifier: string, Payload: Record<string, unknown>): Declaration {
  return { Type, Identifier, ServerToken: token([Type, Identifier, Payload]), Payload };
}

export const DEMO_DECLARATIONS: readonly Declaration[] = [
  declaration('com.apple.configuration.passcode.settings', 'com.mdmtap.demo.passcode', { MinimumLength: 6, RequireAlphanumericPasscode: false }),
  declaration('com.apple.configuration.softwareupdate.enforcement.specific', 'com.mdmtap.demo.update', { TargetOSVersion: '18.2', TargetLocalDateTime: '2026-12-01T02:00:00' }),
  declaration('com.apple.management.properties', 'com.mdmtap.demo.properties', { team: 'demo' }),
  declaration('com.apple.activation.simple', 'com.mdmtap.demo.activation', { StandardConfigurations: ['com.mdmtap.demo.passcode', 'com.mdmtap.demo.update'] }),
];

/** The answer to a DDM check-in: JSON, or 404 for what the server does not have. */
export function answerDdm(endpoint: string, declarations: readonly Declaration[] = DEMO_DECLARATIONS): { status: number; body: Buffer } {
  const json = (v: unknown) => ({ status: 200, body: Buffer.from(JSON.stringify(v)) });
  const declarationsToken = token(declarations.map((d) => d.ServerToken));
  if (endpoint === 'tokens') return json({ SyncTokens: { DeclarationsToken: declarationsToken, Timestamp: '2026-11-28T00:00:00Z' } });
  if (endpoint === 'declaration-items') {
    const of = (kind: string) => declarations.filter((d) => kindOf(d.Type) === kind).map((d) => ({ Identifier: d.Identifier, ServerToken: d.ServerToken }));
    return json({
      Declarations: { Activations: of('activation'), Configurations: of('configuration'), Assets: of('asset'), Management: of('management') },
      DeclarationsToken: declarationsToken,
    });
  }
  if (endpoint === 'status') return { status: 200, body: Buffer.alloc(0) };
  const m = /^declaration\/([^/]+)\/(.+)$/.exec(endpoint);
  const d = m ? declarations.find((x) => x.Identifier === m[2] && kindOf(x.Type) === m[1]) : undefined;
  return d ? json(d) : { status: 404, body: Buffer.alloc(0) };
}

/** The DeclarativeManagement command's `Data`: the sync tokens the device is to reach. */
export function syncTokensData(declarations: readonly Declaration[] = DEMO_DECLARATIONS): Buffer {
  return Buffer.from(JSON.stringify({ SyncTokens: { DeclarationsToken: token(declarations.map((d) => d.ServerToken)), Timestamp: '2026-11-28T00:00:00Z' } }));
}
