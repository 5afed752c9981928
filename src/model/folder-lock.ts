// A lock that makes saves into one folder run one at a time: the file checkpoint.lock in the
// folder, naming its holder (pid, host, start time, a random token). It appears in one step, as a
// hard link to a complete file, so a reader never sees it half written; its holder removes it
// when done. A lock left by a process that died (on this host) is taken over; a waiting process
// says who holds the lock.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const LOCK_FILE = 'checkpoint.lock';
const POLL_MS = 10;

interface Holder {
  pid: number;
  host: string;
  since: string;
  token: string;
}

/**
 * Take the lock on `dir` (waiting while a live process holds it) and return the function that
 * releases it.
 */
export function lockFolder(dir: string): () => void {
  const lock = path.join(dir, LOCK_FILE);
  const me: Holder = {
    pid: process.pid,
    host: os.hostname(),
    since: new Date().toISOString(),
    token: crypto.randomUUID(),
  };
  const mine = JSON.stringify(me);
  const draft = `${lock}.${me.token}.tmp`;
  try {
    fs.writeFileSync(draft, mine);
    let told = false;
    while (!linked(draft, lock)) {
      const text = readLock(lock);
      if (text === null) continue; // released meanwhile
      const holder = parseHolder(text);
      if (holder && holder.host === me.host && !alive(holder.pid)) {
        breakLock(lock, text, me.token);
        continue;
      }
      if (!told) {
        const who = holder
          ? `process ${holder.pid} on ${holder.host} since ${holder.since}`
          : 'a lock file that does not name its holder';
        console.error(
          `${dir} is locked by ${who}: waiting for that checkpoint save to finish. If no save is running, delete ${lock}.`,
        );
        told = true;
      }
      sleep(POLL_MS);
    }
  } finally {
    fs.rmSync(draft, { force: true });
  }
  return () => {
    if (readLock(lock) === mine) fs.rmSync(lock, { force: true });
  };
}

/** Link `from` to `to`; false if `to` exists. */
function linked(from: string, to: string): boolean {
  try {
    fs.linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The lock file's text; null if there is none. */
function readLock(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function parseHolder(text: string): Holder | null {
  try {
    const h = JSON.parse(text) as Holder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it exists, under another user
  }
}

/**
 * Remove a dead process's lock, whose text is `stale`. It is moved aside first and compared: if
 * another waiter broke it already and has locked since, that live lock is put back, not deleted.
 */
function breakLock(lock: string, stale: string, token: string): void {
  const aside = `${lock}.${token}.stale`;
  try {
    fs.renameSync(lock, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (readLock(aside) !== stale) linked(aside, lock);
  fs.rmSync(aside, { force: true });
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
