// Bundled in place of `assert` (see the build's --alias): yargs asserts how a program declares its commands as it
// runs, but only a failed assertion needs Node's assert module, which took a cron run 0.75 ms
// to load. The test is Node's own (Object.is); a failure is thrown by Node's module, as it would be without this.
import { createRequire } from 'node:module';

const load = createRequire(__filename);

export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) load('node:assert').strictEqual(actual, expected, message);
}

export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) load('node:assert').notStrictEqual(actual, expected, message);
}
