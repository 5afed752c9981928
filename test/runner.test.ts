// Integration test of the notebook runner on tiny fixture notebooks
// (test/fixtures/notebooks): a passing one with overridden parameters and a
// published check, one whose cell throws, one with failing checks, one that hangs
// past the cell timeout, one that is not valid JSON; and bad parameter overrides.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findPython, writeKernelSpec } from '../scripts/runner/jupyter-env';
import {
  assertInstalled,
  fixtureRunnerArgs,
  hasJupyter,
  processAlive,
  readOnlyDisk,
  releaseDisk,
  RUNNER,
  runNotebooks,
  skipUnlessCI,
  smallDisk,
} from './helpers';
import { chromiumPath } from '../scripts/runner/check-html';
import { parseArgs, selectNotebooks } from '../scripts/runner/options';
import { declaredParameters, loadParams, overrideProblems, withParameterDefaults } from '../scripts/runner/params';
import { compareWithBaseline, cpuFeatures, formatBaselineComparison, updateBaseline } from '../scripts/runner/baseline';
import { compareRuns } from '../scripts/runner/repeat';
import {
  formatSummary,
  notebookStatus,
  reportPassed,
  writeReport,
  type NotebookReport,
  type Report,
} from '../scripts/runner/report';
import { checksFromPayload } from '../src/notebook/checks';
import { REPO_ROOT } from '../src/runtime/paths';

test('selectNotebooks matches names and number prefixes, in name order', () => {
  const all = ['04-sampling', '01-data', '02-forward', '10-extra'];
  assert.deepEqual(selectNotebooks(all, []), ['01-data', '02-forward', '04-sampling', '10-extra']);
  assert.deepEqual(selectNotebooks(all, ['04', '01-data']), ['01-data', '04-sampling']);
  assert.throws(() => selectNotebooks(all, ['1']), /no notebook matches/, 'a prefix must end at a dash');
  assert.throws(() => selectNotebooks(all, ['05']), /no notebook matches "05"/);
});

test('parseArgs', () => {
  const o = parseArgs([
    '04',
    '--ci',
    '--params',
    'p.json',
    '--timeout',
    '120',
    '--out',
    'o',
    '--no-browser',
    '--repeat',
  ]);
  assert.deepEqual(
    [o.names, o.ci, o.paramsFile, o.timeout, o.out, o.browser, o.repeat],
    [['04'], true, 'p.json', 120, 'o', false, true],
  );
  assert.equal(parseArgs([]).repeat, false);
  assert.deepEqual([parseArgs([]).html, parseArgs(['--no-html']).html], [true, false]);
  assert.deepEqual(parseArgs(['--repeat', '--repeat-skip', '03,05-langevin']).repeatSkip, ['03', '05-langevin']);
  // each configuration writes to its own folder unless --out says otherwise
  assert.equal(parseArgs([]).out, 'build');
  assert.equal(parseArgs(['--ci']).out, 'build/ci');
  // an option is not taken as the value of the one before it
  assert.throws(() => parseArgs(['--out', '--no-browser']), /Option '--out' argument is ambiguous/);
  assert.throws(() => parseArgs(['--bogus']), /Unknown option '--bogus'/);
  assert.equal(parseArgs(['--timeout=120', '--out=o']).timeout, 120, 'both --opt value and --opt=value');
  assert.throws(() => parseArgs(['--timeout', 'x']), /positive/);
});

test('jupyter-env: kernel spec as tslab writes it, and a clear error without nbclient', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-kernel-'));
  const spec = JSON.parse(fs.readFileSync(writeKernelSpec(dir), 'utf8'));
  assert.deepEqual(spec, {
    argv: [path.join(REPO_ROOT, 'node_modules', '.bin', 'tslab'), 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  });
  assert.ok(fs.existsSync(path.join(dir, 'kernels', 'tslab', 'kernel.json')));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.throws(
    () => findPython({ candidates: ['/nonexistent/python3'], allowInstall: false }),
    /tried \/nonexistent\/python3\)\.\nCreate the project's Jupyter environment \.venv\/ with: sh scripts\/python-env\.sh/,
  );
});

