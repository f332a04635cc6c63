/**
 * The command line: the only module that sees argv, stdout, stderr and the
 * exit code. It registers the commands; each lives in src/commands/.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { analyseCommand, analyseOptions } from './commands/analyse.js';
import type { Output } from './commands/common.js';
import { ExitCode, ExitError, UsageError } from './errors.js';

const out: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('ipanalyse')
    .usage('$0 [options] LOGFILE [STARTDATE]\n\nAnalyse the access log and update the map of throttled (bulk), blocked and banned clients.')
    .command('$0 <logfile> [startdate]', false, analyseOptions, (args) => analyseCommand(args, out))
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
