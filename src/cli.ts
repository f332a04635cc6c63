/**
 * The command line: the only module that sees argv, stdout, stderr and the
 * exit code. It registers the commands (each lives in src/commands/) and
 * turns how a command ended, a thrown ExitError or the problems it returned,
 * into the exit code.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { analyseCommand, analyseOptions } from './commands/analyse.js';
import { checkConfigCommand, checkConfigOptions } from './commands/check-config.js';
import { checkLogCommand, checkLogOptions } from './commands/check-log.js';
import { type Output, VERSION } from './commands/common.js';
import { explainCommand, explainOptions } from './commands/explain.js';
import { reportCommand, reportOptions } from './commands/report.js';
import { simulateCommand, simulateOptions } from './commands/simulate.js';
import { statusCommand, statusOptions } from './commands/status.js';
import { ExitCode, ExitError, PROBLEM_EXIT_CODES, type Problem, UsageError } from './errors.js';

/**
 * A reader that went away (`ipanalyse --verbose LOG | head -1`) is no failure
 * of the run: further output is dropped, and the exit code stays the run's.
 */
function quietOnBrokenPipe(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed = true;
  });
  return (text) => {
    if (!closed) stream.write(text);
  };
}

const out: Output = {
  stdout: quietOnBrokenPipe(process.stdout),
  stderr: quietOnBrokenPipe(process.stderr),
  stderrIsTerminal: process.stderr.isTTY === true,
};

async function main(argv: string[]): Promise<Problem[]> {
  let problems: Problem[] = [];
  /** A yargs handler that runs the command and keeps the problems it ended with, for the exit code. */
  const run =
    <A>(command: (args: A, output: Output) => Promise<Problem[]>) =>
    async (args: A) => {
      problems = await command(args, out);
    };
  await yargs(argv)
    .scriptName('ipanalyse')
    .usage('$0 [options] LOGFILE... [STARTDATE]\n\nAnalyse the access logs (one per server) and update the map of throttled (bulk), blocked and banned clients.')
    .command('$0 [logfile..]', false, analyseOptions, run(analyseCommand))
    .command('explain <ip> [logfile..]', 'what a run would decide for one address, and why (writes nothing)', explainOptions, run(explainCommand))
    .command('status', 'the current map, its age and the last change-log lines', statusOptions, run(statusCommand))
    .command('report', 'a digest of the change log over a period (--since, default 1 day), for a daily mail', reportOptions, run(reportCommand))
    .command('simulate <logfile>', "cron's job at every step of a past period (--from, --to, --every): what it would have decided; writes nothing", simulateOptions, run(simulateCommand))
    .command('check-log <logfile>', 'which format reads a log, what it cannot read, how old its newest line is', checkLogOptions, run(checkLogCommand))
    .command('check-config', 'validate the settings and show every effective value and where it came from', checkConfigOptions, run(checkConfigCommand))
    .strict()
    .version(VERSION)
    .help()
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .parseAsync();
  return problems;
}

main(hideBin(process.argv)).then(
  (problems) => {
    for (const problem of problems) out.stderr(`ipanalyse: ${problem.message}\n`);
    // The most urgent problem comes first and says what to do.
    process.exitCode = problems.length > 0 ? PROBLEM_EXIT_CODES[problems[0].kind] : ExitCode.ok;
  },
  (error: unknown) => {
    if (error instanceof ExitError) {
      for (const line of error.message.split('\n')) out.stderr(`ipanalyse: ${line}\n`);
      process.exitCode = error.exitCode;
    } else {
      out.stderr(`ipanalyse: internal error (a bug, please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = ExitCode.internal;
    }
  },
);