test('status, report verdict and summary', () => {
  const pass = checksFromPayload([{ name: 'a', value: 0.1, op: '<=', threshold: 0.15 }]);
  const fail = checksFromPayload([{ name: 'w1', value: 0.3, op: '<=', threshold: 0.15, detail: 'W1 of 10k samples' }]);
  assert.equal(notebookStatus('ok', pass), 'ok');
  assert.equal(notebookStatus('ok', fail), 'checks-failed');
  assert.equal(notebookStatus('failed', pass), 'failed');
  const good = { config: 'ci', notebooks: [{ name: '01-data', status: 'ok' as const, seconds: 1.25, checks: pass }] };
  assert.equal(reportPassed(good), true);
  assert.equal(reportPassed({ config: 'ci', notebooks: [] }), false, 'running nothing is not a pass');
  const bad = {
    config: 'ci',
    notebooks: [
      ...good.notebooks,
      { name: '04-sampling', status: notebookStatus('ok', fail), seconds: 10, checks: fail },
    ],
  };
  assert.equal(reportPassed(bad), false);
  assert.equal(reportPassed({ ...good, repeat: { compared: 1, differences: [] } }), true);
  assert.equal(
    reportPassed({ ...good, repeat: { compared: 1, differences: ['01-data: a: 0.1 vs 0.2'] } }),
    false,
    'a second run that differs fails',
  );
  const s = formatSummary(bad);
  assert.match(s, /01-data\s+ok\s+1\.3\s+1\/1/);
  assert.match(s, /04-sampling\s+checks-failed\s+10\.0\s+0\/1/);
  assert.match(s, /FAILED CHECK 04-sampling: w1: 0\.3 <= 0\.15 is false \(W1 of 10k samples\)/);
});

test('compareRuns lists every check value, status or backend that differs', () => {
  const nb = (status: NotebookReport['status'], ...values: number[]): NotebookReport => ({
    name: 'nb',
    status,
    seconds: 1,
    checks: values.map((value, i) => ({ name: `c${i}`, value, op: '<=', threshold: 1, pass: true })),
  });
  const a: Report = { backend: 'wasm', config: 'ci', notebooks: [nb('ok', 0.1, NaN)] };
  assert.deepEqual(compareRuns(a, { backend: 'wasm', config: 'ci', notebooks: [nb('ok', 0.1, NaN)] }), {
    compared: 2,
    differences: [],
  });
  assert.deepEqual(
    compareRuns(a, { backend: 'cpu', config: 'ci', notebooks: [nb('checks-failed', 0.1 + 1e-12, NaN)] }),
    {
      compared: 2,
      differences: ['backend: wasm vs cpu', 'nb: status ok vs checks-failed', 'nb: c0: 0.1 vs 0.10000000000100001'],
    },
  );
  assert.deepEqual(compareRuns(a, { backend: 'wasm', config: 'ci', notebooks: [nb('ok', 0.1)] }).differences, [
    'nb: checks [c0, c1] vs [c0]',
  ]);
  assert.deepEqual(compareRuns(a, { backend: 'wasm', config: 'ci', notebooks: [] }).differences, [
    'nb: missing from the second run',
  ]);
});

test("parameter overrides are checked against each notebook's parameters cell", () => {
  const read = (name: string) =>
    JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'notebooks', `${name}.ipynb`), 'utf8'));
  const declared = declaredParameters(read('03-training'))!;
  assert.deepEqual(
    [...declared.values()].map((d) => [d.name, d.types]),
    [
      ['steps', ['number']],
      ['batchSize', ['number']],
      ['target', ['string']],
      ['referenceSize', ['number']],
      ['learningRate', ['number']],
      ['warmupSteps', ['number']],
      ['holdSteps', ['number']],
      ['emaDecay', ['number']],
      ['dropout', ['number']],
      ['seed', ['number']],
      ['workers', ['number', 'null']],
      ['logEvery', ['number']],
      ['evalPerTimestep', ['number']],
      ['gateSamples', ['number']],
      ['checkpointDir', ['string']],
      ['saveStateEvery', ['number']],
    ],
  );
  assert.deepEqual(overrideProblems('03-training', declared, { steps: 4000, workers: null, checkpointDir: '/x' }), []);
  // chapters 4, 6 and 8 take a null checkpointDir (no trained model: their exact parts only) and a mixtureFile
  for (const name of ['04-sampling', '06-score-sde', '08-samplers']) {
    const d = declaredParameters(read(name))!;
    assert.deepEqual(d.get('checkpointDir')!.types, ['string', 'null'], name);
    assert.deepEqual(
      overrideProblems(name, d, { checkpointDir: null, mixtureFile: 'test/fixtures/mixtures/other-three.json' }),
      [],
      name,
    );
  }
  assert.deepEqual(
    overrideProblems('03-training', declared, { steps: 'many', workers: true, step: 5 }),
    [
      '03-training: parameter "steps" must be number (declared `let steps = STEPS; // integer >= 1`), got "many" (string)',
      '03-training: parameter "workers" must be number or null (declared `let workers: number | null = null; // integer in [1, 16] and <= batchSize`), got true (boolean)',
      `03-training: unknown parameter "step"; its parameters cell declares ${[...declared.keys()].join(', ')}`,
    ].map((line) => line.replace('STEPS', String(declared.get('steps')!.source.match(/= ([\d_]+);/)![1]))),
  );
  // ranges from the declarations' comments: counts are integers, sizes positive, every number finite
  const tooMuch = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-params-')), 'p.json');
  fs.writeFileSync(
    tooMuch,
    '{"03-training": {"batchSize": 2.5, "seed": 1e999, "gateSamples": 99, "emaDecay": 1, "target": "noisy"}}',
  );
  assert.deepEqual(
    overrideProblems(
      '03-training',
      declared,
      loadParams(parseArgs(['--params', tooMuch]), ['03-training']).params['03-training'],
    ),
    [
      '03-training: parameter "batchSize" = 2.5 must be integer >= 2 (declared `let batchSize = BATCH; // integer >= 2`)',
      '03-training: parameter "seed" = Infinity must be a finite number (declared `let seed = 1; // integer in [0, 2^32)`)',
      '03-training: parameter "gateSamples" = 99 must be integer in [100, 1_000_000] (declared `let gateSamples = 2000; // integer in [100, 1_000_000]`)',
      '03-training: parameter "emaDecay" = 1 must be in [0, 1) (declared `let emaDecay = EMA; // in [0, 1)`)',
      `03-training: parameter "target" = "noisy" must be one of 'plain', 'reference', 'exact' (declared \`let target = 'exact'; // one of 'plain', 'reference', 'exact'\`)`,
    ].map((line) =>
      line
        .replace('BATCH', declared.get('batchSize')!.source.match(/= ([\d_]+);/)![1])
        .replace('EMA', declared.get('emaDecay')!.source.match(/= ([\d.]+);/)![1]),
    ),
  );
  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-params-')), 'p.json');
  fs.writeFileSync(bad, '{"04-sampling": 5}');
  assert.throws(
    () => loadParams(parseArgs(['--params', bad]), ['04-sampling']),
    /p.json: "04-sampling" must map to \{"name": value\}, got 5/,
  );
  // a file that is not JSON is named in the error
  fs.writeFileSync(bad, '{"04-sampling": {nSamples: 5}}');
  assert.throws(
    () => loadParams(parseArgs(['--params', bad]), ['04-sampling']),
    /^Error: \S+p\.json: Expected (double-quoted )?property name/,
  );
  // Every project notebook's parameters cell parses, and its CI overrides fit it.
  const ci = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'notebooks', 'ci-params.json'), 'utf8'));
  for (const [name, values] of Object.entries(ci)) {
    assert.deepEqual(
      overrideProblems(name, declaredParameters(read(name)), values as Record<string, unknown>),
      [],
      name,
    );
  }
});

