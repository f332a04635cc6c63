/**
 * Reads ip_blocks.conf from disk and turns it into Settings, or into one
 * ConfigError that lists every problem in the file.
 */
import { dirname, isAbsolute, join } from 'node:path';
import { parseListLines } from '../address/address-list.js';
import { checkReadableFile, readBoundedFile } from '../read/bounded-file.js';
import { fileLines } from '../read/file-lines.js';
import { NEWLINE } from '../read/log-line.js';
import { ConfigError, describeSystemError } from '../errors.js';
import { parsePythonAssignments, type Assignment, type PyValue } from './python-literal.js';
import { checkSettings, formatProblem } from './settings-schema.js';
import { type Layout, type LoadedSettings, defaultsWithOrigins, layoutOf } from './settings.js';

/** Where the settings are read when no file is named: as in the original, under the installation's base directory, for a checkout. */
export function defaultSettingsFile(installation: Layout | string): string {
  return layoutOf(installation).settingsFile;
}

/**
 * Loads the settings file, defaultSettingsFile(installation) unless `file` is
 * given. A missing default file means "all defaults", as in the original;
 * any other failure to read it, and every problem in its content, throws a
 * ConfigError.
 */
export async function loadSettings(file: string | undefined, installation: Layout | string): Promise<LoadedSettings> {
  const { baseDir } = layoutOf(installation);
  const path = file ?? defaultSettingsFile(installation);
  let bytes: Buffer;
  try {
    bytes = readBoundedFile(path, MAX_SETTINGS_BYTES, 'a settings file');
  } catch (error) {
    // Only absence is ignored: an unreadable file would silently drop a whitelist.
    if (file === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { ...defaultsWithOrigins(installation), file: undefined };
    }
    throw new ConfigError([describeSystemError(error, `${path}: cannot read settings`)]);
  }

  // Lenient decoding: bytes in a comment harm nobody; in a value they are reported below.
  const text = new TextDecoder('utf-8').decode(bytes);
  const { assignments, problems: parseProblems } = parsePythonAssignments(text, { BASEDIR: baseDir });
  const problems = [
    ...parseProblems.map((p) => ({ line: p.line, text: formatProblem(path, p.line, p.key, p.message) })),
    ...findUndecodableValues(bytes, assignments).map(({ line, key }) => ({
      line,
      text: formatProblem(path, line, key, 'the value contains bytes that are not valid UTF-8; save the file as UTF-8'),
    })),
  ];
  const validated = checkSettings(assignments, path, installation);
  if ('problems' in validated) problems.push(...validated.problems.map((p) => ({ line: p.line, text: formatProblem(path, p.line, p.key, p.message) })));
  if (problems.length > 0 || 'problems' in validated) throw new ConfigError(problems.sort((a, b) => a.line - b.line).map((p) => p.text));
  const { settings } = validated;
  const listProblems: string[] = [];
  for (const [fileKey, listKey] of [['WHITELIST_FILE', 'WHITELIST'], ['BLACKLIST_FILE', 'BLACKLIST'], ['TRUSTED_PROXIES_FILE', 'TRUSTED_PROXIES']] as const) {
    const listFile = settings[fileKey];
    if (listFile === undefined) continue;
    // Relative to the settings file, so a configuration-management checkout can hold both side by side.
    const resolved = isAbsolute(listFile) ? listFile : join(dirname(path), listFile);
    let parsed: Awaited<ReturnType<typeof parseListLines>>;
    try {
      parsed = await readListFile(resolved);
    } catch (error) {
      listProblems.push(`${validated.origins[fileKey]} ${fileKey}: ${describeSystemError(error, resolved)}`);
      continue;
    }
    listProblems.push(...parsed.problems);
    settings[listKey] = [...new Set([...settings[listKey], ...parsed.entries])];
  }
  if (listProblems.length > 0) throw new ConfigError(listProblems);
  return { settings, origins: validated.origins, file: path };
}

/** Far more than any real settings file; what the Python-syntax parser may hold in memory at once. */
const MAX_SETTINGS_BYTES = 16 * 1024 * 1024;
/** A million networks take about 20 MiB. */
const MAX_LIST_FILE_BYTES = 256 * 1024 * 1024;
const MAX_LIST_LINE_BYTES = 4096;

/** A list file as a stream of lines: a list of a million networks is parsed as it is read, never held as one string. */
async function readListFile(file: string) {
  checkReadableFile(file, MAX_LIST_FILE_BYTES, 'a list file');
  try {
    return await parseListLines(await fileLines(file, MAX_LIST_LINE_BYTES), file);
  } catch (error) {
    // split2 says only "maximum buffer reached".
    if (!(error as NodeJS.ErrnoException).code) throw Object.assign(new Error(`has a line longer than ${MAX_LIST_LINE_BYTES} bytes: is it a list file?`), { code: 'ELINE' });
    throw error;
  }
}

/** Assignments whose value holds a character decoded from invalid UTF-8, with the line of those bytes. */
function findUndecodableValues(bytes: Buffer, assignments: Assignment[]): { line: number; key: string }[] {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const badLines: number[] = [];
  let start = 0;
  let line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== NEWLINE) continue;
    try {
      strict.decode(bytes.subarray(start, i));
    } catch {
      badLines.push(line);
    }
    start = i + 1;
    line++;
  }
  const found = new Map<Assignment, number>();
  for (const badLine of badLines) {
    // The statement holding a line is the last one that starts at or before it.
    const holder = assignments.filter((a) => a.line <= badLine).pop();
    if (holder && !found.has(holder) && containsReplacementCharacter(holder.value)) found.set(holder, badLine);
  }
  return [...found].map(([assignment, badLine]) => ({ line: badLine, key: assignment.key }));
}

function containsReplacementCharacter(value: PyValue): boolean {
  if (typeof value === 'string') return value.includes('\uFFFD');
  return Array.isArray(value) && value.some(containsReplacementCharacter);
}
