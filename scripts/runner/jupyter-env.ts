// Finds the Python of the project's Jupyter environment (.venv/, made by scripts/python-env.sh
// from requirements/jupyter.txt) and registers the tslab kernel.
//
// Used by run-notebooks (hermetic: a kernel spec under OUT/jupyter that only the runner's Python
// child sees, via JUPYTER_PATH), and by setup, lab and the live checks (the venv's own data dir,
// .venv/share/jupyter, where JupyterLab and Notebook 7 from the venv look for kernels).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../src/runtime/paths';
import { saveFile } from '../../src/runtime/files';

export const KERNEL_NAME = 'tslab';

/** The project's virtual environment. */
export const VENV_DIR = path.join(REPO_ROOT, '.venv');

/** A program installed in the venv (python, jupyter, ...). */
export function venvBin(name: string): string {
  return path.join(VENV_DIR, 'bin', name);
}

const INSTALL_HINT =
  "Create the project's Jupyter environment .venv/ with: sh scripts/python-env.sh (npm run setup does it too;\n" +
  "it needs Debian's python3-venv). Or set $PYTHON to an interpreter that has nbclient and nbconvert.";

/** Whether `python` has nbclient, nbconvert and jupyter_client installed (found, not imported: importing them takes about 2 s). */
function hasNbclient(python: string): boolean {
  const script =
    "import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ('nbclient', 'nbconvert', 'jupyter_client')) else 1)";
  return spawnSync(python, ['-c', script], { stdio: 'ignore' }).status === 0;
}

function candidates(): string[] {
  const list = [process.env.PYTHON, venvBin('python')].filter((p): p is string => !!p);
  return [...new Set(list)];
}

/** Runs scripts/python-env.sh, which creates or updates .venv/; false if it failed. */
function createVenv(): boolean {
  console.error('[jupyter-env] no Python with nbclient: creating .venv/ with scripts/python-env.sh');
  return spawnSync('sh', [path.join(REPO_ROOT, 'scripts', 'python-env.sh')], { stdio: 'inherit' }).status === 0;
}

/** A Python that can import nbclient and nbconvert: $PYTHON, else the venv's (created when missing, unless allowInstall is false). */
export function findPython(opts: { allowInstall?: boolean; candidates?: string[] } = {}): string {
  const list = opts.candidates ?? candidates();
  const find = () => list.find(hasNbclient);
  let py = find();
  if (!py && opts.allowInstall !== false && createVenv()) py = find();
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
  const file = path.join(dataDir, 'kernels', KERNEL_NAME, 'kernel.json');
  saveFile(file, `${JSON.stringify(kernelSpec(repoRoot), null, 2)}\n`);
  return file;
}

/** Registers the kernel in the venv's data dir, where JupyterLab and Notebook 7 from the venv look; returns kernel.json's path. */
export function registerVenvKernel(repoRoot = REPO_ROOT): string {
  return writeKernelSpec(path.join(VENV_DIR, 'share', 'jupyter'), repoRoot);
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
