// Reading notebook files (.ipynb) from disk, before any kernel sees them.
import * as fs from 'node:fs';

/** The parts of a notebook's JSON that the runner reads. */
export interface NotebookJson {
  cells: {
    cell_type: string;
    metadata?: { tags?: string[] };
    source: string | string[];
    outputs?: { data?: Record<string, unknown> }[];
  }[];
}

/** A cell's source, which nbformat stores as one string or as a list of lines. */
export function sourceText(src: string | string[]): string {
  return Array.isArray(src) ? src.join('') : src;
}

/** Base names of the notebooks in `dir` (`01-data` for 01-data.ipynb). */
export function notebookNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .map((f) => f.slice(0, -6));
}

/** The notebook's JSON, or an error message saying why it cannot be run. */
export function readNotebook(file: string): NotebookJson | string {
  let nb: unknown;
  try {
    nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return `${file} is not a readable notebook: ${(e as Error).message}`;
  }
  if (!nb || typeof nb !== 'object' || !Array.isArray((nb as NotebookJson).cells))
    return `${file} is not a notebook: it has no "cells" array`;
  return nb as NotebookJson;
}
