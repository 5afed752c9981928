import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint, loadTrainedCheckpoint, saveCheckpoint } from '../src/model/checkpoint';
import { assertWritableDirectory, manifestText } from '../src/model/checkpoint-files';
import { VelocityModel } from '../src/model/model';
import { ParameterEMA } from '../src/train/optim';
import { Rng } from '../src/math/rng';
import { releaseDisk, smallDisk, toArray, useBackend } from './helpers';
import { writerModel } from './fixtures/save-checkpoints';

before(useBackend);

/** The weights file a checkpoint's manifest names. */
function weightsFile(dir: string): string {
  return path.join(dir, JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).weights.file);
}

/** Rewrite dir's manifest.json as a save would write it after `change`: with a valid checksum. */
function rewriteManifest(dir: string, change: (manifest: any) => void): void {
  const file = path.join(dir, 'manifest.json');
  const { manifestSha256: _, ...manifest } = JSON.parse(fs.readFileSync(file, 'utf8'));
  change(manifest);
  fs.writeFileSync(file, manifestText(manifest));
}

function saved(config = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const model = new VelocityModel({ width: 16, depth: 2, ...config }, new Rng(1).fork('init'));
  model.batchStats.get('bn_in/mean')!.assign(tf.fill([33], 0.25));
  const ema = new ParameterEMA(model.params, 0.5);
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([4]));
  ema.update(model.params);
  saveCheckpoint(dir, model, ema.values, { step: 42, note: 'test' });
  return { dir, model, ema };
}

test('round trip restores parameters, EMA, BatchNorm statistics and metadata exactly', () => {
  const { dir, model, ema } = saved();
  const c = loadCheckpoint(dir, { width: 16 });
  for (const [name, p] of model.params) assert.deepEqual(toArray(c.model.params.get(name)!), toArray(p));
  for (const [name, s] of model.batchStats) assert.deepEqual(toArray(c.model.batchStats.get(name)!), toArray(s));
  for (const [name, e] of ema.values) assert.deepEqual(toArray(c.ema.get(name)!), toArray(e));
  assert.deepEqual(toArray(c.ema.get('dense_out/bias')!), [2]);
  assert.deepEqual(c.metadata, { step: 42, note: 'test' });
  assert.deepEqual(c.model.config, model.config);
  const x = tf.tensor2d([1, -2], [2, 1]);
  assert.deepEqual(toArray(c.model.predict(x, 10)), toArray(model.predict(x, 10)));
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
  c.dispose();
});

test('missing, truncated, corrupted or mismatched checkpoints give clear errors', () => {
  assert.throws(() => loadCheckpoint('/nonexistent/ckpt'), /no checkpoint at \/nonexistent\/ckpt/);
  assert.throws(
    () => loadTrainedCheckpoint('/nonexistent/ckpt'),
    /^Error: no checkpoint at \/nonexistent\/ckpt \(missing manifest.json\)\nRun notebooks\/03-training.ipynb first: it trains the model and saves it to \/nonexistent\/ckpt\.$/,
  );
  const { dir } = saved();
  assert.throws(() => loadCheckpoint(dir, { width: 128 }), /width is 16 in the checkpoint, expected 128/);

  const weights = weightsFile(dir);
  const bytes = fs.readFileSync(weights);
  fs.writeFileSync(weights, bytes.subarray(0, bytes.length - 8));
  assert.throws(
    () => loadCheckpoint(dir),
    /weights-[0-9a-f]{16}\.bin has \d+ bytes but manifest.json says \d+: the file is truncated/,
  );
  const flipped = Buffer.from(bytes);
  flipped[100] ^= 0xff;
  fs.writeFileSync(weights, flipped);
  assert.throws(() => loadCheckpoint(dir), /SHA-256 checksum does not match manifest.json: the weights are corrupted/);
  fs.writeFileSync(weights, bytes);

  // manifests that pass their checksum but do not fit the model code (a save by other code)
  const manifestPath = path.join(dir, 'manifest.json');
  const good = fs.readFileSync(manifestPath, 'utf8');
  rewriteManifest(dir, (m) => (m.modelConfig.width = 32)); // the stored tensors no longer fit
  assert.throws(
    () => loadCheckpoint(dir),
    /has shape \[33,16\], the model the manifest describes \(width 32, depth 2, time embedding 32\) needs \[33,32\]: manifest.json does not match/,
  );
  fs.writeFileSync(manifestPath, good);
  rewriteManifest(
    dir,
    (m) =>
      (m.tensors = m.tensors.filter(
        (t: { name: string; group: string }) => !(t.group === 'ema' && t.name === 'bn_out/scale'),
      )),
  );
  assert.throws(() => loadCheckpoint(dir), /ema:bn_out\/scale is missing/);
  fs.writeFileSync(manifestPath, '{"format": "tsdiff');
  assert.throws(() => loadCheckpoint(dir), /manifest.json is damaged: it is not valid JSON/);
  fs.rmSync(weights);
  fs.writeFileSync(manifestPath, good);
  assert.throws(() => loadCheckpoint(dir), /missing weights-[0-9a-f]{16}\.bin/);
});

