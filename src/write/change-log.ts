/** The operators' change log, in the original's line format. Pure. */
import { format } from 'date-fns/format';
import { CHANGE_KINDS, type ChangeKind, type Changes } from '../decide/policy.js';

// The original right-aligns the shorter labels; existing log readers rely on the columns.
const LABELS: Record<ChangeKind, string> = {
  unblocked: 'unblocked:',
  debulked: ' debulked:',
  'new bulks': 'new bulks:',
  'dir.block': 'dir.block:',
  'ua block': ' ua block:',
  'new block': 'new block:',
};

/** A change line's time: the local minute, as the original writes it, and as the digest reads and compares it. */
export const CHANGE_MINUTE_FORMAT = 'yyyy-MM-dd HH:mm';

/** Returns the lines to append (each ending in a newline), or '' when nothing changed. */
export function renderChangeLines(time: Date, changes: Changes): string {
  const stamp = format(time, CHANGE_MINUTE_FORMAT);
  let text = '';
  for (const kind of CHANGE_KINDS) {
    if (changes[kind].length > 0) text += `${stamp} ${LABELS[kind]} ${changes[kind].join(', ')}\n`;
  }
  return text;
}

export interface ChangeEntry {
  /** Local time as written, `YYYY-MM-DD HH:MM`: such strings sort as the times do. */
  minute: string;
  kind: ChangeKind;
  addresses: string[];
}

const KIND_OF_LABEL = new Map(CHANGE_KINDS.map((kind) => [LABELS[kind].trim(), kind]));

/** Reads one line as renderChangeLines writes it (the original's format too); undefined for any other line. */
export function parseChangeLine(line: string): ChangeEntry | undefined {
  const match = /^(\d{4}-\d\d-\d\d \d\d:\d\d) +([a-z. ]+:) (.+)$/.exec(line.trimEnd());
  const kind = match && KIND_OF_LABEL.get(match[2].trim());
  if (!match || !kind) return undefined;
  return { minute: match[1], kind, addresses: match[3].split(', ').filter(Boolean) };
}