test('withParameterDefaults writes new defaults into a copy of the parameters cell, checked as overrides are', () => {
  const nb = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'notebooks', '04-sampling.ipynb'), 'utf8'));
  const before = JSON.stringify(nb);
  const copy = withParameterDefaults('04-sampling', nb, { nSamples: 1000, checkpointDir: '/tmp/x', seed: 7 });
  const cell = copy.cells.find((c) => (c.metadata?.tags ?? []).includes('parameters'))!;
  const lines = (Array.isArray(cell.source) ? cell.source.join('') : cell.source).split('\n');
  assert.ok(lines.includes('let nSamples = 1000; // integer in [500, 1_000_000]'), lines.join('\n'));
  assert.ok(lines.includes('let checkpointDir: string | null = "/tmp/x";'), lines.join('\n'));
  assert.ok(lines.includes('let seed = 7; // integer in [0, 2^32)'));
  const nb03 = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'notebooks', '03-training.ipynb'), 'utf8'));
  const cell03 = withParameterDefaults('03-training', nb03, { workers: 1 }).cells.find((c) =>
    (c.metadata?.tags ?? []).includes('parameters'),
  )!;
  const lines03 = (Array.isArray(cell03.source) ? cell03.source.join('') : cell03.source).split('\n');
  assert.ok(
    lines03.includes('let workers: number | null = 1; // integer in [1, 16] and <= batchSize'),
    lines03.join('\n'),
  );
  assert.ok(
    lines03.includes('let gateSamples = 2000; // integer in [100, 1_000_000]'),
    'other parameters keep their defaults',
  );
  assert.equal(JSON.stringify(nb), before, 'the notebook given is not changed');
  assert.throws(
    () => withParameterDefaults('04-sampling', nb, { nSamples: 10 }),
    /"nSamples" = 10 must be integer in \[500, 1_000_000\]/,
  );
});

test('runner: a missing notebook name is an error before anything runs', () => {
  const r = runNotebooks(['99', '--notebooks', 'test/fixtures/notebooks', '--out', os.tmpdir()]);
  assert.equal(r.status, 2, r.log);
  assert.equal(
    r.stderr.trim(),
    '[run-notebooks] no notebook matches "99" (have: 00-hang, 01-pass, 02-error, 03-check-fails, 04-too-large, 05-broken-json)',
  );
});

