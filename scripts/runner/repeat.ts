// --repeat: the notebooks run twice with the same seeds on the same backend, and every check
// value must come out the same.
import type { NotebookReport, RepeatComparison, Report } from './report';

/**
 * Differences between two runs of the same notebooks: the backend, each notebook's status,
 * and every check's value, compared exactly (same seed, same backend: the numbers must not move).
 */
export function compareRuns(a: Report, b: Report): RepeatComparison {
  const differences: string[] = [];
  let compared = 0;
  if (a.backend !== b.backend) differences.push(`backend: ${a.backend} vs ${b.backend}`);
  for (const first of a.notebooks) {
    const second = b.notebooks.find((n) => n.name === first.name);
    if (!second) {
      differences.push(`${first.name}: missing from the second run`);
      continue;
    }
    if (first.status !== second.status) differences.push(`${first.name}: status ${first.status} vs ${second.status}`);
    const names = (n: NotebookReport) => n.checks.map((c) => c.name).join(', ');
    if (names(first) !== names(second)) {
      differences.push(`${first.name}: checks [${names(first)}] vs [${names(second)}]`);
      continue;
    }
    first.checks.forEach((c, i) => {
      compared++;
      const v = second.checks[i].value;
      if (!Object.is(c.value, v)) differences.push(`${first.name}: ${c.name}: ${c.value} vs ${v}`);
    });
  }
  return { compared, differences };
}
