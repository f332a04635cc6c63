/**
 * Exit codes follow sysexits(3) so that cron wrappers and monitoring can tell
 * "fix the configuration" from "try again later" without parsing messages.
 */
export const ExitCode = {
  ok: 0,
  /** An unexpected failure: a bug. The stack is printed. */
  internal: 1,
  /** Wrong command-line arguments. Fix the crontab line. */
  usage: 64,
  /** The safety valve refused to write an implausible number of new blocks. */
  safetyValve: 65,
  /** The access log is missing or unreadable. Usually transient (rotation); retry. */
  input: 66,
  /** Blind: the log cannot be read with the format in force, or it is stale. Nothing was decided; fix the format or the logging. */
  blind: 69,
  /** The map, the change log or a temporary file could not be written. */
  output: 74,
  /** Retry later: another run holds the lock (nothing was done), or a failed reload is still pending. */
  locked: 75,
  /** The settings file is invalid. Fix it; nothing was written. */
  config: 78,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is meant for the operator, with the exit code that says what to do about it. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExitError';
  }
}

export class ConfigError extends ExitError {
  /** One line per problem, all of them, each naming file, line and key. */
  constructor(readonly problems: string[]) {
    super(problems.join('\n'), ExitCode.config);
    this.name = 'ConfigError';
  }
}

export class InputError extends ExitError {
  constructor(message: string) {
    super(message, ExitCode.input);
    this.name = 'InputError';
  }
}

export class OutputError extends ExitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.output, options);
    this.name = 'OutputError';
  }
}

export class UsageError extends ExitError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** Describes a Node system error as "path: cause" without the stack. */
export function describeSystemError(error: unknown, path: string): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const causes: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    EIO: 'input/output error',
  };
  const cause = (code && causes[code]) ?? (error instanceof Error ? error.message : String(error));
  return `${path}: ${cause}`;
}

/**
 * What went wrong after a run had written what it could: a value in the
 * run's report, not an exception, so that the metrics, the warnings and the
 * summary are still written. The CLI turns it into the exit code.
 */
export interface Problem {
  kind: ProblemKind;
  /** One line for the operator. */
  message: string;
}

/** Each kind of problem and the exit code that says what to do about it. */
export const PROBLEM_EXIT_CODES = {
  /** Nothing decided: the run cannot see. */
  blind: ExitCode.blind,
  /** New blocks withheld, everything else applied. */
  'safety-valve': ExitCode.safetyValve,
  /** The map is written, but the web server may not be using it. */
  'on-change-failed': ExitCode.output,
  /** The log shrank or was replaced while it was read: nothing decided from the partial read; retry. */
  'log-changed': ExitCode.locked,
  /** Nothing new to load, but an earlier reload has still not succeeded; every run retries it. */
  'reload-pending': ExitCode.locked,
} as const satisfies Record<string, ExitCodeValue>;

export type ProblemKind = keyof typeof PROBLEM_EXIT_CODES;
