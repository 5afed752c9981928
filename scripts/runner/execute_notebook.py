#!/usr/bin/env python3
"""Execute one tslab notebook with nbclient; driven by scripts/runner/execute.ts.

Why not papermill/nbmake/`nbconvert --execute`: tslab reports a failing cell only
with `status: error` on the execute reply plus text on stderr, never an `error`
output. nbclient notices the status (CellExecutionError, with an empty message);
the others pass the notebook or write no executed notebook. So this script:

* injects parameters the papermill way (a cell tagged `injected-parameters` right
  after the cell tagged `parameters`),
* runs every cell with the notebook's folder as cwd and a per-cell timeout,
* on failure records which cell failed and its stderr text, and still writes the
  executed notebook (and its HTML export) so the failure can be inspected,
* collects the checks the notebook published under CHECKS_MIME,
* writes a small JSON result for the runner, and exits 1 if the notebook failed,
* dies with the runner, and its kernel with it, whatever kills them (see die_with).
"""
import argparse
import ctypes
import errno
import json
import os
import signal
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

CHECKS_MIME = 'application/vnd.tsdiffusion.checks+json'
META_MIME = 'application/vnd.tsdiffusion.meta+json'  # e.g. {"backend": "wasm"}
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: die_with runs in a forked child


def die_with(parent_pid):
    """Have Linux SIGKILL this process as soon as `parent_pid`, its parent, exits; False if it is gone already.

    A killed runner (even kill -9, which it cannot catch) must not leave this script or its
    kernel running, to go on training and write outputs into a folder another run may own. This
    script calls it with the runner's pid, and its kernel (before exec) with this script's, so
    the chain holds whichever link dies.
    """
    if LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL)) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_PDEATHSIG)')
    return os.getppid() == parent_pid


def describe_os_error(e):
    return 'disk full (ENOSPC)' if e.errno == errno.ENOSPC else (e.strerror or str(e))


def source_of(cell):
    src = cell.get('source', '')
    return ''.join(src) if isinstance(src, list) else src


def inject_parameters(nb, params):
    """Insert `name = value;` assignments after the cell tagged `parameters`.

    Parameters cells declare with `let`, so plain assignments override them.
    Values are JSON, which is valid TypeScript for numbers, strings, booleans,
    arrays and plain objects.
    """
    if not params:
        return
    index = next((i for i, c in enumerate(nb.cells)
                  if c.cell_type == 'code' and 'parameters' in c.get('metadata', {}).get('tags', [])), None)
    if index is None:
        # Papermill would insert at the top, but an assignment before the `let`
        # declaration is a TypeScript error, so refuse with a clear message.
        raise ValueError('parameter overrides given (%s) but no code cell is tagged "parameters"'
                         % ', '.join(sorted(params)))
    lines = ['// Injected parameters (overrides of the cell above)']
    lines += ['%s = %s;' % (name, json.dumps(value)) for name, value in params.items()]
    lines.append('void 0;  // tslab prints a cell\'s last value unless it is undefined')
    cell = nbformat.v4.new_code_cell('\n'.join(lines), metadata={'tags': ['injected-parameters']})
    nb.cells.insert(index + 1, cell)


def stream_text(cell, name):
    return ''.join(o.get('text', '') for o in cell.get('outputs', [])
                   if o.get('output_type') == 'stream' and o.get('name') == name)


def trim_stack(text):
    """Drops the stack frames inside tslab and node:vm; the user's frames come first."""
    lines = text.split('\n')
    inner = ('node:vm', 'node_modules/tslab/', 'sigintHandlersWrap', 'node:internal')
    kept = [ln for ln in lines if not (ln.lstrip().startswith('at ') and any(s in ln for s in inner))]
    return '\n'.join(kept)