test('a one-byte change anywhere in manifest.json is rejected at load', () => {
  const { dir } = saved();
  const manifestPath = path.join(dir, 'manifest.json');
  const good = fs.readFileSync(manifestPath);
  // the reported case: the second tensor's offset moved by one float (its last digit + 1)
  const lastDigit = good.indexOf(',', good.indexOf('"offset": ', good.indexOf('"offset": ') + 1)) - 1;
  assert.match(String.fromCharCode(good[lastDigit]), /[0-8]/);
  const shifted = Buffer.from(good);
  shifted[lastDigit] += 1;
  fs.writeFileSync(manifestPath, shifted);
  assert.throws(
    () => loadTrainedCheckpoint(dir),
    (e: Error) =>
      e.message ===
      `checkpoint ${dir}: manifest.json is damaged (its checksum does not match its content): it was changed after it was saved\nRun notebooks/03-training.ipynb first: it trains the model and saves it to ${dir}.`,
  );
  fs.writeFileSync(manifestPath, good);
  // every byte in turn, changed in place (rewriting the whole file each time is 2 ms on ext4)
  const fd = fs.openSync(manifestPath, 'r+');
  for (let i = 0; i < good.length; i++) {
    fs.writeSync(fd, Buffer.from([good[i] ^ 1]), 0, 1, i);
    assert.throws(
      () => loadCheckpoint(dir),
      (e: Error) => e.name === 'CheckpointError' && /manifest.json is damaged/.test(e.message),
      `byte ${i}`,
    );
    fs.writeSync(fd, good, i, 1, i);
  }
  fs.closeSync(fd);
  loadCheckpoint(dir).dispose();
  fs.rmSync(dir, { recursive: true });
});

test('a checkpoint of the earlier format, without a manifest checksum, is rejected saying so', () => {
  const { dir } = saved();
  const manifestPath = path.join(dir, 'manifest.json');
  const { manifestSha256: _, ...v1 } = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  fs.writeFileSync(manifestPath, JSON.stringify({ ...v1, version: 1 }, null, 2));
  assert.throws(
    () => loadCheckpoint(dir),
    /manifest.json is in the format of an earlier version of this project \(version 1\), whose manifest.json has no checksum of its own: a change to it could not be detected, so it is not loaded. Save the model again.$/,
  );
  fs.rmSync(dir, { recursive: true });
});

