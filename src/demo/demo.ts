/**
 * `mdmtap demo`: the real proxy between reference MDM servers and a simulated fleet, all on loopback. By default
 * four servers run side by side, one per NotNow behaviour, so within seconds the dashboard shows sessions that end
 * on NotNow correctly, stranded ones raising notnow-no-push, and ones a push rescues.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, type RunningProxy } from '../proxy/proxy.js';
import { LivePipeline } from '../live/pipeline.js';
import { startReferenceServer, type ReferenceServer } from '../sim/server.js';
import { startSimApns, type SimApns } from '../sim/apns.js';
import { startFleet, type Fleet } from '../sim/fleet.js';
import type { SimDdm } from '../sim/device.js';
import { POLICIES, type PolicyName } from '../sim/policy.js';

export interface DemoOptions {
  devices: number;
  /** One behaviour for every server, or all four side by side. */
  policy: PolicyName | 'mix';
  pushGraceMs: number;
  port?: number;
  seed?: number;
  /** Extra setup before traffic starts (sinks). */
  onPipeline?(p: LivePipeline): void | Promise<void>;
}

export interface RunningDemo {
  pipeline: LivePipeline;
  proxy: RunningProxy;
  servers: ReferenceServer[];
  apns: SimApns;
  fleet: Fleet;
  listen: string;
  stop(): Promise<void>;
}

/**
 * Which simulated devices do DDM: every third one; and, placed so that a dozen devices over four servers show all
 * three, one that reports a configuration invalid (ddm-declaration-invalid) and one in Setup Assistant that refuses
 * the DeclarativeManagement command (ddm-notnow-setup) — both on the first server, whose policy ends a session on
 * NotNow, so the refusal repeats only when the device polls —, and one that acknowledges the command and never
 * syncs (ddm-sync-stalled: the third server's third device, or the fourth where there are fewer servers).
 */
function demoDdm(server: number, servers: number): (index: number) => SimDdm | undefined {
  const stall = servers >= 3 ? [2, 2] : [servers - 1, 3];
  return (index) => {
    if (server === 0 && index === 1) return { invalid: ['com.mdmtap.demo.passcode'] };
    if (server === 0 && index === 2) return { awaitingConfiguration: true };
    if (server === stall[0] && index === stall[1]) return { stall: true };
    return index % 3 === 0 ? {} : undefined;
  };
}

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const certs = mkdtempSync(join(tmpdir(), 'mdmtap-demo-ca-'));
  const servers: ReferenceServer[] = [];
  // What has been started so far, for the clean-up of a start that fails.
  const started: { apns?: Awaited<ReturnType<typeof startSimApns>>; pipeline?: LivePipeline } = {};
  try {
    const apns = (started.apns = await startSimApns());
    const policies: PolicyName[] = opts.policy === 'mix' ? [...POLICIES] : [opts.policy];
    for (const [i, policy] of policies.entries()) {
      servers.push(
        await startReferenceServer({
          policy,
          seed: (opts.seed ?? 1) + i,
          initialCommands: 3,
          pushDelayMs: 1000,
          // Each server queues a command (and pushes, as real servers do on enqueue) about every 2 s.
          autoEnqueue: { everyMs: 2000, seed: 100 + i },
        }),
      );
    }
    const pipeline = (started.pipeline = new LivePipeline({ pushGraceMs: opts.pushGraceMs, tickInterval: 250 }));
    await opts.onPipeline?.(pipeline);
    const proxy = await startProxy({
      host: '127.0.0.1',
      port: opts.port ?? 0,
      mdmHosts: servers.map((s) => `127.0.0.1:${s.port}`),
      upstreamCa: servers.map((s) => s.ca),
      certsDir: certs,
      maxBody: 16 * 1024 * 1024,
      onExchange: (ex) => pipeline.exchange(ex),
      onError: (e) => pipeline.error(e.kind, e.message),
      // mdmtap holds the push certificate and sends intercepted pushes on to the simulated APNs.
      apns: { ...apns.pushCert, upstream: apns.url, upstreamCa: [apns.ca], onPush: (p) => pipeline.push(p) },
    });
    // Servers push to Apple's host through mdmtap, as a NanoMDM with HTTPS_PROXY does: every push is seen.
    for (const s of servers) {
      s.setApns({ url: 'https://api.push.apple.com', ca: [proxy.ca.certPem], ...apns.pushCert, topic: 'com.apple.mgmt.External.mdmtap-sim', proxy: { host: '127.0.0.1', port: proxy.port } });
    }
    pipeline.start();
    // Devices are spread over the servers; each trusts mdmtap's CA and uses it as its HTTP proxy.
    const ddmOf = servers.map((_, i) => demoDdm(i, servers.length));
    const fleets: Fleet[] = servers.map((server, i) =>
      startFleet({
        count: Math.floor(opts.devices / servers.length) + (i < opts.devices % servers.length ? 1 : 0),
        serverUrl: server.url,
        transport: { ca: [proxy.ca.certPem], proxy: { host: '127.0.0.1', port: proxy.port } },
        seed: (opts.seed ?? 1) * 10 + i,
        busyProbability: 0.45,
        pollAfterNotNowMs: 3000,
        apns,
        ddm: ddmOf[i],
      }),
    );
    // The DDM devices: their server queues the DeclarativeManagement command when they enrol.
    fleets.forEach((f, i) => f.devices.forEach((d, j) => ddmOf[i](j) && servers[i].enableDdm(d.udid)));
    const fleet: Fleet = {
      devices: fleets.flatMap((f) => f.devices),
      ready: Promise.all(fleets.map((f) => f.ready)).then(() => undefined),
      stop: () => fleets.forEach((f) => f.stop()),
    };
    fleet.ready.catch((e: Error) => pipeline.error('demo', `simulated fleet: ${e.message}`));
    let stopped = false;
    return {
      pipeline,
      proxy,
      servers,
      apns,
      fleet,
      listen: `127.0.0.1:${proxy.port}`,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        fleet.stop();
        for (const s of servers) await s.close();
        await apns.close();
        await proxy.close();
        await pipeline.close();
        rmSync(certs, { recursive: true, force: true });
      },
    };
  } catch (e) {
    // A demo that cannot start (a port in use, a capture that cannot be opened) leaves nothing running behind:
    // what it started would keep the process alive, and the temporary CA would stay on disk.
    for (const s of servers) await s.close().catch(() => undefined);
    await started.apns?.close().catch(() => undefined);
    await started.pipeline?.close().catch(() => undefined);
    rmSync(certs, { recursive: true, force: true });
    throw e;
  }
}