test('runner: wrong or unknown overrides fail that notebook before its kernel starts; the others run', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 120_000,
}, () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-params-'));
  const run = (notebooksDir: string, names: string[], params: object) => {
    fs.writeFileSync(path.join(dir, 'params.json'), JSON.stringify(params));
    const r = runNotebooks(
      [...names, '--notebooks', notebooksDir, '--params', path.join(dir, 'params.json'), '--out', dir, '--no-html'],
      110_000,
    );
    assert.equal(r.status, 1, r.log);
    return {
      log: r.log,
      report: JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as Report,
    };
  };
  const fixtures = run('test/fixtures/notebooks', ['01', '02'], {
    '01-pass': { steps: 200 },
    '02-error': { n: 'many', m: 1 },
  });
  const exported = path.join(dir, 'html');
  assert.deepEqual(fs.existsSync(exported) ? fs.readdirSync(exported) : [], [], '--no-html: no export');
  assert.ok(!fs.existsSync(path.join(dir, 'site')), '--no-html: no contents page');
  const [pass, bad] = fixtures.report.notebooks;
  assert.equal(pass.status, 'ok', fixtures.log);
  assert.equal(bad.status, 'error');
  assert.equal(
    bad.error,
    [
      '02-error: parameter "n" must be number (declared `let n = 3;`), got "many" (string)',
      '02-error: unknown parameter "m"; its parameters cell declares n',
    ].join('\n'),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'notebooks', '02-error.ipynb')), 'no kernel ran for 02-error');
  assert.match(fixtures.log, /--- 02-error: error\nerror:\n {2}02-error: parameter "n" must be number/);

  // The issue's example, on the real notebook: rejected in well under a kernel's start-up time.
  // (same folder, same configuration: the report keeps the fixtures' entries beside this one)
  const real = run('notebooks', ['04'], { '04-sampling': { nSamples: 'many' } });
  const sampling = real.report.notebooks.find((n) => n.name === '04-sampling')!;
  assert.equal(
    sampling.error,
    '04-sampling: parameter "nSamples" must be number (declared `let nSamples = 10_000; // integer in [500, 1_000_000]`), got "many" (string)',
  );
  assert.ok(sampling.seconds < 1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('runner executes fixtures, reports the failing cell and failing checks', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 180_000,
}, () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-runner-'));
  // The hanging fixture writes its kernel's pid here, to check below that the kernel is gone.
  const pidFile = path.join(out, 'hang-kernel.pid');
  const params = {
    ...JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/params.json'), 'utf8')),
    '00-hang': { pidFile },
  };
  fs.writeFileSync(path.join(out, 'params.json'), JSON.stringify(params));
  const r = runNotebooks(
    [
      '--notebooks',
      'test/fixtures/notebooks',
      '--params',
      path.join(out, 'params.json'),
      '--out',
      out,
      '--timeout',
      '15',
    ],
    170_000,
  );
  const log = r.log;
  assert.equal(r.status, 1, log);

  const report: Report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.equal(report.config, 'params.json');
  const byName = Object.fromEntries(report.notebooks.map((n) => [n.name, n]));
  assert.deepEqual(Object.keys(byName), [
    '00-hang',
    '01-pass',
    '02-error',
    '03-check-fails',
    '04-too-large',
    '05-broken-json',
  ]);

  // 04: an executed notebook over 1 MB fails, saying why; the notebook is still written
  const large = byName['04-too-large'];
  assert.equal(large.status, 'too-large', log);
  assert.match(large.error ?? '', /^the executed notebook is 1\.\d\d MB, over the 1 MB a chapter may take/);
  assert.ok(fs.statSync(path.join(out, 'notebooks', '04-too-large.ipynb')).size > 1_000_000);

  // 00: the endless loop is stopped at the cell timeout, its kernel killed, and the
  // executed notebook written with the output so far; the notebooks after it still run.
  const hang = byName['00-hang'];
  assert.equal(hang.status, 'timeout', log);
  assert.equal(hang.failedCell?.codeCellNumber, 3);
  assert.match(hang.error ?? '', /^cell timed out after 15s/);
  const nb0 = JSON.parse(fs.readFileSync(path.join(out, 'notebooks', '00-hang.ipynb'), 'utf8'));
  assert.match(JSON.stringify(nb0.cells[2].outputs), /before the hang/);
  assert.deepEqual(nb0.cells[4].outputs, []);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `kernel ${pid} still running`);

  // 05: not valid JSON: reported by name, nothing executed.
  const broken = byName['05-broken-json'];
  assert.equal(broken.status, 'error');
  assert.match(
    broken.error ?? '',
    /^test\/fixtures\/notebooks\/05-broken-json.ipynb is not a readable notebook: .*JSON/,
  );

  // 01: the check passes only if the parameters cell was overridden (steps 1000 -> 200).
  const ok = byName['01-pass'];
  assert.equal(ok.status, 'ok', log);
  assert.deepEqual(
    ok.checks.map((c) => [c.name, c.value, c.pass]),
    [['steps overridden', 200, true]],
  );
  const nb1 = JSON.parse(fs.readFileSync(path.join(out, 'notebooks', '01-pass.ipynb'), 'utf8'));
  const injected = nb1.cells[2];
  assert.deepEqual(injected.metadata.tags, ['injected-parameters']);
  assert.match(injected.source.join(''), /steps = 200;\nlabel = "fixture run";/);
  assert.deepEqual(nb1.cells[1].metadata.tags, ['parameters'], 'injected right after the parameters cell');

  // 02: the failing cell, its source and tslab's error text, from stderr.
  const failed = byName['02-error'];
  assert.equal(failed.status, 'failed');
  assert.equal(failed.failedCell?.index, 3);
  assert.equal(failed.failedCell?.codeCellNumber, 3);
  assert.match(failed.failedCell?.source ?? '', /explode\(n\)/);
  assert.match(failed.error ?? '', /Error: fixture boom at k=5/);
  assert.match(log, /--- 02-error: failed\ncode cell 3/);
  assert.match(log, /fixture boom at k=5/);
  // ... and the executed notebook is written anyway, with the error in the cell.
  const nb2 = JSON.parse(fs.readFileSync(path.join(out, 'notebooks', '02-error.ipynb'), 'utf8'));
  assert.match(JSON.stringify(nb2.cells[3].outputs), /fixture boom/);
  assert.deepEqual(nb2.cells[4].outputs, [], 'cells after the failure do not run');

  // 03: the runner re-evaluates checks; a NaN claiming pass:true fails.
  const bad = byName['03-check-fails'];
  assert.equal(bad.status, 'checks-failed');
  assert.deepEqual(
    bad.checks.map((c) => [c.name, c.pass]),
    [
      ['ok', true],
      ['too big', false],
      ['nan', false],
    ],
  );
  assert.match(log, /03-check-fails\s+checks-failed\s+[\d.]+\s+1\/3/);

  // Offline HTML exports for all that ran, checked in Chromium when present.
  for (const n of report.notebooks.filter((x) => x.name !== '05-broken-json')) {
    const html = fs.readFileSync(path.join(out, 'html', `${n.name}.html`), 'utf8');
    assert.doesNotMatch(html, /<script[^>]*\bsrc=/i, n.name);
  }
  if (chromiumPath()) {
    assert.deepEqual(ok.htmlCheck, { ok: true, figures: 1, problems: [] }, log);
    assert.match(log, /01-pass.html: 1 figures \(notebook made 1\), 1 rendered, 1 with data/);
    assert.ok(fs.existsSync(path.join(out, 'screenshots', '01-pass.png')));
  }
  // the exports link to their neighbours and to the contents page, which lists every chapter
  const pass = fs.readFileSync(path.join(out, 'html', '01-pass.html'), 'utf8');
  assert.match(
    pass,
    /<a href="00-hang.html">← 00-hang<\/a><a href="..\/site\/index.html">contents<\/a><a href="02-error.html">02-error →<\/a>/,
  );
  const index = fs.readFileSync(path.join(out, 'site', 'index.html'), 'utf8');
  assert.deepEqual(
    [...index.matchAll(/<a href="..\/html\/([^"]+)\.html">/g)].map((m) => m[1]),
    ['00-hang', '01-pass', '02-error', '03-check-fails', '04-too-large'],
  );
  assert.match(index, />checks-failed, 1\/3 checks</);
  assert.match(index, />too-large</);
  fs.rmSync(out, { recursive: true, force: true });
});