test('a second save replaces the first in one step and leaves no stray files', () => {
  const { dir, model, ema } = saved();
  const first = weightsFile(dir);
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([7]));
  saveCheckpoint(dir, model, ema.values, { step: 43 });
  assert.notEqual(weightsFile(dir), first);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['manifest.json', path.basename(weightsFile(dir))].sort());
  const c = loadCheckpoint(dir);
  assert.deepEqual(toArray(c.model.params.get('dense_out/bias')!), [7]);
  assert.equal(c.metadata.step, 43);
  c.dispose();
  // saving the same weights again keeps one weights file
  saveCheckpoint(dir, model, ema.values, { step: 44 });
  assert.equal(fs.readdirSync(dir).length, 2);
});

test('an unwritable folder is reported before any work, as a CheckpointError', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-')), 'not-a-folder');
  fs.writeFileSync(file, 'x');
  assert.throws(() => assertWritableDirectory(path.join(file, 'velocity')), /cannot write to .*not-a-folder\/velocity/);
});

test('on a full disk the save throws and the previous checkpoint still loads', (t) => {
  const disk = smallDisk('600k');
  if (!disk) return t.skip('mount needs root');
  try {
    const dir = path.join(disk, 'velocity');
    const model = new VelocityModel({}, new Rng(2).fork('init')); // about 460 kB of weights
    const ema = new ParameterEMA(model.params, 0.5);
    saveCheckpoint(dir, model, ema.values, { step: 1 });
    model.params.get('dense_out/bias')!.assign(tf.tensor1d([3]));
    // a second weights file does not fit beside the first
    assert.throws(
      () => saveCheckpoint(dir, model, ema.values, { step: 2 }),
      (e: Error) =>
        e.name === 'CheckpointError' &&
        /could not save the checkpoint .*previous checkpoint there, if any, is unchanged/s.test(e.message),
    );
    const c = loadCheckpoint(dir);
    assert.equal(c.metadata.step, 1);
    assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
    c.dispose();
    model.dispose();
    ema.dispose();
  } finally {
    releaseDisk(disk);
  }
});

/** Run a node script to its end; resolves with its exit code and output. */
function runNode(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('writers saving into one folder at the same moment always leave one of their models, loadable', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-race-'));
  const [writers, trials] = [3, 10];
  const script = path.join(__dirname, 'fixtures', 'save-checkpoints.js');
  const runs = await Promise.all(
    [...Array(writers).keys()].map((w) => runNode([script, root, `${w}`, `${writers}`, `${trials}`])),
  );
  for (const r of runs) assert.equal(r.code, 0, r.output);
  const reference = writerModel();
  for (let i = 0; i < trials; i++) {
    const dir = path.join(root, `trial-${i}`);
    const c = loadCheckpoint(dir);
    const writer = c.metadata.writer as number;
    assert.ok(writer >= 0 && writer < writers && c.metadata.trial === i, `trial ${i}: ${JSON.stringify(c.metadata)}`);
    reference.params.get('dense_out/bias')!.assign(tf.tensor1d([writer * 1000 + i]));
    for (const [name, p] of reference.params)
      assert.deepEqual(toArray(c.model.params.get(name)!), toArray(p), `trial ${i}: ${name}`);
    c.dispose();
    assert.deepEqual(
      fs.readdirSync(dir).sort(),
      ['manifest.json', path.basename(weightsFile(dir))].sort(),
      `trial ${i}: no file left behind`,
    );
  }
  reference.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a load while saves into the same folder switch checkpoints always loads one of them whole', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-race-'));
  const dir = path.join(root, 'one');
  const saves = 60;
  const writing = runNode([path.join(__dirname, 'fixtures', 'save-checkpoints.js'), root, '0', '1', `${saves}`, 'one']);
  let done = false;
  void writing.then(() => (done = true));
  let loads = 0;
  while (!done) {
    if (fs.existsSync(path.join(dir, 'manifest.json'))) {
      const c = loadCheckpoint(dir);
      assert.deepEqual(toArray(c.model.params.get('dense_out/bias')!), [c.metadata.trial]);
      c.dispose();
      loads++;
    }
    await new Promise(setImmediate);
  }
  const r = await writing;
  assert.equal(r.code, 0, r.output);
  assert.ok(loads > 10, `${loads} loads`);
  fs.rmSync(root, { recursive: true, force: true });
});

