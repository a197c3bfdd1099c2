/**
 * Loads the dashboard on demand, so headless runs never pay for React and Ink.
 *
 * React is loaded in its production build unless NODE_ENV says otherwise: the development build records a
 * performance measure per component render and checks every prop, which measured 6× the CPU of the production
 * build at 1,000 exchanges/s (BENCHMARKS.md).
 *
 * Ink switches to "CI mode" (no frames until exit) whenever CI or CONTINUOUS_INTEGRATION is set, and it reads them
 * once, when it is first imported. mdmtap only gets here when stdout is a terminal a person is looking at, so a CI
 * variable left in a shell (or set by a job that runs mdmtap inside tmux) must not blank the dashboard: they are
 * cleared for this process before Ink loads.
 */
export async function loadDashboard() {
  process.env.NODE_ENV ??= 'production';
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const [{ DashboardStore }, { dashboardSink }, { runDashboard }] = await Promise.all([
    import('./state/dashboard-store.js'),
    import('./sink.js'),
    import('./run.js'),
  ]);
  return { DashboardStore, dashboardSink, runDashboard };
}
