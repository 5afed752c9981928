// `npm run lab`: JupyterLab from the project's venv on notebooks/, with the tslab kernel
// registered. npm runs ensure-deps and the build first, because the notebooks import the
// compiled library from ../dist/src/index. Arguments after `--` go to `jupyter lab`
// (`npm run lab -- --port 8899 --no-browser`).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../src/runtime/paths';
import { registerVenvKernel, venvBin } from './runner/jupyter-env';

function main(): void {
  const jupyter = venvBin('jupyter');
  if (!fs.existsSync(jupyter)) throw new Error(`${jupyter} not found: run npm run setup (or sh scripts/python-env.sh)`);
  registerVenvKernel();
  const notebooks = path.join(REPO_ROOT, 'notebooks');
  const lab = spawn(jupyter, ['lab', `--notebook-dir=${notebooks}`, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches JupyterLab through the terminal's process group; it asks to confirm and then
  // shuts down its kernels. A SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => lab.kill('SIGTERM'));
  lab.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

try {
  main();
} catch (e) {
  console.error(`[lab] ${(e as Error).message}`);
  process.exit(1);
}
