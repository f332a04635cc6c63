/**
 * Reads the original's settings file — Python assignments that the original
 * exec'd — without executing anything. Only the literal forms such files use
 * are understood; everything else becomes a problem naming the line and key,
 * so a file that worked with the original either means the same thing here
 * or is refused.
 */

export interface Timedelta {
  timedeltaSeconds: number;
}

/** A Python value; tuples and lists are both arrays. */
export type PyValue = string | number | boolean | null | Timedelta | PyValue[];

export interface Assignment {
  key: string;
  /** 1-based line where the statement starts. */
  line: number;
  value: PyValue;
}

export interface ParseProblem {
  line: number;
  key?: string;
  message: string;
}

type Token =
  | { kind: 'name'; text: string; line: number; column: number }
  | { kind: 'number'; value: number; line: number; column: number }
  | { kind: 'string'; value: string; line: number; column: number }
  | { kind: 'op'; text: string; line: number; column: number }
  | { kind: 'newline'; line: number; column: number }
  | { kind: 'error'; message: string; line: number; column: number };

class ParseError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

const TIMEDELTA_UNITS: Record<string, number> = {
  days: 86400,
  seconds: 1,
  microseconds: 1e-6,
  milliseconds: 1e-3,
  minutes: 60,
  hours: 3600,
  weeks: 604800,
};
/** Python's positional order: timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks). */
const TIMEDELTA_POSITIONAL = Object.keys(TIMEDELTA_UNITS);

const NAME = /[\p{L}_][\p{L}\p{N}_]*/uy;
const NUMBER =
  /0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/y;
