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

/** Returns the lines to append (each ending in a newline), or '' when nothing changed. */
export function renderChangeLines(time: Date, changes: Changes): string {
  const stamp = format(time, 'yyyy-MM-dd HH:mm');
  let text = '';
  for (const kind of CHANGE_KINDS) {
    if (changes[kind].length > 0) text += `${stamp} ${LABELS[kind]} ${changes[kind].join(', ')}\n`;
  }
  return text;
}