test('writeReport: a subset run updates its entries; another configuration is not mixed in', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-report-'));
  const entry = (name: string, seconds: number) => ({ name, status: 'ok' as const, seconds, checks: [] });
  writeReport({ config: 'full', notebooks: [entry('01-data', 1), entry('04-sampling', 2)] }, out);
  const subset = writeReport({ config: 'full', notebooks: [entry('04-sampling', 9)] }, out);
  assert.deepEqual(subset.kept, ['01-data']);
  const merged = JSON.parse(fs.readFileSync(subset.file, 'utf8'));
  assert.deepEqual(
    merged.notebooks.map((n: { name: string; seconds: number }) => [n.name, n.seconds]),
    [
      ['01-data', 1],
      ['04-sampling', 9],
    ],
  );
  const other = writeReport({ config: 'ci', notebooks: [entry('04-sampling', 3)] }, out);
  assert.match(other.warning ?? '', /was for configuration 'full'; it now lists only this 'ci' run/);
  assert.deepEqual(
    JSON.parse(fs.readFileSync(other.file, 'utf8')).notebooks.map((n: { name: string }) => n.name),
    ['04-sampling'],
  );
  assert.deepEqual(fs.readdirSync(out), ['report.json']);
});

test('runner: SIGTERM stops the notebook, its kernel and the runner, and the report says so', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 120_000,
}, async () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-signal-'));
  const pidFile = path.join(out, 'hang-kernel.pid');
  const runner = spawn(process.execPath, fixtureRunnerArgs(out, ['00', '01'], { '00-hang': { pidFile } }), {
    cwd: REPO_ROOT,
  });
  let log = '';
  runner.stdout.on('data', (d) => (log += d));
  runner.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => runner.on('exit', (code) => resolve(code)));
  // wait until the hanging cell runs in its kernel
  for (let i = 0; i < 600 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(fs.existsSync(pidFile), `the kernel never started:\n${log}`);
  const kernelPid = Number(fs.readFileSync(pidFile, 'utf8'));
  runner.kill('SIGTERM');
  assert.equal(await exited, 143, log);
  assert.ok(!processAlive(kernelPid), 'the kernel was left running');
  const leftover = spawnSync('pgrep', ['-f', `execute_notebook.py.*${out}`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(leftover, '', 'execute_notebook.py was left running');
  const report: Report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.equal(report.interrupted, 'SIGTERM');
  assert.deepEqual(
    report.notebooks.map((n) => [n.name, n.status]),
    [['00-hang', 'interrupted']],
    'the next notebook did not start',
  );
  assert.match(log, /INTERRUPTED by SIGTERM/);
  assert.ok(fs.existsSync(path.join(out, 'notebooks', '00-hang.ipynb')), 'the executed notebook is still written');
  assert.deepEqual(
    fs.readdirSync(path.join(out, 'notebooks')).filter((f) => f.startsWith('.')),
    [],
    'no temporary files left',
  );
});

test('baseline: a run is compared check by check; --update-baseline accepts it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-baseline-'));
  const run = (values: number[]) => ({
    config: 'ci',
    backend: 'wasm',
    notebooks: [{ name: '01-data', checks: values.map((value, i) => ({ name: `check ${i}`, value })) }],
  });
  assert.equal(compareWithBaseline(run([1, 2]), dir), null, 'no baseline yet');
  const file = updateBaseline(run([1, 2]), dir);
  assert.equal(path.basename(file), 'ci.wasm.json');
  assert.deepEqual(compareWithBaseline(run([1, 2]), dir)!.moved, []);
  const moved = compareWithBaseline(run([1, 2.5]), dir)!;
  assert.deepEqual(
    moved.moved.map((r) => [r.check, r.baseline, r.now]),
    [['check 1', 2, 2.5]],
  );
  assert.match(formatBaselineComparison(moved), /BASELINE: 1 of 2 checks differ[\s\S]*check 1\s+2\s+2\.5\s+0\.5/);
  // a tolerance written into the baseline is kept by updates and honoured
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  saved.notebooks['01-data']['check 1'].tolerance = 1;
  fs.writeFileSync(file, JSON.stringify(saved));
  assert.deepEqual(compareWithBaseline(run([1, 2.5]), dir)!.moved, []);
  updateBaseline(run([1, 3]), dir);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).notebooks['01-data']['check 1'].tolerance, 1);
  // a check that disappeared is reported too
  assert.deepEqual(
    compareWithBaseline(run([1]), dir)!.moved.map((r) => [r.check, r.now]),
    [['check 1', null]],
  );
  // native TensorFlow's baseline records the CPU's instruction sets
  const native = { ...run([1, 2]), backend: 'tensorflow' };
  const nativeFile = updateBaseline(native, dir);
  assert.deepEqual(JSON.parse(fs.readFileSync(nativeFile, 'utf8')).cpuFeatures, cpuFeatures());
  const nativeRun = (values: number[]) => ({
    ...native,
    notebooks: [
      {
        name: '01-data',
        checks: [
          { name: 'check 0', value: values[0] },
          { name: 'check 1', value: values[1], trained: true },
        ],
      },
    ],
  });
  updateBaseline(nativeRun([1, 2]), dir);
  assert.deepEqual(compareWithBaseline(nativeRun([9, 2]), dir)!.moved.length, 1);
  // on another CPU a trained network's check without a standard error is not compared; the rest are
  const recorded = JSON.parse(fs.readFileSync(nativeFile, 'utf8'));
  fs.writeFileSync(nativeFile, JSON.stringify({ ...recorded, cpuFeatures: ['avx', 'avx512f', 'made-up'] }));
  const other = compareWithBaseline(nativeRun([1.5, 7]), dir)!;
  assert.deepEqual([other.compared, other.moved.map((r) => r.check)], [1, ['check 0']]);
  assert.deepEqual(other.otherCpu!.notCompared, ['01-data: check 1']);
  assert.match(
    formatBaselineComparison(other),
    /other kernels, only there: [^;]*made-up; only here: [^:]*: 1 checks of a trained network without a standard error not compared/,
  );
  const cpuinfo = 'processor : 0\nflags\t\t: fpu sse4_2 avx2 fma avx512f amx_tile ht\n';
  assert.deepEqual(cpuFeatures(cpuinfo, {}), ['amx_tile', 'avx2', 'avx512f', 'fma', 'sse4_2']);
  // oneDNN switched off or on by hand chooses other kernels on the same CPU
  assert.deepEqual(cpuFeatures(cpuinfo, { TF_ENABLE_ONEDNN_OPTS: '0' }), [
    'amx_tile',
    'avx2',
    'avx512f',
    'fma',
    'sse4_2',
    'TF_ENABLE_ONEDNN_OPTS=0',
  ]);
});

