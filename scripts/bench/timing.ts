// Timing a step by repetition, and the peak memory seen while timing.
import * as tf from '@tensorflow/tfjs';

/** Peak process RSS and tfjs tensor bytes (in bytes) since the last resetPeak. */
export const peak = { rss: 0, tfBytes: 0 };

export function notePeak(): void {
  peak.rss = Math.max(peak.rss, process.memoryUsage().rss);
  peak.tfBytes = Math.max(peak.tfBytes, tf.memory().numBytes);
}

export function resetPeak(): void {
  peak.rss = 0;
  peak.tfBytes = 0;
  notePeak();
}

/** Time `step` after `warmup` calls: at least minSteps calls and minSeconds, at most maxSeconds. */
export function timeIt(
  step: () => void,
  o: { warmup: number; minSteps: number; minSeconds: number; maxSeconds: number },
): { n: number; ms: number } {
  for (let i = 0; i < o.warmup; i++) step();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (n < o.minSteps || elapsed < o.minSeconds * 1000) {
    step();
    notePeak();
    n += 1;
    elapsed = performance.now() - start;
    if (elapsed > o.maxSeconds * 1000 && n >= 1) break;
  }
  return { n, ms: elapsed / n };
}
