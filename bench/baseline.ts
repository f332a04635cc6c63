/**
 * The baseline as its own process, started like ipanalyse:
 *   node dist/bench/baseline.js FILE FROM TO
 * prints {"lines":…,"keys":…,"bytes":…}.
 */
import { bareCount } from './baseline-core.js';

const [file, from, to] = process.argv.slice(2);
if (!file || from === undefined || to === undefined) {
  process.stderr.write('usage: node dist/bench/baseline.js FILE FROM TO\n');
  process.exit(64);
}
process.stdout.write(`${JSON.stringify(bareCount(file, Number(from), Number(to)))}\n`);
