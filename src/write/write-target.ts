/**
 * Where a write to a path lands. Deployments link the map, the change log
 * or the geo include into /etc/nginx; replacing the link with a file would
 * leave the web server reading the old target, so writes go to the file the
 * links lead to, and the links stay.
 */
import { type Stats, lstatSync, readlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OutputError, describeSystemError } from '../errors.js';

// The kernel's own limit on links followed in one lookup.
const MAX_LINKS = 40;

/**
 * Returns the absolute path a write to `file` must replace or append to:
 * `file` itself, or the end of its chain of symbolic links (which need not
 * exist yet). Throws OutputError for a link not to be trusted: a cron run
 * as root following a link that another user planted could be made to
 * overwrite any file, so a link is followed only when root or we own it,
 * or its owner also owns what it points to (so could write it anyway).
 */
export function resolveWriteTarget(file: string): string {
  let current = resolve(file);
  for (let links = 0; ; links++) {
    let stat: Stats;
    try {
      stat = lstatSync(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return current;
      throw new OutputError(`cannot write ${describeSystemError(error, current)}`);
    }
    if (!stat.isSymbolicLink()) return current;
    if (links === MAX_LINKS) throw new OutputError(`cannot write ${file}: more than ${MAX_LINKS} symbolic links in a row`);
    const next = resolve(dirname(current), readlinkSync(current));
    if (stat.uid !== 0 && stat.uid !== process.geteuid?.() && ownerOf(next) !== stat.uid) {
      throw new OutputError(
        `not following the symbolic link ${current}: it belongs to uid ${stat.uid}, and ${next} does not; if it is meant, give the link to root (chown -h root)`,
      );
    }
    current = next;
  }
}

/** The owner of `file`, or of the directory it would be created in. */
function ownerOf(file: string): number | undefined {
  for (const candidate of [file, dirname(file)]) {
    try {
      return lstatSync(candidate).uid;
    } catch {
      // Missing: the directory decides.
    }
  }
  return undefined;
}
