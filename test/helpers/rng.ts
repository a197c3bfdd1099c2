/** The simulator's seeded generator, so generated test documents are the same on every run. */
export { seeded as rng } from '../../src/sim/rng.js';
