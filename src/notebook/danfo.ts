// Loading danfojs-node (DataFrame, Series, ...) for the notebooks, around its broken
// dependency on the native tfjs-node.
import Module from 'node:module';

/**
 * Returns the danfojs-node module (DataFrame, Series, ...).
 *
 * Why the shim: danfojs-node does `require('@tensorflow/tfjs-node')`. That package
 * is installed (an optional dependency) but cannot load here: its native binding
 * is downloaded by an install script that does not run, and npm dedupes the
 * package.json override (tfjs-node -> plain @tensorflow/tfjs) away in favour of
 * the real, broken tfjs-node. danfojs only needs the tfjs API, which plain
 * @tensorflow/tfjs provides, so when tfjs-node fails we put a module whose
 * exports are @tensorflow/tfjs into require.cache under tfjs-node's resolved
 * path; danfojs's require then finds it there and never loads the native addon.
 */
export function loadDanfo(): typeof import('danfojs-node') {
  const danfoPath = require.resolve('danfojs-node');
  // Resolve tfjs-node the way danfojs-node would (from its own location).
  const tfnodePath = require.resolve('@tensorflow/tfjs-node', { paths: [danfoPath] });
  try {
    require(tfnodePath);
  } catch {
    if (!require.cache[tfnodePath]) {
      const shim = new Module(tfnodePath);
      shim.filename = tfnodePath;
      shim.loaded = true;
      shim.exports = require('@tensorflow/tfjs');
      require.cache[tfnodePath] = shim;
    }
  }
  return require('danfojs-node');
}
