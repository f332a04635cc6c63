/**
 * Preloaded (`node --import`) into a child when /usr/bin/time is missing:
 * writes the child's peak RSS (KiB) and CPU time (µs) to BENCH_USAGE_FILE
 * when it exits, as "maxRssKb userUs systemUs".
 */
import fs from 'node:fs';

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    fs.writeFileSync(file, `${usage.maxRSS} ${usage.userCPUTime} ${usage.systemCPUTime}\n`);
  });
}
