// `npm run setup`: registers the tslab kernel in the user's Jupyter data dir so that
// `jupyter notebook` (or JupyterLab, where available) offers "TypeScript (tslab)".
import { findPython, userDataDir, writeKernelSpec } from './runner/jupyter-env';
import * as fs from 'node:fs';

function main() {
  const python = findPython();
  console.log(`Python with nbclient/nbconvert: ${python}`);
  const file = writeKernelSpec(userDataDir(python));
  console.log(`Wrote ${file}:\n${fs.readFileSync(file, 'utf8')}`);
  console.log('Start Jupyter with: jupyter notebook notebooks/');
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