test('runner: a full output disk is one clear error, and no partial files', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 120_000,
}, (t) => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const disk = smallDisk('256k'); // the kernel spec fits, an executed notebook that shows a 100 kB label three times does not
  if (!disk) return t.skip('mount needs root');
  const params = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-big-')), 'params.json');
  fs.writeFileSync(params, JSON.stringify({ '01-pass': { label: 'x'.repeat(100_000) } }));
  try {
    const r = runNotebooks(
      ['01', '--notebooks', 'test/fixtures/notebooks', '--params', params, '--out', disk, '--no-browser'],
      110_000,
    );
    const log = r.log;
    assert.equal(r.status, 1, log);
    assert.doesNotMatch(log, /Traceback/);
    const report: Report = JSON.parse(fs.readFileSync(path.join(disk, 'report.json'), 'utf8'));
    assert.match(report.notebooks[0].error ?? '', /cannot write \S+01-pass\.ipynb\S*: disk full \(ENOSPC\)/);
    const files = fs.readdirSync(path.join(disk, 'notebooks'));
    assert.deepEqual(files, [], 'no truncated notebook or temporary file is left');
  } finally {
    releaseDisk(disk);
  }
});

/** The runner on the fixtures, into `out`, waited for; its exit status and all it printed. */
function runRunner(args: string[], timeout = 110_000): { status: number | null; log: string; stderr: string } {
  return runNotebooks(['--notebooks', 'test/fixtures/notebooks', '--no-browser', ...args], timeout);
}

