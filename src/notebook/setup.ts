// The first cell of every chapter: start the compute backend, say which one runs, tell the
// notebook runner (report.json records it), and send the Plotly bundle once.
import { describeBackend, initBackend, type BackendInfo } from '../runtime/backend';
import { embedPlotly, publishMeta } from './display';

export async function setupNotebook(): Promise<BackendInfo> {
  const backend = await initBackend();
  console.log(describeBackend(backend));
  publishMeta({ backend: backend.name });
  embedPlotly();
  return backend;
}
