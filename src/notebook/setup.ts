// The first cell of every chapter: start the compute backend, say which one runs, tell the
// notebook runner (report.json records it), and send the Plotly bundle once.
import * as path from 'node:path';
import { GaussianMixture } from '../math/mixture';
import { describeBackend, initBackend, type BackendInfo } from '../runtime/backend';
import { DATA_DIR } from '../runtime/paths';
import { embedPlotly, publishMeta } from './display';

export async function setupNotebook(): Promise<BackendInfo> {
  const backend = await initBackend();
  console.log(describeBackend(backend));
  publishMeta({ backend: backend.name });
  embedPlotly();
  return backend;
}

/**
 * The mixture the chapters study, from data/mixture.json (yours to change). GaussianMixture takes
 * any number of components, but the chapters' prose, tables and checks speak of a left, a middle
 * and a right mode, so a file with another number is refused here, before any cell depends on it.
 */
export function chapterMixture(file = path.join(DATA_DIR, 'mixture.json')): GaussianMixture {
  const mixture = GaussianMixture.fromFile(file);
  if (mixture.numComponents !== 3) {
    throw new Error(
      `${file}: the chapters are written for a mixture of 3 components (left, middle, right); this one has ${mixture.numComponents}. ` +
        'Change the weights, means and standard deviations freely, but keep three components.',
    );
  }
  return mixture;
}