test('a save removes only its own earlier weights, never other files in the folder', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const foreign: Record<string, string> = {
    'weights.bin': 'a tfjs model', // another program's weights
    'model.json': '{"weightsManifest": []}',
    'weights-0123456789abcdef.bin': 'named like a checkpoint file, but not by its checksum',
    'notes.txt': 'mine',
  };
  for (const [name, text] of Object.entries(foreign)) fs.writeFileSync(path.join(dir, name), text);
  const model = new VelocityModel({ width: 16, depth: 2 }, new Rng(1).fork('init'));
  saveCheckpoint(dir, model, model.params);
  const first = path.basename(weightsFile(dir));
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([5]));
  saveCheckpoint(dir, model, model.params);
  const current = path.basename(weightsFile(dir));
  assert.notEqual(current, first);
  assert.deepEqual(fs.readdirSync(dir).sort(), [...Object.keys(foreign), 'manifest.json', current].sort());
  for (const [name, text] of Object.entries(foreign))
    assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), text, name);
  loadCheckpoint(dir).dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('a manifest.json that is not a checkpoint manifest is never replaced', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const theirs = '{"name": "another program"}';
  fs.writeFileSync(path.join(dir, 'manifest.json'), theirs);
  const model = new VelocityModel({ width: 16, depth: 2 }, new Rng(1).fork('init'));
  const refused = new RegExp(
    `^${dir}/manifest.json is not a checkpoint's manifest \\(format: undefined\\), and a checkpoint save would replace it: move that file away, or save to another folder$`,
  );
  assert.throws(
    () => assertWritableDirectory(dir),
    (e: Error) => refused.test(e.message),
  );
  assert.throws(
    () => saveCheckpoint(dir, model, model.params),
    (e: Error) => e.name === 'CheckpointError' && refused.test(e.message),
  );
  assert.equal(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'), theirs);
  assert.deepEqual(fs.readdirSync(dir), ['manifest.json']);
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});

/** Start the lock-holding fixture on `dir`; resolves once it holds the lock. */
function holdLock(dir: string, ms: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'hold-lock.js'), dir, `${ms}`]);
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`hold-lock.js exited ${code}`)));
  });
}

test('a save waits for the process holding the folder lock, saying which, and takes over the lock of a dead one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const model = new VelocityModel({ width: 16, depth: 2 }, new Rng(1).fork('init'));
  const said: string[] = [];
  const consoleError = console.error;
  console.error = (line: string) => said.push(line);
  try {
    const holder = await holdLock(dir, 500);
    saveCheckpoint(dir, model, model.params, { step: 1 });
    assert.equal(said.length, 1, `the save waited, saying so once: ${said.join('\n')}`);
    const waiting = `${dir} is locked by process ${holder.pid} on ${os.hostname()} since \\S+: waiting for that checkpoint save to finish\\. If no save is running, delete ${dir}/checkpoint\\.lock\\.`;
    assert.match(said[0], new RegExp(`^${waiting}$`));

    const killed = await holdLock(dir, 60_000);
    const exited = new Promise((resolve) => killed.once('exit', resolve));
    killed.kill('SIGKILL');
    await exited;
    assert.ok(fs.existsSync(path.join(dir, 'checkpoint.lock')), 'the dead process left its lock');
    said.length = 0;
    saveCheckpoint(dir, model, model.params, { step: 2 });
    assert.deepEqual(said, [], 'no wait for a dead process');
  } finally {
    console.error = consoleError;
  }
  const c = loadCheckpoint(dir);
  assert.equal(c.metadata.step, 2);
  c.dispose();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['manifest.json', path.basename(weightsFile(dir))].sort());
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});
