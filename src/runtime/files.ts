// Saving files whole or not at all (the runner's outputs, checkpoints): a full disk, a read-only
// folder or a kill mid-write never leaves a truncated file where a reader expects a complete one.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What went wrong with a file system call, in words (the errno code after them). */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOSPC: 'disk full',
    EDQUOT: 'disk quota exceeded',
    EROFS: 'read-only file system',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a path component is a file, not a folder',
  };
  return err.code && words[err.code] ? `${words[err.code]} (${err.code})` : err.message;
}

/**
 * Writes `data` to `file` atomically: a temporary file beside it, fsynced, then renamed over it
 * (and the rename fsynced). On failure the temporary file is removed, `file` keeps what it held
 * before, and the error names `file` and the cause.
 */
export function saveFile(file: string, data: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${describeFsError(e)}`);
  }
}
