import * as path from 'node:path';

/** Repository root (this file is compiled to dist/src/runtime/paths.js). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** Mixture definition, fixtures and the checkpoints the notebooks write. */
export const DATA_DIR = path.join(REPO_ROOT, 'data');
/** Where notebook 03 saves the trained model and notebook 04 loads it from. */
export const TRAINED_CHECKPOINT_DIR = path.join(DATA_DIR, 'checkpoints', 'velocity');

/** A path as notebook parameters give it: relative paths are relative to the repository root. */
export function repoPath(p: string): string {
  return path.resolve(REPO_ROOT, p);
}
