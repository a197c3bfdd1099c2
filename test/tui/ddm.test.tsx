/**
 * DDM in the dashboard, fed by the real pipeline: a device's timeline interleaves its DDM syncs and status reports
 * with its command sessions, and shows its declarations — the invalid ones first, with the device's reasons.
 */
import { afterEach, describe, expect, it } from 'vitest';
import React from 'react';
import { render, cleanup } from 'ink-testing-library';
import { App } from '../../tui/app.js';
import { dashboardRig, KEY, press, until } from '../helpers/dashboard-rig.js';
import { checkin, commandBody, idle, status } from '../helpers/mdm-bodies.js';
import { fixture } from '../helpers/fixtures.js';

afterEach(() => cleanup());

const ddm = (endpoint: string, data?: Buffer) => checkin('DeclarativeManagement', { Endpoint: endpoint, ...(data ? { Data: data } : {}) });

describe('DDM in the dashboard', () => {
  it('the timeline shows the syncs and the report among the sessions, and the declarations with why one is invalid', async () => {
    const r = dashboardRig();
    const syncData = Buffer.from(JSON.stringify({ SyncTokens: { DeclarationsToken: 'tok-7', Timestamp: '2026-11-25T10:00:00Z' } }));
    r.feed(
      r.ex(idle(), commandBody('DM-1', 'DeclarativeManagement', { Data: syncData })),
      r.ex(status('Acknowledged', 'DM-1'), Buffer.alloc(0)),
      r.ex(ddm('tokens'), Buffer.from(JSON.stringify({ SyncTokens: { DeclarationsToken: 'tok-7', Timestamp: '2026-11-25T10:00:00Z' } }))),
      r.ex(ddm('declaration-items'), Buffer.from(JSON.stringify({ Declarations: { Activations: [], Configurations: [{ Identifier: 'c1', ServerToken: 's1' }], Assets: [], Management: [] }, DeclarationsToken: 'tok-7' }))),
      r.ex(ddm('status', fixture('kmfddm/status.invalid-configurations.json')), Buffer.alloc(0)),
    );
    const ui = render(<App store={r.store} onQuit={() => {}} columns={140} rows={40} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('ddm-declaration-invalid'), 'the DDM warning');
    await press(ui, KEY.enter);
    const f = await until(ui.lastFrame, (x) => x.includes('DDM status report'), 'the timeline');
    const lines = f.split('\n');
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    // In order, among the session's exchanges.
    expect(at('DDM: DeclarativeManagement command sent (token tok-7)')).toBeGreaterThan(-1);
    expect(at('DDM sync: tokens (token tok-7)')).toBeGreaterThan(at('DDM: DeclarativeManagement command sent'));
    expect(at('DDM sync: declaration items: 1 offered')).toBeGreaterThan(at('DDM sync: tokens'));
    expect(at('DDM status report: 5 declarations, 2 invalid')).toBeGreaterThan(at('DDM sync: declaration items'));
    // The declarations, above the timeline: DDM's state, then the two invalid ones first, with the device's reason.
    expect(f).toMatch(/DDM on · server token tok-7 · synced · last report /);
    const decl = lines.filter((l) => /^\s+(activation|configuration|asset|management) /.test(l));
    expect(decl[0]).toMatch(/configuration 0FCD2F56-D5BC-48EA-B98D-E0CCC0C6F9E0 · active · invalid · Error\.ConfigurationCannotBeApplied \(Configuration cannot be/);
    expect(decl[1]).toMatch(/configuration 4D6F8451-C089-4E65-A615-7C6EFF154F72 · active · invalid/);
    expect(decl.slice(2).every((l) => / · valid/.test(l))).toBe(true);
  });
});
