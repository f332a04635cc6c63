/** A file's lines as they are read, never the whole file as one string. */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';

/**
 * pipeline, not pipe: a read error must end the iteration, not leave it
 * waiting. split2 is loaded with the first file read so: a cron run, which
 * reads no list file, does without it.
 */
export async function fileLines(file: string, maxLength?: number): Promise<AsyncIterable<string>> {
  const { default: split2 } = await import('split2');
  return pipeline(createReadStream(file), split2(maxLength === undefined ? {} : { maxLength }), () => {}) as unknown as AsyncIterable<string>;
}
