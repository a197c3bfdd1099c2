/**
 * Mounts the dashboard on the terminal for `mdmtap start`, `demo` and `view`. Ctrl-C is handled like `q`, so the
 * caller's onQuit (flush the capture, close listeners) always runs.
 */
import React from 'react';
import { render } from 'ink';
import { App } from './app.js';
import type { DashboardStore } from './state/dashboard-store.js';

export interface RunningDashboard {
  waitUntilExit(): Promise<void>;
  unmount(): void;
}

export function runDashboard(opts: { store: DashboardStore; onQuit: () => void }): RunningDashboard {
  let instance: ReturnType<typeof render> | undefined;
  const quit = () => {
    instance?.unmount();
    opts.onQuit();
  };
  instance = render(<App store={opts.store} onQuit={quit} />, { exitOnCtrlC: false, patchConsole: true });
  return {
    waitUntilExit: () => instance!.waitUntilExit().then(() => undefined),
    unmount: () => instance?.unmount(),
  };
}
