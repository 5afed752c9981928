// The install scripts never break a working environment (issue 23). scripts/python-env.sh puts the
// venv that worked back when a rebuild fails (a closed local port stands in for an unreachable
// PyPI), is interrupted, or was killed outright. scripts/native-backend.sh checks that the
// installed backend loads (a truncated copy of the binding), checks each step of its stub
// generation, and keeps what a failed step needs to be rerun by hand. All of it runs on temporary
// copies, without the network and without a real build.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../src/runtime/paths';
import { assertInstalled, skipUnlessCI } from './helpers';

const PYTHON = '/usr/bin/python3';
const PYTHON_ENV = path.join(REPO_ROOT, 'scripts', 'python-env.sh');
const TFJS_NODE = path.join(REPO_ROOT, 'node_modules', '@tensorflow', 'tfjs-node');

function tempDir(t: test.TestContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------- scripts/python-env.sh

const noVenv =
  spawnSync(PYTHON, ['-c', 'import ensurepip, venv']).status !== 0 &&
  `${PYTHON} with venv (python3-venv, scripts/system-deps.sh)`;

/** A port nothing listens on: pip's index there refuses every connection. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A working venv (no pip: quick to make) holding a file of its own, requirements that need a
 * download, and the environment of a run whose downloads fail.
 */
async function venvFixture(t: test.TestContext) {
  const dir = tempDir(t, 'tsd-python-env-');
  const venv = path.join(dir, 'venv');
  const requirements = path.join(dir, 'requirements.txt');
  assert.equal(spawnSync(PYTHON, ['-m', 'venv', '--without-pip', venv]).status, 0);
  fs.writeFileSync(path.join(venv, 'mine.txt'), 'installed by hand');
  fs.writeFileSync(requirements, 'tsdiffusion-no-such-package==1.0\n');
  const env = {
    ...process.env,
    PYTHON_FOR_VENV: PYTHON,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_INDEX_URL: `http://127.0.0.1:${await closedPort()}/simple`,
    PIP_RETRIES: '0',
  };
  return { venv, requirements, env, args: [PYTHON_ENV, venv, requirements, 'print("checked")'] };
}

function assertVenvAsBefore(venv: string): void {
  assert.equal(
    fs.readFileSync(path.join(venv, 'mine.txt'), 'utf8'),
    'installed by hand',
    `${venv} is the venv that was there`,
  );
  const run = spawnSync(path.join(venv, 'bin', 'python'), ['-c', 'print(6 * 7)'], { encoding: 'utf8' });
  assert.equal(run.stdout, '42\n', `${venv}/bin/python runs`);
  assert.ok(!fs.existsSync(`${venv}.previous`), 'nothing is left beside it');
}

/** Starts python-env.sh, and sends `signal` to its process group once it is building the new venv. */
async function signalDuringBuild(args: string[], env: NodeJS.ProcessEnv, venv: string, signal: NodeJS.Signals) {
  const child = spawn('sh', args, { env, detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  // the old venv's own file has left VENV, and `python -m venv` has started writing the new one there
  while (
    !(
      stdout.includes('creating') &&
      !fs.existsSync(path.join(venv, 'mine.txt')) &&
      fs.existsSync(path.join(venv, 'pyvenv.cfg'))
    )
  ) {
    assert.ok(Date.now() < deadline, `python-env.sh never started building: ${stdout}${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.kill(-child.pid!, signal);
  const code = await exited;
  return { code, stdout, stderr };
}

test('python-env.sh: a rebuild whose download fails leaves the working venv as it was', {
  skip: skipUnlessCI(noVenv),
}, async (t) => {
  assertInstalled(noVenv);
  const { venv, env, args } = await venvFixture(t);
  const run = spawnSync('sh', args, { env, encoding: 'utf8' });
  assertVenvAsBefore(venv);
  assert.equal(run.status, 1, run.stderr);
  assert.match(
    run.stderr,
    /\[python-env\] FAILED: pip could not install \S+requirements\.txt into \S+venv \(is PyPI reachable\?\); \S+venv is as it was before this run/,
  );
});

test('python-env.sh: Ctrl-C while building puts the working venv back', { skip: skipUnlessCI(noVenv) }, async (t) => {
  assertInstalled(noVenv);
  const { venv, env, args } = await venvFixture(t);
  const run = await signalDuringBuild(args, env, venv, 'SIGINT');
  assertVenvAsBefore(venv);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /\[python-env\] FAILED: interrupted; \S+venv is as it was before this run/);
});

test('python-env.sh: after a run killed outright, the next run puts the working venv back first', {
  skip: skipUnlessCI(noVenv),
}, async (t) => {
  assertInstalled(noVenv);
  const { venv, env, args } = await venvFixture(t);
  await signalDuringBuild(args, env, venv, 'SIGKILL');
  assert.ok(
    fs.existsSync(path.join(`${venv}.previous`, 'mine.txt')),
    'the killed run left the working venv beside the unfinished one',
  );
  // no Python: the run stops right after putting it back, before building anything
  const run = spawnSync('sh', args, { env: { ...env, PYTHON_FOR_VENV: '/nonexistent/python3' }, encoding: 'utf8' });
  assert.match(
    run.stdout,
    /\[python-env\] putting back \S+venv from \S+venv\.previous \(an earlier run was killed while building it\)/,
  );
  assert.match(run.stderr, /FAILED: no Python at \/nonexistent\/python3/);
  assertVenvAsBefore(venv);
});

// ---------------------------------------------------------------- scripts/native-backend.sh

/** A project with native-backend.sh and the inputs of its stamp, and an empty tfjs-node package. */
function nativeProject(t: test.TestContext): { root: string; pkg: string; script: string } {
  const root = tempDir(t, 'tsd-native-');
  for (const file of [
    'scripts/native-backend.sh',
    'scripts/patch-tfjs-binding.js',
    'requirements/native.txt',
    'src/runtime/fused-kernels.cc',
  ]) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, file), path.join(root, file));
  }
  const pkg = path.join(root, 'node_modules', '@tensorflow', 'tfjs-node');
  fs.mkdirSync(pkg, { recursive: true });
  return { root, pkg, script: path.join(root, 'scripts', 'native-backend.sh') };
}

const builtBinding = path.join(TFJS_NODE, 'lib', 'napi-v8', 'tfjs_binding.node');
const noBackend = !fs.existsSync(builtBinding) && 'the native backend (sh scripts/native-backend.sh)';

test('native-backend.sh --check: an intact copy of the backend passes, a truncated binding is reported', {
  skip: skipUnlessCI(noBackend),
}, (t) => {
  assertInstalled(noBackend);
  const { root, pkg, script } = nativeProject(t);
  // the package as built, but its 500 MB of libraries stay where they are
  fs.cpSync(TFJS_NODE, pkg, {
    recursive: true,
    filter: (src) => !/^(deps|build-tmp-napi-v\d+|.*\.log)$/.test(path.relative(TFJS_NODE, src)),
  });
  fs.symlinkSync(path.join(TFJS_NODE, 'deps'), path.join(pkg, 'deps'));
  // tfjs-node's own dependencies come from the project; TSDIFFUSION_NATIVE=0: never a build
  const env = { ...process.env, NODE_PATH: path.join(REPO_ROOT, 'node_modules'), TSDIFFUSION_NATIVE: '0' };
  const check = () => spawnSync('sh', [script, '--check'], { cwd: root, env, encoding: 'utf8' });

  const intact = check();
  assert.equal(intact.status, 0, intact.stderr);
  assert.match(intact.stdout, /^\[native-backend\] ready: TensorFlow 2\.9\.3 for tfjs-node /);

  const copy = path.join(pkg, 'lib', 'napi-v8', 'tfjs_binding.node');
  fs.truncateSync(copy, fs.statSync(copy).size >> 1);
  const damaged = check();
  assert.equal(damaged.status, 1);
  assert.match(
    damaged.stderr,
    /\[native-backend\] the installed backend does not work: node died of SIGBUS \(a damaged library in \S+napi-v8 or \S+deps\/lib does that: a truncated one gives SIGBUS\); sh scripts\/native-backend.sh rebuilds it/,
  );
});

const buildTools = ['gcc', 'g++', 'make', 'readelf'];
const noTools =
  process.platform !== 'linux' || process.arch !== 'x64'
    ? 'Linux x86_64'
    : buildTools.some((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) &&
      `${buildTools.join(', ')} (scripts/system-deps.sh)`;

/** A shared library compiled from C `source` (undefined functions and data are left to the loader). */
function library(t: test.TestContext, source: string): string {
  const dir = tempDir(t, 'tsd-capi-');
  fs.writeFileSync(path.join(dir, 'capi.c'), source);
  const built = spawnSync('gcc', ['-shared', '-fPIC', '-o', path.join(dir, 'capi.so'), path.join(dir, 'capi.c')], {
    encoding: 'utf8',
  });
  assert.equal(built.status, 0, built.stderr);
  return path.join(dir, 'capi.so');
}

/**
 * Runs native-backend.sh in `project` with stand-ins for what needs the network or minutes: its
 * Python "downloads" a wheel and "unpacks" `capi` as the C API library (an empty framework library,
 * no headers), and node-pre-gyp "builds" a binding. CI is set, so a failure exits 1.
 */
function fakeBuild(project: { root: string; script: string }, capi: string): SpawnSyncReturns<string> {
  const python = path.join(project.root, '.venv', 'bin', 'python');
  fs.mkdirSync(path.dirname(python), { recursive: true });
  fs.writeFileSync(
    python,
    `#!/bin/sh
if [ "$1" = -m ]; then
  while [ $# -gt 1 ]; do [ "$1" = -d ] && : > "$2/tensorflow_cpu-2.9.3-cp310-cp310-manylinux2014_x86_64.whl"; shift; done
else
  tf=$3/tensorflow
  mkdir -p "$tf/python" "$tf/include/tensorflow" && ln -s "${capi}" "$tf/python/_pywrap_tensorflow_internal.so" && : > "$tf/libtensorflow_framework.so.2"
fi
`,
    { mode: 0o755 },
  );
  const preGyp = path.join(project.root, 'node_modules', '@mapbox', 'node-pre-gyp', 'bin', 'node-pre-gyp');
  fs.mkdirSync(path.dirname(preGyp), { recursive: true });
  fs.writeFileSync(
    preGyp,
    `require('fs').mkdirSync('lib/napi-v8', { recursive: true }); require('fs').writeFileSync('lib/napi-v8/tfjs_binding.node', 'new binding');\n`,
  );
  return spawnSync('sh', [project.script], {
    cwd: project.root,
    env: { ...process.env, CI: '1', TSDIFFUSION_NATIVE: '1' },
    encoding: 'utf8',
  });
}

test('native-backend.sh: each step of the stub generation is checked (readelf fails; no libpython symbols)', {
  skip: skipUnlessCI(noTools),
}, (t) => {
  assertInstalled(noTools);
  const notElf = path.join(tempDir(t, 'tsd-capi-'), 'not-a-library.so');
  fs.writeFileSync(notElf, 'not a library');
  const unreadable = fakeBuild(nativeProject(t), notElf);
  assert.equal(unreadable.status, 1, unreadable.stderr);
  assert.match(
    unreadable.stderr,
    /\[native-backend\] FAILED: readelf could not read the symbols of \S+_pywrap_tensorflow_internal\.so/,
  );

  const noPython = fakeBuild(nativeProject(t), library(t, 'int f(void) { return 1; }\n'));
  assert.equal(noPython.status, 1, noPython.stderr);
  assert.match(
    noPython.stderr,
    /\[native-backend\] FAILED: readelf found no libpython symbols in \S+_pywrap_tensorflow_internal\.so \(see \S+dynsyms\.txt\)/,
  );
});

test("native-backend.sh: a failed build keeps deps/ and the binding to debug, out of tfjs-node's way; the next run starts clean", {
  skip: skipUnlessCI(noTools),
}, (t) => {
  assertInstalled(noTools);
  const project = nativeProject(t);
  const { pkg } = project;
  // a library that needs libpython, as TensorFlow's does
  const capi = library(
    t,
    'extern char PyExc_TypeError[];\nvoid PyErr_Clear(void);\nchar *f(void) { PyErr_Clear(); return PyExc_TypeError; }\n',
  );
  fs.mkdirSync(path.join(pkg, 'binding'));
  fs.copyFileSync(path.join(TFJS_NODE, 'binding', 'tfjs_backend.cc'), path.join(pkg, 'binding', 'tfjs_backend.cc'));
  // what an earlier build and an earlier failure left
  fs.mkdirSync(path.join(pkg, 'deps', 'lib'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'deps', 'lib', 'earlier.so'), '');
  fs.writeFileSync(path.join(pkg, 'deps', 'stamp'), 'earlier');
  fs.mkdirSync(path.join(pkg, 'lib', 'napi-v8.failed'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'lib', 'napi-v8.failed', 'earlier.node'), '');

  // the fused kernels do not compile without TensorFlow's headers
  const run = fakeBuild(project, capi);
  assert.ok(!fs.existsSync(path.join(pkg, 'lib', 'napi-v8')), 'tfjs-node finds no binding');
  assert.deepEqual(
    fs.readdirSync(path.join(pkg, 'lib', 'napi-v8.failed')),
    ['tfjs_binding.node'],
    'the new binding is kept, and only it',
  );
  assert.deepEqual(fs.readdirSync(path.join(pkg, 'deps', 'lib')).sort(), [
    '_pywrap_tensorflow_internal.so',
    'libpystub.so',
    'libtensorflow.so',
    'libtensorflow_framework.so',
    'libtensorflow_framework.so.2',
  ]);
  assert.ok(!fs.existsSync(path.join(pkg, 'deps', 'stamp')), 'no stamp: the next run builds again');
  assert.match(fs.readFileSync(path.join(pkg, 'kernels.log'), 'utf8'), /error/);
  assert.equal(run.status, 1, run.stderr);
  assert.match(
    run.stderr,
    /\[native-backend\] FAILED: g\+\+ could not build the fused kernels \(see \S+kernels\.log\); the binding is moved out of tfjs-node's way to \S+lib\/napi-v8\.failed; \S+deps is kept to debug \(the next run starts from scratch\)/,
  );
});
