/**
 * The command line: the only module that sees argv, stdout, stderr and the
 * exit code. It registers the commands; each lives in src/commands/.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { analyseCommand, analyseOptions } from './commands/analyse.js';
import { checkConfigCommand, checkConfigOptions } from './commands/check-config.js';
import type { Output } from './commands/common.js';
import { explainCommand, explainOptions } from './commands/explain.js';
import { statusCommand, statusOptions } from './commands/status.js';
import { ExitCode, ExitError, UsageError } from './errors.js';

const out: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTerminal: process.stderr.isTTY === true,
};

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('ipanalyse')
    .usage('$0 [options] LOGFILE [STARTDATE]\n\nAnalyse the access log and update the map of throttled (bulk), blocked and banned clients.')
    .command('$0 <logfile> [startdate]', false, analyseOptions, (args) => analyseCommand(args, out))
    .command('explain <ip> <logfile> [startdate]', 'what a run would decide for one address, and why (writes nothing)', explainOptions, (args) => explainCommand(args, out))
    .command('status', 'the current map, its age and the last change-log lines', statusOptions, (args) => statusCommand(args, out))
    .command('check-config', 'validate the settings and show every effective value and where it came from', checkConfigOptions, (args) => checkConfigCommand(args, out))
    .strict()
    .version(false)
    .help()
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .parseAsync();
}

main(hideBin(process.argv)).then(
  () => {
    process.exitCode = ExitCode.ok;
  },
  (error: unknown) => {
    if (error instanceof ExitError) {
      for (const line of error.message.split('\n')) process.stderr.write(`ipanalyse: ${line}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`ipanalyse: internal error (a bug, please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = ExitCode.internal;
    }
  },
);
