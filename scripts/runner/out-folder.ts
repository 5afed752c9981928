// The output folder a run owns: it must not hold the source notebooks, it must be writable, and
// no other run may write into it at the same time (a lock file says which run holds it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeFsError } from '../../src/runtime/files';

/**
 * The source notebooks that output files would overwrite: outputs that already exist and are the
 * same file as a notebook in `notebooksDir` (by the same path, through another name of the folder,
 * a symlink or a hard link), each named as "source (as output)" where the two paths differ.
 */
export function overwrittenSources(notebooksDir: string, outputs: string[]): string[] {
  const id = (f: string) => {
    const s = fs.statSync(f, { throwIfNoEntry: false });
    return s ? `${s.dev}:${s.ino}` : null;
  };
  const sources = new Map<string, string>();
  for (const f of fs.readdirSync(notebooksDir).filter((n) => n.endsWith('.ipynb'))) {
    const key = id(path.join(notebooksDir, f));
    if (key) sources.set(key, path.join(notebooksDir, f));
  }
  return outputs.flatMap((f) => {
    const source = sources.get(id(f) ?? '');
    if (!source) return [];
    return path.resolve(f) === path.resolve(source) ? [source] : [`${source} (as ${f})`];
  });
}

/**
 * Creates `dir` and its missing parents one at a time, so that a failure names its real cause
 * (a recursive mkdir on a read-only file system reports ENOENT instead of EROFS).
 */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) fs.mkdirSync(d);
}

/** What the lock file records about the run holding the folder. */
interface LockHolder {
  pid: number;
  command: string;
  startedAt: string;
}

/** A process's command line as /proc shows it; where there is no /proc, this process's as node parsed it. */
function commandLine(pid: number | 'self'): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return pid === 'self' ? process.argv.join(' ') : null;
  }
}

/** Whether the run recorded in a lock is still running (a reused pid running something else is not it). */
function holderAlive(h: LockHolder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = commandLine(h.pid);
  return now === null || now === h.command;
}

/**
 * Makes `out` (a clear error when it cannot be written) and takes its lock, OUT/run-notebooks.lock,
 * holding this run's pid and command. A lock whose run is still alive is an error naming that run;
 * one left by a run that died (kill -9, a crash) is taken over with a note. Returns the release.
 */
export function claimOutputFolder(out: string): () => void {
  const lock = path.join(out, 'run-notebooks.lock');
  const me: LockHolder = { pid: process.pid, command: commandLine('self')!, startedAt: new Date().toISOString() };
  const mine = JSON.stringify(me);
  const draft = `${lock}.${process.pid}.tmp`;
  try {
    makeFolder(out);
    // written whole under another name, then linked into place: the link fails if a lock
    // exists, and no run ever reads a half-written lock
    fs.writeFileSync(draft, `${mine}\n`);
  } catch (e) {
    fs.rmSync(draft, { force: true });
    throw new Error(`cannot write to --out ${out}: ${describeFsError(e)}`);
  }
  let stale: LockHolder | null = null;
  try {
    for (;;) {
      try {
        fs.linkSync(draft, lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new Error(`cannot write to --out ${out}: cannot create ${lock}: ${describeFsError(e)}`);
      }
      let text: string;
      try {
        text = fs.readFileSync(lock, 'utf8');
      } catch {
        continue; // released meanwhile: try again
      }
      let holder: LockHolder;
      try {
        holder = JSON.parse(text);
      } catch {
        throw new Error(
          `${lock} is not a lock this runner wrote (${JSON.stringify(text.slice(0, 80))}); remove it if no run is writing into ${out}`,
        );
      }
      if (holderAlive(holder)) {
        throw new Error(
          `${out} is in use by another run: pid ${holder.pid} (${holder.command}), started ${holder.startedAt}. Wait for it to finish, or choose another --out.`,
        );
      }
      // moved aside, not deleted: if another run took it over meanwhile, its fresh lock is put back
      const aside = `${lock}.${process.pid}.stale`;
      try {
        fs.renameSync(lock, aside);
      } catch {
        continue;
      }
      if (fs.readFileSync(aside, 'utf8') !== text) {
        try {
          fs.linkSync(aside, lock);
        } catch {
          // a third run holds the lock now; the next round reports it
        }
      } else {
        stale = holder;
      }
      fs.rmSync(aside, { force: true });
    }
  } finally {
    fs.rmSync(draft, { force: true });
  }
  if (stale) {
    console.warn(
      `[run-notebooks] note: took over ${lock} from pid ${stale.pid} (${stale.command}), started ${stale.startedAt}, which is no longer running; its outputs in ${out} may be incomplete`,
    );
  }
  return () => {
    // only our own lock: never one that another run has taken over
    let held = '';
    try {
      held = fs.readFileSync(lock, 'utf8').trim();
    } catch {
      return;
    }
    if (held === mine) fs.rmSync(lock, { force: true });
  };
}