test('runner: an output folder whose notebooks/ is the source folder is refused before anything is removed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-clobber-'));
  const sources = path.join(dir, 'notebooks');
  fs.mkdirSync(sources);
  for (const f of ['01-pass.ipynb', '03-check-fails.ipynb'])
    fs.copyFileSync(path.join(REPO_ROOT, 'test/fixtures/notebooks', f), path.join(sources, f));
  const before = fs.readdirSync(sources).map((f) => fs.readFileSync(path.join(sources, f), 'utf8'));
  const run = (notebooks: string, names: string[]) =>
    spawnSync(process.execPath, [RUNNER, ...names, '--notebooks', notebooks, '--out', '.', '--no-browser'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
  // the issue's `--out .`: OUT/notebooks is the source folder, for every notebook
  const all = run('notebooks', []);
  assert.equal(all.status, 2, all.stdout + all.stderr);
  assert.equal(
    all.stderr.trim(),
    '[run-notebooks] --out . would write over the source notebooks notebooks/01-pass.ipynb, notebooks/03-check-fails.ipynb. ' +
      "Nothing was run or removed. Choose another --out (the default is build): OUT/notebooks must not be the notebooks' folder notebooks.",
  );
  // the same folder under another name (a symlink), one notebook
  fs.symlinkSync('notebooks', path.join(dir, 'linked'));
  const one = run('linked', ['03']);
  assert.equal(one.status, 2, one.stdout + one.stderr);
  assert.match(
    one.stderr,
    /would write over the source notebooks linked\/03-check-fails\.ipynb \(as notebooks\/03-check-fails\.ipynb\)\. Nothing was run or removed/,
  );
  assert.deepEqual(
    fs.readdirSync(sources).map((f) => fs.readFileSync(path.join(sources, f), 'utf8')),
    before,
    'the sources are untouched',
  );
  assert.deepEqual(fs.readdirSync(dir).sort(), ['linked', 'notebooks'], 'nothing was written');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('runner: an output folder on a read-only file system is one error naming it and the cause', (t) => {
  const disk = readOnlyDisk();
  if (!disk) return t.skip('mount needs root');
  try {
    for (const out of [path.join(disk, 'build', 'ci'), disk]) {
      const r = runRunner(['01', '--out', out], 60_000);
      assert.equal(r.status, 2, r.log);
      assert.equal(r.stderr.trim(), `[run-notebooks] cannot write to --out ${out}: read-only file system (EROFS)`);
    }
  } finally {
    releaseDisk(disk);
  }
});

test('runner: a full disk during the HTML export is one error naming the file; nothing truncated, the run goes on', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 120_000,
}, (t) => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  // the executed notebook and nbconvert's raw export fit; the offline export, with MathJax inlined (2.3 MB), does not
  const disk = smallDisk('1m');
  if (!disk) return t.skip('mount needs root');
  try {
    const r = runRunner(['03', '05', '--out', disk]);
    assert.equal(r.status, 1, r.log);
    assert.doesNotMatch(r.log, /Traceback|\n\s+at /);
    const report: Report = JSON.parse(fs.readFileSync(path.join(disk, 'report.json'), 'utf8'));
    const [exported, next] = report.notebooks;
    assert.equal(
      exported.error,
      `HTML export failed: cannot write ${disk}/html/03-check-fails.html: disk full (ENOSPC)`,
    );
    assert.equal(next.name, '05-broken-json', 'the next notebook still ran');
    assert.equal(r.log.split('disk full').length - 1, 1, 'said once');
    assert.deepEqual(fs.readdirSync(path.join(disk, 'html')), [], 'no truncated export, no temporary file');
    assert.deepEqual(fs.readdirSync(path.join(disk, 'notebooks')), ['03-check-fails.ipynb']);
    JSON.parse(fs.readFileSync(path.join(disk, 'notebooks', '03-check-fails.ipynb'), 'utf8'));
  } finally {
    releaseDisk(disk);
  }
});

