// A JupyterLab or Notebook 7 server from the project's venv, started for one live check and
// stopped afterwards: on 127.0.0.1 with a free port and a random token, serving one folder, with
// its own Jupyter config, data and runtime dirs (so no user setting applies, nothing is written to
// the user's Jupyter dirs, and a kernel left behind is findable by its connection file).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { registerVenvKernel, venvBin } from './jupyter-env';

/** `jupyter lab` or `jupyter notebook` (Notebook 7). */
export type JupyterApp = 'lab' | 'notebook';

export interface JupyterServer {
  app: JupyterApp;
  /** e.g. "JupyterLab 4.6.6" */
  version: string;
  base: string;
  token: string;
  /** The kernel.json the server finds (the venv's, as `npm run lab` registers it). */
  kernelJson: string;
  /** GET of a server API path (`/api/sessions`), parsed. */
  api<T>(apiPath: string): Promise<T>;
  /** Stops the server (it shuts its kernels down), kills any kernel that outlived it, removes its dirs; says what it found. */
  stop(): Promise<{ leftoverKernels: number[] }>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes whose command line names `dir`: kernels started by our server carry their connection file there. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) pids.push(Number(p));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/** SIGTERM (the server then shuts its kernels down), SIGKILL if it lingers. */
async function stopProcess(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The server's own user settings. JupyterLab 4 renders only the cells near the viewport by
 * default (windowing); a check that counts every figure of a notebook in the page needs all of
 * them in the DOM, so windowing is off. And no news pop-up covers the screenshots (the machine may
 * be offline anyway). Notebook 7 reads the same settings files.
 */
function writeSettings(app: JupyterApp, configDir: string): void {
  const settings: [string, string, object][] = [['notebook-extension', 'tracker', { windowingMode: 'none' }]];
  // Notebook 7 has no news plugin, and a setting for a plugin it lacks is a page error there.
  if (app === 'lab') settings.push(['apputils-extension', 'notification', { fetchNews: 'false' }]);
  for (const [extension, plugin, values] of settings) {
    const dir = path.join(configDir, 'lab', 'user-settings', '@jupyterlab', extension);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${plugin}.jupyterlab-settings`), JSON.stringify(values));
  }
}

/** Starts `jupyter APP` from the venv on `rootDir`; resolves once its API answers. */
export async function startJupyter(app: JupyterApp, rootDir: string, timeoutMs = 90_000): Promise<JupyterServer> {
  const jupyter = venvBin('jupyter');
  if (!fs.existsSync(jupyter)) throw new Error(`${jupyter} not found: run sh scripts/python-env.sh`);
  // What `npm run lab` does: the servers find the kernel in the venv's data dir.
  const kernelJson = registerVenvKernel();
  const dirs = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-${app}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_CONFIG_DIR: path.join(dirs, 'config'),
    JUPYTER_DATA_DIR: path.join(dirs, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(dirs, 'runtime'),
  };
  delete env.JUPYTER_PATH; // only the venv's kernel spec, as a reader's `npm run lab` sees it
  writeSettings(app, env.JUPYTER_CONFIG_DIR as string);
  const token = crypto.randomBytes(24).toString('hex');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const args = [
    app,
    '--no-browser',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.port=${port}`,
    '--ServerApp.port_retries=0',
    `--IdentityProvider.token=${token}`,
    `--ServerApp.root_dir=${rootDir}`,
  ];
  // CI containers run as root, which the server refuses without this flag.
  if (process.getuid?.() === 0) args.push('--allow-root');
  const server = spawn(jupyter, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout?.on('data', (d) => (log += d));
  server.stderr?.on('data', (d) => (log += d));
  // Even if this process dies of an exception, the server must not outlive it.
  const killOnExit = () => server.kill('SIGKILL');
  process.on('exit', killOnExit);

  const api = async <T>(apiPath: string): Promise<T> => {
    const r = await fetch(`${base}${apiPath}`, { headers: { Authorization: `token ${token}` } });
    if (!r.ok) throw new Error(`GET ${apiPath}: HTTP ${r.status}`);
    return (await r.json()) as T;
  };
  const stop = async () => {
    await stopProcess(server);
    process.off('exit', killOnExit);
    const leftoverKernels = processesUsing(env.JUPYTER_RUNTIME_DIR as string);
    for (const pid of leftoverKernels) process.kill(pid, 'SIGKILL');
    fs.rmSync(dirs, { recursive: true, force: true });
    return { leftoverKernels };
  };

  const end = Date.now() + timeoutMs;
  for (;;) {
    if (server.exitCode !== null)
      throw new Error(`jupyter ${app} exited with ${server.exitCode}:\n${log.slice(-2000)}`);
    if (Date.now() > end) {
      await stop();
      throw new Error(`jupyter ${app} did not answer within ${timeoutMs / 1000} s:\n${log.slice(-2000)}`);
    }
    if (
      await api('/api/status').then(
        () => true,
        () => false,
      )
    )
      break;
    await sleep(250);
  }
  const pkg = app === 'lab' ? 'jupyterlab' : 'notebook';
  const v = spawnSync(venvBin('python'), ['-c', `import ${pkg}; print(${pkg}.__version__)`], {
    encoding: 'utf8',
  }).stdout.trim();
  return { app, version: `${app === 'lab' ? 'JupyterLab' : 'Notebook'} ${v}`, base, token, kernelJson, api, stop };
}
