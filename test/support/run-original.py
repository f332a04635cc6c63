"""Runs Nominatim's original cron_ipanalyse.py, as published, inside a scratch installation.

    TZ=UTC python3 run-original.py REFERENCE BASEDIR LOADAVG LOGFILE STARTDATE

REFERENCE is the script as saved from the git web view: a few header lines,
then every source line prefixed with its line number and one space. BASEDIR
becomes the installation the script believes it lives in (it derives its
BASEDIR from its own path, two levels up), so it reads
BASEDIR/settings/ip_blocks.conf; the caller puts BLOCKEDFILE and LOGFILE there.
LOADAVG is the content served for /proc/loadavg, so that runs are repeatable.

The script is rebuilt from the reference at every call and never stored in
the repository.
"""

import builtins
import io
import os
import re
import runpy
import sys

NUMBERED_LINE = re.compile(r'^(\d+)(?: (.*))?$')


def extract_source(reference_text):
    """The script's own text: the web header dropped, line numbers stripped, spaces restored."""
    source_lines = []
    for raw in reference_text.splitlines():
        numbered = NUMBERED_LINE.match(raw)
        if numbered is None:
            if source_lines:
                raise SystemExit('run-original: unnumbered line inside the script: %r' % raw)
            continue  # the web page's header
        number = int(numbered.group(1))
        if number != len(source_lines) + 1:
            raise SystemExit('run-original: expected line %d, found %d' % (len(source_lines) + 1, number))
        source_lines.append(numbered.group(2) or '')
    if not source_lines or not source_lines[0].startswith('#!'):
        raise SystemExit('run-original: no numbered script found in the reference')
    # The web view renders every space of the code as a no-break space, also
    # inside string literals such as split(' ', 2) and the log regexes; left
    # as they are the script would not even compile.
    return '\n'.join(source_lines).replace('\u00a0', ' ') + '\n'


def main():
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    reference, basedir, loadavg, logfile, startdate = sys.argv[1:]
    with open(reference, encoding='utf-8') as f:
        source = extract_source(f.read())

    script = os.path.join(basedir, 'utils', 'cron_ipanalyse.py')
    os.makedirs(os.path.dirname(script), exist_ok=True)
    with open(script, 'w', encoding='utf-8') as f:
        f.write(source)

    real_open = builtins.open

    def open_with_fixed_loadavg(file, *args, **kwargs):
        if file == '/proc/loadavg':
            return io.StringIO(loadavg + '\n')
        return real_open(file, *args, **kwargs)

    builtins.open = open_with_fixed_loadavg
    sys.argv = [script, logfile, startdate]
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