test('runner: one run per output folder; kill -9 of the runner leaves no process running and nothing written after', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 120_000,
}, async () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-kill-'));
  const pidFile = path.join(out, 'hang-kernel.pid');
  // the hanging cell times out after 5 s: an orphaned execute_notebook.py would then write the notebook
  const args = fixtureRunnerArgs(out, ['00'], { '00-hang': { pidFile } }, ['--timeout', '5']);
  const runner = spawn(process.execPath, args, { cwd: REPO_ROOT });
  let log = '';
  runner.stdout.on('data', (d) => (log += d));
  runner.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => runner.on('exit', resolve));
  for (let i = 0; i < 600 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(fs.existsSync(pidFile), `the kernel never started:\n${log}`);
  const cellStarted = Date.now();

  // a second run into the same folder fails at once, naming the run that holds it
  const second = runRunner(['01', '--out', out], 30_000);
  assert.equal(second.status, 2, second.log);
  assert.equal(
    second.stderr.trim(),
    `[run-notebooks] ${out} is in use by another run: pid ${runner.pid} (${process.execPath} ${args.join(' ')}), started ${JSON.parse(fs.readFileSync(path.join(out, 'run-notebooks.lock'), 'utf8')).startedAt}. Wait for it to finish, or choose another --out.`,
  );

  const started = [
    Number(fs.readFileSync(pidFile, 'utf8')),
    ...spawnSync('pgrep', ['-f', `execute_notebook.py.*${out}`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean)
      .map(Number),
  ];
  assert.equal(started.length, 2, 'the kernel and execute_notebook.py');
  runner.kill('SIGKILL');
  await exited;
  for (let i = 0; i < 50 && started.some(processAlive); i++) await new Promise((r) => setTimeout(r, 100));
  const survivors = started.filter(processAlive);
  survivors.forEach((pid) => process.kill(pid, 'SIGKILL')); // a failing test leaves nothing running either
  assert.deepEqual(survivors, [], 'processes the runner started outlived it');
  // past the moment the cell would have timed out and its notebook been written
  await new Promise((r) => setTimeout(r, Math.max(0, cellStarted + 7000 - Date.now())));
  assert.deepEqual(
    [...fs.readdirSync(path.join(out, 'notebooks')), ...fs.readdirSync(path.join(out, 'html'))],
    [],
    'nothing written after the kill',
  );

  // the dead run's lock is taken over, with a note
  const third = runRunner(['05', '--out', out], 60_000);
  assert.equal(third.status, 1, third.log);
  assert.match(
    third.log,
    new RegExp(
      `note: took over ${out}/run-notebooks.lock from pid ${runner.pid} \\(.*run-notebooks.js 00 .*\\), started \\S+, which is no longer running`,
    ),
  );
  assert.ok(!fs.existsSync(path.join(out, 'run-notebooks.lock')), 'released at the end of the run');
  fs.rmSync(out, { recursive: true, force: true });
});

test('runner --repeat: the second run goes beside the first, waits for the first run of an earlier notebook it leaves out, and compares every check', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 120_000,
}, () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-repeat-'));
  const r = runNotebooks(
    [
      '01',
      '03',
      '--notebooks',
      'test/fixtures/notebooks',
      '--params',
      'test/fixtures/params.json',
      '--out',
      out,
      '--no-browser',
      '--repeat',
      '--repeat-skip',
      '01',
    ],
    110_000,
  );
  const log = r.log;
  assert.equal(r.status, 1, log); // 03-check-fails fails its checks, the same way twice
  const lines = log.split('\n');
  const at = (text: string) => lines.findIndex((l) => l.includes(text));
  assert.ok(at('[run-notebooks] repeat: 03-check-fails ...') > at('[run-notebooks] 01-pass: ok'), log);
  assert.ok(
    at('[run-notebooks] repeat: 03-check-fails ...') < at('[run-notebooks] 03-check-fails: checks-failed'),
    `the repeat of 03 runs beside the first run's 03\n${log}`,
  );
  assert.equal(at('repeat: 01-pass'), -1, log);
  const report: Report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.ok(report.repeat && report.repeat.compared > 0, JSON.stringify(report.repeat));
  assert.deepEqual(report.repeat.differences, []);
  assert.ok(fs.existsSync(path.join(out, 'repeat', 'notebooks', '03-check-fails.ipynb')));
});
