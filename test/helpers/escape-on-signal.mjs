// Preloaded into a real mdmtap child (NODE_OPTIONS=--import) by test/cli/stop.test.ts: on SIGUSR2 it throws an
// exception no guard of mdmtap's can catch and leaves a promise rejected, as a bug would. The last-resort handler
// must turn both into error events while mdmtap keeps serving.
process.on('SIGUSR2', () => {
  setImmediate(() => {
    throw new Error('escaped on purpose');
  });
  void Promise.reject(new Error('rejected on purpose'));
});
