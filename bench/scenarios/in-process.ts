/**
 * The read path without a process around it: the WindowReader of a run,
 * parseLine alone, and the bare baseline, each over the bytes ipanalyse
 * reads of the 1M-line log, in this process after a JIT warm-up.
 */
import fs from 'node:fs';
import { newLogEntry, newRequestClassifier, parseLine } from '../../src/read/log-line.js';
import { READ_CHUNK_BYTES } from '../../src/read/log-source.js';
import { newWindowReader } from '../../src/read/read-window.js';
import type { AnalysisWindow } from '../../src/read/window-stats.js';
import type { Settings } from '../../src/settings/settings.js';
import { bareCount } from '../baseline-core.js';
import { type Scenario, ratioTarget } from '../harness.js';
import type { BenchSetup, ByteRange } from '../setup.js';

const MIN_SHARE_PERCENT = 80;

function readerOverRange({ file, from, to }: ByteRange, settings: Settings, window: AnalysisWindow) {
  const reader = newWindowReader(settings, window);
  // As log-source.ts readPlain: reads of its chunk size from the seek offset, pushed as they come.
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let position = from;
  try {
    while (position < to && !reader.done) {
      const bytes = fs.readSync(fd, chunk, 0, Math.min(chunk.length, to - position), position);
      if (bytes === 0) break;
      reader.push(chunk, 0, bytes);
      position += bytes;
    }
  } finally {
    fs.closeSync(fd);
  }
  const stats = reader.finish();
  return { lines: stats.linesRead, linesInWindow: stats.linesInWindow, clients: stats.clients.size };
}

/** parseLine alone over the same lines (baseline's loop, parseLine in place of the Map): the parser's share of the cost. */
function parseOnlyOverRange({ file, from, to }: ByteRange, settings: Settings) {
  const classifier = newRequestClassifier(settings.API_ENDPOINTS);
  const entry = newLogEntry();
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let lines = 0;
  let parsed = 0;
  let kept = 0;
  let position = from;
  try {
    while (position < to) {
      const read = fs.readSync(fd, chunk, kept, Math.min(chunk.length - kept, to - position), position);
      if (read === 0) break;
      position += read;
      const end = kept + read;
      let at = 0;
      for (;;) {
        const newline = chunk.indexOf(0x0a, at);
        if (newline < 0 || newline >= end) break;
        if (parseLine(chunk, at, newline, classifier, entry)) parsed++;
        lines++;
        at = newline + 1;
      }
      kept = end - at;
      chunk.copyWithin(0, at, end);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { lines, parsed };
}

export function inProcess(setup: BenchSetup): Scenario {
  const { smallRange: range, settings, window } = setup;
  const probe = setup.probes.small;
  const baseline = () => bareCount(range.file, range.from, range.to);
  const reader = () => readerOverRange(range, settings, window);
  const parseOnly = () => parseOnlyOverRange(range, settings);
  // JIT warm-up, untimed.
  baseline();
  const read = reader();
  parseOnly();
  return {
    checks: [`in-process WindowReader: ${read.lines} lines, ${read.linesInWindow} in the window (ipanalyse: ${probe.linesRead}, ${probe.linesInWindow})`],
    rows: [
      { id: 'reader-1m', what: 'WindowReader, 1M window (in process)', group: 'in-process', lines: probe.linesRead, baseline: 'base-inproc-1m', work: reader },
      { id: 'parse-1m', what: '  of which parseLine alone (in process)', group: 'in-process', lines: probe.linesRead, baseline: 'base-inproc-1m', work: parseOnly },
      { id: 'base-inproc-1m', what: 'bare Node baseline, 1M window (in process)', group: 'in-process', lines: probe.linesRead, work: baseline },
    ],
    targets: (s) => {
      const linesPerSecond = (id: string) => ((s(id).linesPerSecond ?? 0) / 1e6).toFixed(2);
      return [
        ratioTarget(
          'parse throughput, % of the baseline (in process)',
          s('base-inproc-1m'),
          s('reader-1m'),
          { atLeast: MIN_SHARE_PERCENT },
          `${linesPerSecond('reader-1m')}M vs ${linesPerSecond('base-inproc-1m')}M lines/s`,
          100,
        ),
      ];
    },
  };
}
