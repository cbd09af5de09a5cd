/** Kept for bench/ssh-proxy.ts, which imports the fake server from here; tests import test/support/fake-witness.ts. */
export { FakeWitness, type FakeWitnessOptions } from '../../support/fake-witness.ts';
