// Bundled in place of `assert` (see the build's --alias): yargs asserts how a program declares its commands as it
// runs, and one of its assertions fails on every run, which it catches: no package.json above the working directory
// (it looks for one to guess a version; ours is given). Node's assert module, loaded, and building that failure's
// message from both values, took 2 ms of a cron run. The test is Node's own (Object.is); a failure throws an Error
// whose message is the one given, or says what Node's would.
export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) throw new Error(message ?? `Expected values to be strictly equal: ${String(actual)} !== ${String(expected)}`);
}

export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) throw new Error(message ?? `Expected "actual" to be strictly unequal to: ${String(expected)}`);
}
