import { defineConfig } from 'vitest/config';

// `npm run test:interop`: mdmtap in front of the real NanoMDM (see README, "Interoperability suite").
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    globalSetup: ['test/interop/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
