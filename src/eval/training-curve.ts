// Reading a training run's loss curve.

/**
 * The mean logged loss over the last tenth of the logs (at least one): where a run levelled off,
 * with the minibatch noise of single logs averaged out.
 */
export function lastTenthMeanLoss(history: readonly { loss: number }[]): number {
  if (history.length === 0) throw new Error('lastTenthMeanLoss: no logs');
  const tail = history.slice(-Math.max(1, Math.floor(history.length / 10)));
  return tail.reduce((sum, log) => sum + log.loss, 0) / tail.length;
}