def collect(nb, mime):
    """Every output published with `mime`, as parsed JSON, with its cell index."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get('outputs', []) if cell.cell_type == 'code' else []:
            data = out.get('data', {})
            if mime not in data:
                continue
            payload = data[mime]
            if isinstance(payload, str):  # tslab sends the JSON text as given
                try:
                    payload = json.loads(payload)
                except ValueError as e:
                    payload = {'name': 'unparseable checks in cell %d' % i, 'value': None,
                               'op': '<=', 'threshold': None, 'detail': str(e)}
            found.append({'cell': i, 'payload': payload})
    return found


def export_html(nb, path):
    # Imported here so that a broken nbconvert only loses the HTML, not the run.
    import warnings
    from nbconvert import HTMLExporter
    with warnings.catch_warnings():
        # The checks mime type has no HTML rendering; that is intended.
        warnings.filterwarnings('ignore', message='.*is not able to be represented')
        body, _ = HTMLExporter(template_name='lab').from_notebook_node(nb)
    write_whole(path, lambda f: f.write(body))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebook')
    ap.add_argument('--output', required=True, help='executed notebook (.ipynb)')
    ap.add_argument('--result', required=True, help='result JSON for the runner')
    ap.add_argument('--html', help='raw nbconvert HTML export')
    ap.add_argument('--params', default='{}', help='JSON object of parameter overrides')
    ap.add_argument('--timeout', type=int, default=600, help='seconds per cell')
    ap.add_argument('--startup-timeout', type=int, default=60, help='seconds for the kernel to start')
    ap.add_argument('--kernel', default='tslab')
    ap.add_argument('--parent-pid', type=int, help='the runner: this script and its kernel die with it')
    args = ap.parse_args()
    if args.parent_pid is not None and not die_with(args.parent_pid):
        sys.stderr.write('execute_notebook.py: the runner (pid %d) is gone, or started this script through '
                         'a wrapper that does not exec python; not running\n' % args.parent_pid)
        return 4

    nb = nbformat.read(args.notebook, as_version=4)
    result = {'status': 'ok', 'seconds': 0.0, 'failedCell': None, 'error': None,
              'cellSeconds': [], 'checks': [], 'meta': [], 'kernel': args.kernel}
    current = {'index': None, 'start': None}
    seconds = {}  # cell index -> wall seconds, measured here (tslab's message dates are unreliable)

    def on_cell_start(cell, cell_index, **kw):
        current['index'] = cell_index
        current['start'] = time.monotonic()

    def on_cell_executed(cell, cell_index, **kw):
        seconds[cell_index] = round(time.monotonic() - current['start'], 3)

    t0 = time.monotonic()
    try:
        inject_parameters(nb, json.loads(args.params))
        client = NotebookClient(
            nb, kernel_name=args.kernel, timeout=args.timeout, startup_timeout=args.startup_timeout,
            allow_errors=False, record_timing=True, on_cell_start=on_cell_start, on_cell_executed=on_cell_executed,
            resources={'metadata': {'path': os.path.dirname(os.path.abspath(args.notebook))}})
        me = os.getpid()

        def kernel_dies_with_me():  # runs in the forked kernel process, before it execs
            if not die_with(me):
                os._exit(1)
        client.execute(preexec_fn=kernel_dies_with_me)  # passed on to the kernel's Popen
    # record every failure, then still write the notebook. On SIGINT or SIGTERM, nbclient's own
    # handlers shut the kernel down and execute() raises; before they are installed, Ctrl-C is a
    # KeyboardInterrupt.
    except (Exception, KeyboardInterrupt) as e:
        kinds = {CellTimeoutError: 'timeout', DeadKernelError: 'kernel-died', CellExecutionError: 'failed'}
        result['status'] = next((v for k, v in kinds.items() if isinstance(e, k)), 'error')
        idx = current['index']
        message = str(e).strip()
        if idx is not None and idx < len(nb.cells):
            cell = nb.cells[idx]
            if current['start'] is not None and idx not in seconds:
                seconds[idx] = round(time.monotonic() - current['start'], 3)
            result['failedCell'] = {
                'index': idx,
                # What a reader counts in the source notebook (the injected cell is not there).
                'codeCellNumber': sum(1 for c in nb.cells[:idx + 1] if c.cell_type == 'code'
                                      and 'injected-parameters' not in c.metadata.get('tags', [])),
                'injected': 'injected-parameters' in cell.metadata.get('tags', []),
                'source': source_of(cell)}
            # tslab's error text (compile diagnostics, exception + stack) is only on stderr.
            stderr = trim_stack(stream_text(cell, 'stderr').strip())
            message = '\n'.join(x for x in [stderr, '' if stderr else message] if x)
        if result['status'] == 'timeout':
            message = ('cell timed out after %gs\n' % args.timeout) + message
        result['error'] = message or type(e).__name__
    result['seconds'] = round(time.monotonic() - t0, 3)
    result['cellSeconds'] = [seconds.get(i) for i in range(len(nb.cells))]
    result['checks'] = collect(nb, CHECKS_MIME)
    result['meta'] = collect(nb, META_MIME)

    try:
        write_outputs(nb, result, args)
    except OSError as e:
        # a full disk or a missing folder: one line, not a chained traceback; no half-written file
        sys.stderr.write('execute_notebook.py: cannot write %s: %s\n' % (e.filename or 'the outputs', describe_os_error(e)))
        for path in (args.output, args.html, args.result):
            if path and os.path.exists(path):
                os.remove(path)
        return 3
    return 0 if result['status'] == 'ok' else 1


def write_outputs(nb, result, args):
    """The executed notebook, the HTML export and the result, each written whole or not at all."""
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    write_whole(args.output, lambda f: nbformat.write(nb, f))
    if args.html:
        # a failed export is reported with the run's result, which the runner still needs
        try:
            export_html(nb, args.html)
        except OSError as e:
            result['htmlError'] = 'cannot write %s: %s' % (e.filename, describe_os_error(e))
        except Exception as e:
            result['htmlError'] = '%s: %s' % (type(e).__name__, e)
    write_whole(args.result, lambda f: json.dump(result, f, indent=1))


def write_whole(path, write):
    """Write to a temporary file, fsync it, then rename it to `path`, so a failed write leaves no partial file."""
    tmp = '%s.%d.tmp' % (path, os.getpid())
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror, path) from None
        raise


if __name__ == '__main__':
    sys.exit(main())
