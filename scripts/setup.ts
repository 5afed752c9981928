// `npm run setup`: after ensure-deps (npm packages, Debian packages, the .venv/ Jupyter stack) and
// the build, registers the tslab kernel in the venv, so that JupyterLab and Notebook 7 started
// from it offer "TypeScript (tslab)", and says how to start reading.
import * as fs from 'node:fs';
import { findPython, registerVenvKernel, venvBin } from './runner/jupyter-env';

function main() {
  const python = findPython();
  console.log(`Python with nbclient/nbconvert: ${python}`);
  const file = registerVenvKernel();
  console.log(`Registered the kernel in ${file}:\n${fs.readFileSync(file, 'utf8')}`);
  console.log('Start JupyterLab on the notebooks with: npm run lab');
  console.log(`(or Notebook 7: ${venvBin('jupyter')} notebook notebooks/)`);
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