const STRING_START = /([rRuUbBfF]{0,2})('''|"""|'|")/y;
/** A line that can only begin a new statement, never continue an open bracket. */
const STATEMENT_START = /^(?:[\p{L}_][\p{L}\p{N}_]*[ \t]*=(?!=)|(?:from|import)\s)/u;
const OPERATOR = /\/\/|\*\*|==|[-+*/%@&|^~<>!=.,:;()[\]{}]/y;
const RADIX_PREFIXES: Record<string, number> = { x: 16, o: 8, b: 2 };
const CLOSING: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
};

/**
 * Splits the text into tokens, with a `newline` token ending each logical line.
 * On a lexical error it emits an `error` token (which the parser reports for
 * the statement it lands in) and resumes at the next line that starts a
 * top-level statement, so that later statements are still checked.
 */
function tokenize(text: string): Token[] {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);

  const tokens: Token[] = [];
  const open: { char: string; line: number }[] = [];
  let pos = 0;
  let line = 1;
  const column = () => pos - lineStarts[line - 1];
  const push = (token: Token) => {
    const isEmptyLine = token.kind === 'newline' && (tokens.length === 0 || tokens[tokens.length - 1].kind === 'newline');
    if (!isEmptyLine) tokens.push(token);
  };
  const neverClosed = (): Token => ({ kind: 'error', message: `'${open[0].char}' is never closed`, line: open[0].line, column: 0 });

  // Resuming at the next line that starts a statement is a guess, only needed after an error.
  const recover = (message: string, errorLine: number) => {
    push({ kind: 'error', message, line: errorLine, column: 0 });
    push({ kind: 'newline', line: errorLine, column: 0 });
    open.length = 0;
    for (line = errorLine + 1; line <= lineStarts.length; line++) {
      pos = lineStarts[line - 1];
      if (/[\p{L}_]/u.test(text[pos] ?? '')) return;
    }
    pos = text.length;
  };

  while (pos < text.length) {
    const char = text[pos];
    if (char === '\n') {
      if (open.length === 0) push({ kind: 'newline', line, column: column() });
      pos++;
      line++;
      // Inside brackets, such a line is valid only as a timedelta keyword: anything else
      // means the bracket was left open, and the statements that follow still get checked.
      const ahead = text.slice(pos, pos + 200);
      if (open.length > 0 && STATEMENT_START.test(ahead) && !(/^\w+/.exec(ahead)![0] in TIMEDELTA_UNITS)) {
        push(neverClosed());
        push({ kind: 'newline', line, column: 0 });
        open.length = 0;
      }
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\f' || char === '\r') {
      pos++;
      continue;
    }
    if (char === '#') {
      while (pos < text.length && text[pos] !== '\n') pos++;
      continue;
    }
    if (char === '\\') {
      if (text[pos + 1] === '\n') {
        pos += 2;
        line++;
      } else recover('a backslash outside a string must be the last character of the line', line);
      continue;
    }

    STRING_START.lastIndex = pos;
    const stringStart = STRING_START.exec(text);
    if (stringStart) {
      const prefix = stringStart[1].toLowerCase();
      if (prefix !== '' && prefix !== 'r' && prefix !== 'u') {
        const kind = prefix.includes('f') ? 'f-strings' : prefix.includes('b') ? 'byte strings' : `the string prefix '${stringStart[1]}'`;
        recover(`${kind} are not supported; write a plain string such as '...'`, line);
        continue;
      }
      const startLine = line;
      const startColumn = column();
      const scanned = scanString(text, pos + stringStart[0].length, stringStart[2], prefix === 'r');
      if (typeof scanned === 'string') {
        recover(scanned, startLine);
        continue;
      }
      for (let i = pos; i < scanned.end; i++) if (text[i] === '\n') line++;
      pos = scanned.end;
      push({ kind: 'string', value: scanned.value, line: startLine, column: startColumn });
      continue;
    }

    NAME.lastIndex = pos;
    const name = NAME.exec(text);
    if (name) {
      push({ kind: 'name', text: name[0], line, column: column() });
      pos += name[0].length;
      continue;
    }

    if (/[0-9]/.test(char) || (char === '.' && /[0-9]/.test(text[pos + 1] ?? ''))) {
      NUMBER.lastIndex = pos;
      const literal = NUMBER.exec(text)![0];
      const rest = /^[\p{L}\p{N}_.]*/u.exec(text.slice(pos + literal.length))![0];
      const digits = literal.replace(/_/g, '');
      if (rest !== '') recover(`'${literal + rest}' is not a number (a text value needs quotes, such as '${literal + rest}')`, line);
      else if (/^0+[1-9]/.test(digits) && !/[.eE]/.test(digits)) {
        recover(`leading zeros are not allowed in '${literal}' (Python refuses them too)`, line);
      } else {
        const radix = RADIX_PREFIXES[digits[1]?.toLowerCase() ?? ''];
        const value = radix ? parseInt(digits.slice(2), radix) : Number(digits);
        push({ kind: 'number', value, line, column: column() });
        pos += literal.length;
      }
      continue;
    }

    OPERATOR.lastIndex = pos;
    const operator = OPERATOR.exec(text);
    if (!operator) {
      const what = char === '\uFFFD' ? 'bytes that are not valid UTF-8' : `the character '${char}'`;
      recover(`unexpected ${what}`, line);
      continue;
    }
    const op = operator[0];
    if ('([{'.includes(op)) open.push({ char: op, line });
    else if (op in CLOSING) {
      const opener = open.pop();
      if (!opener) {
        recover(`'${op}' closes nothing`, line);
        continue;
      }
      if (opener.char !== CLOSING[op]) {
        recover(`'${opener.char}' from line ${opener.line} is closed by '${op}'`, line);
        continue;
      }
    }
    push({ kind: 'op', text: op, line, column: column() });
    pos += op.length;
  }
  if (open.length > 0) push(neverClosed());
  push({ kind: 'newline', line, column: 0 });
  return tokens;
}

/** Scans a string body from just after the opening quote; returns the value and the end, or an error message. */
function scanString(text: string, start: number, quote: string, raw: boolean): { value: string; end: number } | string {
  const triple = quote.length === 3;
  let value = '';
  let i = start;
  for (;;) {
    if (i >= text.length || (!triple && text[i] === '\n')) {
      return triple ? 'this triple-quoted string is never closed' : 'this string is not closed on its line';
    }
    if (text.startsWith(quote, i)) return { value, end: i + quote.length };
    const char = text[i];
    if (char !== '\\') {
      value += char;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) {
      i++; // reported as unclosed on the next turn
      continue;
    }
    if (raw) {
      value += char + next;
      i += 2;
      continue;
    }
    if (next === '\n') {
      i += 2;
    } else if (next in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[next];
      i += 2;
    } else if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
      value += String.fromCodePoint(parseInt(octal, 8));
      i += 1 + octal.length;
    } else if (next === 'x' || next === 'u' || next === 'U') {
      const length = { x: 2, u: 4, U: 8 }[next];
      const hex = text.slice(i + 2, i + 2 + length);
      const codePoint = parseInt(hex, 16);
      if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex) || codePoint > 0x10ffff) {
        return `'\\${next}' must be followed by ${length} hexadecimal digits`;
      }
      value += String.fromCodePoint(codePoint);
      i += 2 + length;
    } else if (next === 'N') {
      return "'\\N{...}' escapes are not supported; write the character itself";
    } else {
      // Python keeps unknown escapes such as '\d' as they are.
      value += char + next;
      i += 2;
    }
  }
}

function isTimedelta(value: PyValue): value is Timedelta {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function timedelta(seconds: number): Timedelta {
  // Python keeps microseconds; rounding there hides float noise such as 0.1 + 0.2.
  return { timedeltaSeconds: Math.round(seconds * 1e6) / 1e6 };
}

/** How a value reads in a message: `the string 'x'`, `the number 5`, `True`, `('a', 'b')`, `timedelta(seconds=60)`. */
export function describePyValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${formatPyValue(value)}`;
  if (typeof value === 'number') return `the number ${formatPyValue(value)}`;
  return formatPyValue(value as PyValue);
}

function formatPyValue(value: PyValue): string {
  if (typeof value === 'string') {
    const escaped = JSON.stringify(value).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'");
    return `'${escaped.length > 60 ? `${escaped.slice(0, 57)}...` : escaped}'`;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  if (Array.isArray(value)) {
    const items = value.map(formatPyValue);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  return `timedelta(seconds=${value.timedeltaSeconds})`;
}

/**
 * No value may grow past what a settings file (at most 16 MiB) can hold
 * written out: names may refer to earlier values, so `A = (A, A)` line after
 * line would otherwise double a value on every line until memory runs out.
 * A 100,000-entry whitelist fits, as a string or as a tuple.
 */
const MAX_VALUE_SIZE = 16 * 1024 * 1024;
const valueSizes = new WeakMap<PyValue[], number>();

function sizeOf(value: PyValue): number {
  if (typeof value === 'string') return value.length;
  if (!Array.isArray(value)) return 1;
  return valueSizes.get(value) ?? 1;
}

function checkSize<T extends PyValue>(value: T): T {
  let size = 1;
  if (typeof value === 'string') size = value.length;
  else if (Array.isArray(value)) {
    size = value.reduce((sum: number, item) => sum + sizeOf(item), 1);
    valueSizes.set(value, size);
  }
  if (size > MAX_VALUE_SIZE) throw new ParseError(`the value is too large (more than ${MAX_VALUE_SIZE} characters or entries)`);
  return value;
}

function applyOperator(op: string, left: PyValue, right: PyValue): PyValue {
  if (typeof left === 'number' && typeof right === 'number') {
    if ((op === '/' || op === '//') && right === 0) throw new ParseError('division by zero');
    switch (op) {
      case '+':
        return left + right;
      case '-':
        return left - right;
      case '*':
        return left * right;
      case '/':
        return left / right;
      case '//':
        return Math.floor(left / right);
    }
  }
  if (op === '+' && typeof left === 'string' && typeof right === 'string') return checkSize(left + right);
  if (op === '+' && Array.isArray(left) && Array.isArray(right)) return checkSize([...left, ...right]);
  if (isTimedelta(left) && isTimedelta(right) && (op === '+' || op === '-')) {
    return timedelta(op === '+' ? left.timedeltaSeconds + right.timedeltaSeconds : left.timedeltaSeconds - right.timedeltaSeconds);
  }
  if (op === '*' && isTimedelta(left) && typeof right === 'number') return timedelta(left.timedeltaSeconds * right);
  if (op === '*' && typeof left === 'number' && isTimedelta(right)) return timedelta(left * right.timedeltaSeconds);
  throw new ParseError(`'${op}' cannot combine ${describePyValue(left)} and ${describePyValue(right)}`);
}

class Parser {
  private pos = 0;
  readonly assignments: Assignment[] = [];
  readonly problems: ParseProblem[] = [];
  /** Names usable in expressions: the given variables, then whatever the file assigned so far (as in Python). */
  private readonly names: Map<string, PyValue>;

  constructor(
    private readonly tokens: Token[],
    variables: Record<string, string>,
  ) {
    this.names = new Map<string, PyValue>(Object.entries(variables));
  }

  parseFile(): void {
    let firstOnLine = true;
    while (this.pos < this.tokens.length) {
      const start = this.pos;
      const first = this.tokens[start];
      if (first.kind === 'newline') {
        this.pos++;
        firstOnLine = true;
        continue;
      }
      try {
        if (firstOnLine && first.column > 0) throw new ParseError('unexpected indentation: a statement must start at the beginning of its line');
        const assignment = this.parseStatement();
        const end = this.next();
        if (end.kind !== 'newline' && !this.isOp(end, ';')) throw new ParseError(`expected the end of the statement after the value, found ${this.describeToken(end)}`, end.line);
        firstOnLine = end.kind === 'newline';
        if (assignment) {
          this.assignments.push(assignment);
          this.names.set(assignment.key, assignment.value);
        }
      } catch (caught) {
        // Brackets nested thousands deep overflow the parser's stack: a problem in the file, not a crash.
        const error = caught instanceof RangeError ? new ParseError('the value is nested too deeply or is too large') : caught;
        if (!(error instanceof ParseError)) throw error;
        const second = this.tokens[start + 1];
        const key = first.kind === 'name' && this.isOp(second, '=') ? first.text : undefined;
        const where = error.line !== undefined && error.line !== first.line ? ` (line ${error.line})` : '';
        this.problems.push({ line: first.line, ...(key ? { key } : {}), message: error.message + where });
        // The rest of the logical line goes too: after ';' the tokens may belong to the broken statement.
        this.pos = start;
        while (this.tokens[this.pos++].kind !== 'newline');
        firstOnLine = true;
      }
    }
  }

  private parseStatement(): Assignment | undefined {
    const first = this.next();
    if (first.kind === 'name' && (first.text === 'from' || first.text === 'import')) {
      this.parseImport(first.text);
      return undefined;
    }
    if (first.kind !== 'name') throw new ParseError(`only assignments of the form KEY = value are allowed, found ${this.describeToken(first)}`);
    const after = this.next();
    if (this.isOp(after, '(')) throw new ParseError(`calling ${first.text}() is not allowed: the file may only hold assignments of the form KEY = value`);
    if (!this.isOp(after, '=')) {
      throw new ParseError(`expected '=' after '${first.text}', found ${this.describeToken(after)} (only assignments of the form KEY = value are allowed)`);
    }
    return { key: first.text, line: first.line, value: this.parseExpression() };
  }

  /** Accepts the imports a settings file may carry to be valid Python on its own: datetime only. */
  private parseImport(keyword: string): void {
    const module = this.next();
    if (module.kind !== 'name' || module.text !== 'datetime') {
      throw new ParseError(`only 'import datetime' and 'from datetime import timedelta' are allowed, found ${keyword} ${this.describeToken(module)}`);
    }
    if (keyword === 'import') return;
    const importWord = this.next();
    if (importWord.kind !== 'name' || importWord.text !== 'import') throw new ParseError(`expected 'import' after 'from datetime'`);
    do {
      if (this.next().kind !== 'name') throw new ParseError(`expected a name after 'from datetime import'`);
    } while (this.acceptOp(','));
  }

  private parseExpression(): PyValue {
    let value = this.parseTerm();
    while (this.isOp(this.peek(), '+') || this.isOp(this.peek(), '-')) {
      const op = (this.next() as { text: string }).text;
      value = applyOperator(op, value, this.parseTerm());
    }
    return value;
  }

  private parseTerm(): PyValue {
    let value = this.parseUnary();
    while (['*', '/', '//'].some((op) => this.isOp(this.peek(), op))) {
      const op = (this.next() as { text: string }).text;
      value = applyOperator(op, value, this.parseUnary());
    }
    return value;
  }

  private parseUnary(): PyValue {
    if (this.acceptOp('-')) {
      const operand = this.parseUnary();
      if (typeof operand === 'number') return -operand;
      if (isTimedelta(operand)) return timedelta(-operand.timedeltaSeconds);
      throw new ParseError(`cannot put a minus sign before ${describePyValue(operand)}`);
    }
    const value = this.parseAtom();
    const after = this.peek();
    if (after.kind === 'op' && ['(', '[', '.'].includes(after.text)) {
      throw new ParseError(`calls, indexing and attribute access are not allowed here (found '${after.text}' after ${describePyValue(value)})`, after.line);
    }
    return value;
  }

  private parseAtom(): PyValue {
    const token = this.next();
    switch (token.kind) {
      case 'number':
        return token.value;
      case 'string': {
        // Adjacent literals concatenate, also across lines inside brackets.
        let value = token.value;
        while (this.peek().kind === 'string') value += (this.next() as { value: string }).value;
        return value;
      }
      case 'name':
        return this.parseName(token.text, token.line);
      case 'op':
        if (token.text === '(') return this.parseSequence(')', true);
        if (token.text === '[') return this.parseSequence(']', false);
        if (token.text === '{') throw new ParseError('dicts and sets are not supported; use a tuple such as (...)', token.line);
    }
    throw new ParseError(`expected a value, found ${this.describeToken(token)}`, token.line);
  }

  private parseName(name: string, line: number): PyValue {
    if (name === 'True') return true;
    if (name === 'False') return false;
    if (name === 'None') return null;
    const isCall = this.isOp(this.peek(), '(');
    if (name === 'timedelta' && isCall) return this.parseTimedelta();
    if (name === 'datetime' && this.isOp(this.peek(), '.')) {
      const attribute = this.tokens[this.pos + 1];
      if (attribute?.kind === 'name' && attribute.text === 'timedelta' && this.isOp(this.tokens[this.pos + 2], '(')) {
        this.pos += 2;
        return this.parseTimedelta();
      }
    }
    if (isCall) throw new ParseError(`calling ${name}() is not allowed; the only function allowed is timedelta(...)`, line);
    const value = this.names.get(name);
    if (value === undefined) throw new ParseError(`unknown name '${name}' (a text value needs quotes, such as '${name}')`, line);
    return value;
  }

  private parseTimedelta(): Timedelta {
    const openParen = this.next();
    const given = new Map<string, number>();
    let positional = 0;
    while (!this.acceptOp(')')) {
      let unit: string;
      const token = this.peek();
      if (token.kind === 'name' && this.isOp(this.tokens[this.pos + 1], '=')) {
        unit = token.text;
        this.pos += 2;
        if (!(unit in TIMEDELTA_UNITS)) {
          const hint = TIMEDELTA_UNITS[`${unit}s`] ? ` (did you mean ${unit}s?)` : '';
          throw new ParseError(`timedelta() has no argument '${unit}'${hint}; use ${TIMEDELTA_POSITIONAL.join(', ')}`, token.line);
        }
      } else {
        if (given.size > positional) throw new ParseError('in timedelta(), a value without a name cannot follow a named one', token.line);
        if (positional >= TIMEDELTA_POSITIONAL.length) throw new ParseError('timedelta() takes at most 7 values', token.line);
        unit = TIMEDELTA_POSITIONAL[positional++];
      }
      if (given.has(unit)) throw new ParseError(`timedelta() got ${unit} twice`, token.line);
      const value = this.parseExpression();
      if (typeof value !== 'number') throw new ParseError(`timedelta(${unit}=...) needs a number, got ${describePyValue(value)}`, token.line);
      given.set(unit, value);
      if (!this.acceptOp(',')) {
        if (!this.acceptOp(')')) throw new ParseError(`expected ',' or ')' in timedelta(), found ${this.describeToken(this.peek())}`, openParen.line);
        break;
      }
    }
    let seconds = 0;
    for (const [unit, value] of given) seconds += value * TIMEDELTA_UNITS[unit];
    return timedelta(seconds);
  }

  /** After the opening bracket: a tuple or list; `(x)` without a comma is just x, as in Python. */
  private parseSequence(close: string, parenthesized: boolean): PyValue {
    const items: PyValue[] = [];
    let sawComma = false;
    while (!this.acceptOp(close)) {
      items.push(this.parseExpression());
      if (this.acceptOp(',')) sawComma = true;
      else if (!this.acceptOp(close)) throw new ParseError(`expected ',' or '${close}', found ${this.describeToken(this.peek())}`, this.peek().line);
      else break;
    }
    return parenthesized && items.length === 1 && !sawComma ? items[0] : checkSize(items);
  }

  private peek(): Token {
    const token = this.tokens[this.pos];
    if (token.kind === 'error') throw new ParseError(token.message, token.line);
    return token;
  }

  private next(): Token {
    const token = this.peek();
    this.pos++;
    return token;
  }

  private isOp(token: Token | undefined, text: string): boolean {
    return token?.kind === 'op' && token.text === text;
  }

  private acceptOp(text: string): boolean {
    if (!this.isOp(this.peek(), text)) return false;
    this.pos++;
    return true;
  }

  private describeToken(token: Token): string {
    switch (token.kind) {
      case 'name':
        return `'${token.text}'`;
      case 'op':
        return `'${token.text}'`;
      case 'newline':
        return 'the end of the line';
      case 'error':
        return token.message;
      default:
        return describePyValue(token.value);
    }
  }
}

/**
 * Parses a Python settings file made of `KEY = literal` statements. Names in
 * `variables` (e.g. BASEDIR) and keys assigned earlier in the file may be used
 * in expressions. Never throws on bad input: every statement that cannot be
 * understood yields one problem, and parsing goes on with the next statement.
 */
export function parsePythonAssignments(
  text: string,
  variables: Record<string, string>,
): { assignments: Assignment[]; problems: ParseProblem[] } {
  const parser = new Parser(tokenize(text.replace(/\r\n?/g, '\n')), variables);
  parser.parseFile();
  return { assignments: parser.assignments, problems: parser.problems };
}
