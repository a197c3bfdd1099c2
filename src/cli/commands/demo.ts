/** `mdmtap demo`: the proxy between built-in reference MDM servers and a simulated fleet, no Apple device needed. */
import type { Command } from 'commander';
import { startDemo } from '../../demo/demo.js';
import { isPolicy, POLICIES, type PolicyName } from '../../sim/policy.js';
import { durationFlag, portOption } from '../options.js';
import { UserError } from '../errors.js';
import { present } from '../present.js';
import { formatDuration } from '../../util/duration.js';
import { openSinkModules } from '../../sinks/index.js';
import { captureSink } from '../../sinks/capture.js';
import { installLastResort } from '../last-resort.js';
import { keepRunningWhenStdoutCloses } from '../stdout.js';

interface DemoCliOptions {
  devices: string;
  policy: string;
  pushGrace: number;
  port: number;
  json?: boolean;
  db?: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run mdmtap between built-in reference MDM servers and a simulated fleet on loopback, dashboard on')
    .option('--devices <n>', 'simulated devices', '25')
    .option('--policy <name>', `server behaviour after NotNow: ${POLICIES.join(', ')}, or mix (one server each)`, 'mix')
    .addOption(durationFlag('--push-grace <duration>', 'push grace (short, so the demo shows verdicts quickly)', 5000))
    .option('--port <port>', 'proxy port (0 = any free port)', portOption, 0)
    .option('--db <file>', 'also capture to this SQLite file')
    .option('--json', 'print events as JSON lines instead of the dashboard')
    .action(async (opts: DemoCliOptions) => {
      const devices = Number(opts.devices);
      if (!Number.isInteger(devices) || devices < 1 || devices > 10_000) throw new UserError(`--devices: "${opts.devices}" is not a number from 1 to 10000`);
      if (opts.policy !== 'mix' && !isPolicy(opts.policy)) throw new UserError(`--policy: "${opts.policy}" is not one of ${POLICIES.join(', ')}, mix`);
      const json = opts.json === true || !process.stdout.isTTY;
      if (json) keepRunningWhenStdoutCloses();
      let presenter: Awaited<ReturnType<typeof present>> | undefined;
      let demo;
      try {
        demo = await startDemo({
          devices,
          policy: opts.policy as PolicyName | 'mix',
          pushGraceMs: opts.pushGrace,
          port: opts.port,
          onPipeline: async (pipeline) => {
            presenter = await present(pipeline, {
              json,
              info: { mode: `demo (${opts.policy === 'mix' ? POLICIES.join(' / ') : opts.policy}, ${devices} simulated devices)`, pushGraceMs: opts.pushGrace, pushObservable: true, ...(opts.db ? { captureFile: opts.db } : {}) },
            });
            if (opts.db) {
              const run = { analyzer: pipeline.analyzer, onError: (kind: string, message: string) => pipeline.error(kind, message), recordedOptions: { demo: true, devices, policy: opts.policy, pushGrace: opts.pushGrace } };
              // The pipeline owns the sink from here: demo.stop() closes it with the pipeline.
              await openSinkModules([captureSink], { db: opts.db, bodies: true, keepSecrets: false }, run, (sink) => pipeline.addSink(sink));
            }
          },
        });
      } catch (e) {
        presenter?.close();
        // What stops a start is the user's to fix (a port in use, a --db that cannot be opened): one line, exit 2.
        const why = (e as Error).message.replace(/ \(--no-db runs without a capture\)$/, '');
        throw new UserError(`the demo could not start: ${why}`);
      }
      presenter!.setInfo({ listen: demo.listen, caFingerprint: demo.proxy.caFingerprint });
      installLastResort((kind, message) => demo.pipeline.error(kind, message));
      // Signal handlers first: whoever reads the line below may stop the demo at once.
      const stopped = new Promise<void>((done) => {
        const stop = () => done();
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        void presenter!.quit.then(stop);
      });
      if (json) process.stderr.write(`mdmtap demo on ${demo.listen}: ${devices} simulated devices, push grace ${formatDuration(opts.pushGrace)}; Ctrl-C to stop\n`);
      await stopped;
      presenter!.close();
      await demo.stop();
      // Simulated devices may still have sockets winding down: the demo is over, leave now.
      process.exit(0);
    });
}
