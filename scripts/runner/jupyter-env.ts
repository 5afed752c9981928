// Finds a Python with nbclient + nbconvert and registers the tslab kernel.
//
// Used by run-notebooks (hermetic: a kernel spec under build/jupyter that only the
// runner's Python child sees, via JUPYTER_PATH) and by setup (the user's Jupyter
// data dir, so `jupyter notebook` offers the TypeScript kernel).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../src/runtime/paths';

export const KERNEL_NAME = 'tslab';

const INSTALL_HINT =
  'Install Jupyter\'s execution tools for Python 3:\n' +
  '  Debian/Ubuntu: apt-get install jupyter-nbconvert python3-nbclient jupyter-client\n' +
  '  or with pip:   pip install nbclient nbconvert\n' +
  'Set $PYTHON to choose the interpreter.';

function canImportNbclient(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import nbclient, nbconvert, jupyter_client'], { stdio: 'ignore' });
  return r.status === 0;
}

function candidates(): string[] {
  // Debian's python comes before a bare `python3` because a pyenv python3 on PATH
  // usually lacks the Debian-packaged Jupyter modules.
  const list = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  return [...new Set(list)];
}

function aptInstall(): boolean {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) return false;
  console.error('[jupyter-env] installing jupyter-nbconvert python3-nbclient jupyter-client with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0) return false;
  const r = spawnSync(
    'apt-get',
    ['install', '-y', '--no-install-recommends', 'jupyter-nbconvert', 'python3-nbclient', 'jupyter-client'],
    { stdio: 'inherit', env },
  );
  return r.status === 0;
}

/** Path of a Python that can import nbclient and nbconvert; installs them with apt if root. */
export function findPython(opts: { allowInstall?: boolean; candidates?: string[] } = {}): string {
  const list = opts.candidates ?? candidates();
  const find = () => list.find(canImportNbclient);
  let py = find();
  if (!py && opts.allowInstall !== false && aptInstall()) py = find();
  if (!py) {
    throw new Error(`No Python with nbclient and nbconvert found (tried ${list.join(', ')}).\n${INSTALL_HINT}`);
  }
  return py;
}

/** The kernel spec, with argv exactly as tslab's own python/install.py writes it. */
export function kernelSpec(repoRoot = REPO_ROOT) {
  const tslabBin = path.join(repoRoot, 'node_modules', '.bin', 'tslab');
  if (!fs.existsSync(tslabBin)) throw new Error(`${tslabBin} not found: run npm install`);
  return {
    // tslab/bin/tslab starts with `#!/usr/bin/env node`, so `node` must be on the kernel's PATH.
    argv: [tslabBin, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  };
}

/** Writes DATA_DIR/kernels/tslab/kernel.json and returns its path. */
export function writeKernelSpec(dataDir: string, repoRoot = REPO_ROOT): string {
  const dir = path.join(dataDir, 'kernels', KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'kernel.json');
  fs.writeFileSync(file, JSON.stringify(kernelSpec(repoRoot), null, 2) + '\n');
  return file;
}

/** The user's Jupyter data dir: what `jupyter --data-dir` says, else the XDG default. */
export function userDataDir(python?: string): string {
  const tries: [string, string[]][] = [['jupyter', ['--data-dir']]];
  if (python) tries.push([python, ['-m', 'jupyter_core', '--data-dir']]);
  for (const [cmd, args] of tries) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    const dir = r.status === 0 ? r.stdout.trim() : '';
    if (dir) return dir;
  }
  return path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'jupyter');
}

export interface JupyterEnv {
  python: string;
  /** Data dir holding kernels/tslab; pass it as JUPYTER_PATH to the Python child. */
  jupyterPath: string;
  kernelJson: string;
}

/** Everything the runner needs: a Python and a kernel spec under OUT/jupyter. */
export function ensureJupyter(outDir: string): JupyterEnv {
  const python = findPython();
  const jupyterPath = path.resolve(outDir, 'jupyter');
  const kernelJson = writeKernelSpec(jupyterPath);
  return { python, jupyterPath, kernelJson };
}

/** Environment for the Python child: our data dir first, so our kernel spec wins. */
export function childEnv(env: JupyterEnv): NodeJS.ProcessEnv {
  const prev = process.env.JUPYTER_PATH;
  return {
    ...process.env,
    JUPYTER_PATH: prev ? `${env.jupyterPath}${path.delimiter}${prev}` : env.jupyterPath,
  };
}
