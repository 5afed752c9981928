#!/bin/sh
# Builds the native TensorFlow backend (@tensorflow/tfjs-node) from registry packages only.
#
# tfjs-node's own install script downloads libtensorflow 2.9.1 from Google's storage, which is
# out of reach here (npm runs no install scripts unless allowed, and the host is not reachable).
# Instead:
#   1. pip downloads the TensorFlow 2.9.3 CPU wheel from PyPI (pinned by hash in
#      requirements/native.txt). It carries libtensorflow_framework.so.2 and, in
#      python/_pywrap_tensorflow_internal.so, the TensorFlow C and eager C APIs (TF_*, TFE_*) that
#      tfjs-node's binding calls.
#   2. That library also references libpython symbols and is linked to resolve every symbol at
#      load time. The binding never calls into Python, so a generated stub library defines them:
#      data symbols as zeroed storage, functions as stubs that abort with their name.
#   3. deps/ is laid out as tfjs-node's binding.gyp expects (a linker script stands in for
#      libtensorflow.so), the binding's source gets a lock that makes it safe on several worker
#      threads (scripts/patch-tfjs-binding.js), and node-pre-gyp builds tfjs_binding.node against
#      the local Node headers.
#   4. The fused kernels of src/runtime/fused-kernels.cc are compiled against the same
#      libraries, as a Node addon beside the binding (tsdiffusion_kernels.node).
#   5. A smoke test loads the backend, multiplies two matrices and runs a fused GELU.
#
# Quick when up to date: a stamp in deps/ records the hash of the build's inputs, and the smoke
# test of step 5 passes (a damaged library, e.g. a truncated one, makes it rebuild). A failure
# leaves no binding where tfjs-node loads it, so src/runtime/backend.ts falls back to WebAssembly;
# it is fatal when CI is set, where the tests must run on the backend users get. What the failed
# step needs stays, to rerun it by hand: deps/, the logs, the unpacked wheel in .cache/native/, and
# the binding itself moved to lib/napi-v8.failed/; the next run starts from scratch.
# TSDIFFUSION_NATIVE=0 skips the build.
#
#   sh scripts/native-backend.sh           builds the backend, or checks it when up to date
#   sh scripts/native-backend.sh --check   only runs the smoke test on the installed backend
set -e
cd "$(dirname "$0")/.."
pkg=node_modules/@tensorflow/tfjs-node
binding=$pkg/lib/napi-v8
requirements=requirements/native.txt
cache=.cache/native
kernels=src/runtime/fused-kernels.cc

say() { echo "[native-backend] $*"; }
fail() {
  why=$*
  # tfjs-node must not load a binding that failed or is out of date; it is kept to debug, elsewhere
  if [ -e "$binding" ]; then
    if rm -rf "$binding.failed" && mv "$binding" "$binding.failed"; then
      why="$why; the binding is moved out of tfjs-node's way to $binding.failed"
    else
      rm -rf "$binding"
    fi
  fi
  rm -f "$pkg/deps/stamp"
  [ -d "$pkg/deps" ] && why="$why; $pkg/deps is kept to debug"
  why="$why (the next run starts from scratch)"
  if [ -n "$CI" ]; then
    echo "[native-backend] FAILED: $why" >&2
    exit 1
  fi
  echo "[native-backend] not built: $why; the WebAssembly backend is used instead" >&2
  exit 0
}

# The smoke test (step 5), in a child process, so that a damaged library kills only the child (a
# truncated one with SIGBUS): prints its ready line, or sets $problem and returns 1.
smoke_test() {
  status=0
  ready=$(TF_CPP_MIN_LOG_LEVEL=2 node -e "
const tf = require('@tensorflow/tfjs-node');
const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync();
if (JSON.stringify(product) !== '[[19,22],[43,50]]') throw new Error('wrong product ' + JSON.stringify(product));
require('./$binding/tsdiffusion_kernels.node');
const attr = (name, value) => ({ name, type: tf.backend().binding.TF_ATTR_FLOAT, value });
const [y] = tf.backend().executeMultipleOutputs('TsdGeluForward', [attr('cubic', 0), attr('linear', 0), attr('cubic_slope', 0)], [tf.tensor1d([2]), tf.scalar(0), tf.scalar(0)], 2);
if (y.dataSync()[0] !== 1) throw new Error('fused GELU of 2 with u = 0 gave ' + y.dataSync()[0] + ', not 1');
console.log('[native-backend] ready: TensorFlow ' + tf.backend().binding.TF_Version + ' for tfjs-node ' + require('@tensorflow/tfjs-node/package.json').version);
") || status=$?
  if [ "$status" = 0 ]; then
    echo "$ready"
  elif [ "$status" -gt 128 ]; then
    problem="node died of SIG$(kill -l "$status") (a damaged library in $binding or $pkg/deps/lib does that: a truncated one gives SIGBUS)"
    return 1
  else
    problem="node failed with exit status $status (its error is above)"
    return 1
  fi
}

if [ "$1" = --check ]; then
  smoke_test && exit 0
  echo "[native-backend] the installed backend does not work: $problem; sh scripts/native-backend.sh rebuilds it" >&2
  exit 1
fi
[ "${TSDIFFUSION_NATIVE:-1}" = 0 ] && { say "skipped (TSDIFFUSION_NATIVE=0)"; exit 0; }
[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || fail "the PyPI wheel used here is for Linux x86_64 only"
[ -d "$pkg" ] || fail "$pkg is not installed (npm ci installs it as an optional dependency)"
inputs=$(sha256sum "$requirements" scripts/native-backend.sh scripts/patch-tfjs-binding.js "$kernels") ||
  fail "could not read the build's inputs"
napi=$(node -p process.versions.napi) || fail "node -p process.versions.napi failed"
want=$(printf '%s\nN-API %s\n' "$inputs" "$napi" | sha256sum)
want=${want%% *}
if [ -f "$binding/tfjs_binding.node" ] && [ "$(cat "$pkg/deps/stamp" 2>/dev/null)" = "$want" ]; then
  smoke_test > /dev/null && exit 0
  say "rebuilding: the installed backend does not work: $problem"
fi
# the project's Jupyter venv (scripts/python-env.sh) has pip; Debian's own python3 may not
python=.venv/bin/python
[ -x "$python" ] || python=python3
for tool in "$python" gcc g++ make readelf; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (Debian: scripts/system-deps.sh installs it as root)"
done

say "downloading the TensorFlow 2.9.3 CPU wheel from PyPI (about 200 MB; cached in $cache)"
mkdir -p "$cache/wheel" || fail "could not create $cache/wheel"
"$python" -m pip download --disable-pip-version-check --no-input -q --no-deps --only-binary=:all: \
  --python-version 3.10 --platform manylinux2014_x86_64 --require-hashes -r "$requirements" -d "$cache/wheel" ||
  fail "pip could not download the wheel in $requirements (is PyPI reachable?)"
set -- "$cache"/wheel/tensorflow_cpu-2.9.3-*.whl
wheel=$1
[ -f "$wheel" ] || fail "pip downloaded no tensorflow_cpu-2.9.3 wheel into $cache/wheel"

say "unpacking the shared libraries and C headers"
{ rm -rf "$cache/tf" && mkdir -p "$cache/tf"; } || fail "could not empty $cache/tf"
"$python" - "$wheel" "$cache/tf" <<'EOF' || fail "could not unpack $wheel"
import sys, zipfile
wheel, out = sys.argv[1:]
wanted = ('tensorflow/libtensorflow_framework.so.2', 'tensorflow/python/_pywrap_tensorflow_internal.so')
with zipfile.ZipFile(wheel) as z:
    z.extractall(out, [n for n in z.namelist() if n in wanted or n.startswith('tensorflow/include/tensorflow/')])
EOF
tf=$cache/tf/tensorflow
capi=$tf/python/_pywrap_tensorflow_internal.so

say "generating the stub for its libpython symbols"
# one step at a time, each checked (sh has no pipefail: a pipeline's status is its last command's)
mkdir -p "$cache/stub" || fail "could not create $cache/stub"
readelf -W --dyn-syms "$capi" > "$cache/stub/dynsyms.txt" || fail "readelf could not read the symbols of $capi"
awk '$7 == "UND" { sub(/@.*/, "", $8); if ($8 ~ /^_?Py/) print $8 }' "$cache/stub/dynsyms.txt" > "$cache/stub/undefined.txt" ||
  fail "awk could not read $cache/stub/dynsyms.txt"
sort -u "$cache/stub/undefined.txt" > "$cache/stub/symbols.txt" || fail "could not sort $cache/stub/undefined.txt"
[ -s "$cache/stub/symbols.txt" ] || fail "readelf found no libpython symbols in $capi (see $cache/stub/dynsyms.txt)"
{
  echo '#include <stdio.h>'
  echo '#include <stdlib.h>'
  printf '%s\n' 'static void die(const char *name) { fprintf(stderr, "libpystub: %s called, but there is no Python here\n", name); abort(); }'
  while read -r symbol; do
    case "$symbol" in
      *_Type | *Struct | PyExc_*) echo "char $symbol[512];" ;;
      *) echo "void $symbol(void) { die(\"$symbol\"); }" ;;
    esac
  done < "$cache/stub/symbols.txt"
} > "$cache/stub/pystub.c" || fail "could not write $cache/stub/pystub.c"
gcc -shared -fPIC -O1 -Wl,-soname,libpystub.so -o "$cache/stub/libpystub.so" "$cache/stub/pystub.c" || fail "gcc could not build the stub"

say "building tfjs_binding.node"
# binding.gyp links -ltensorflow: a linker script makes that the C API library plus the stub
{
  rm -rf "$pkg/deps" "$binding" "$binding.failed" &&
    mkdir -p "$pkg/deps/lib" "$pkg/deps/include" &&
    cp -r "$tf/include/tensorflow" "$pkg/deps/include/" &&
    cp "$capi" "$tf/libtensorflow_framework.so.2" "$cache/stub/libpystub.so" "$pkg/deps/lib/" &&
    ln -s libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so" &&
    echo 'INPUT(_pywrap_tensorflow_internal.so libpystub.so)' > "$pkg/deps/lib/libtensorflow.so"
} || fail "could not lay out $pkg/deps (disk full?)"
node scripts/patch-tfjs-binding.js "$pkg/binding/tfjs_backend.cc" || fail "could not patch tfjs-node's binding source"
gyp="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" || fail "npm prefix -g failed"
[ -f "$gyp" ] || fail "npm's bundled node-gyp is not at $gyp"
nodedir=$(dirname "$(dirname "$(command -v node)")")
[ -f "$nodedir/include/node/node_api.h" ] || fail "no Node headers in $nodedir/include/node"
( cd "$pkg" && npm_config_node_gyp="$gyp" node ../../@mapbox/node-pre-gyp/bin/node-pre-gyp rebuild --build-from-source --nodedir="$nodedir" > build.log 2>&1 ) ||
  fail "node-pre-gyp could not build the binding (see $pkg/build.log)"

say "building the fused kernels of the training step"
# -ffp-contract=off and no -mfma: the kernels must round exactly as TensorFlow's own AVX build does.
# -z nodelete: Node unloads a worker thread's addons when it exits, and registering the ops again on
# the next load would abort TensorFlow (its op registry outlives the addon).
g++ -std=c++17 -O3 -mavx2 -ffp-contract=off -shared -fPIC -DNODE_GYP_MODULE_NAME=tsdiffusion_kernels \
  -I"$nodedir/include/node" -I"$pkg/deps/include" "$kernels" -o "$binding/tsdiffusion_kernels.node" \
  -L"$pkg/deps/lib" -ltensorflow -Wl,-rpath,'$ORIGIN/../../deps/lib' -Wl,-z,nodelete > "$pkg/kernels.log" 2>&1 ||
  fail "g++ could not build the fused kernels (see $pkg/kernels.log)"

smoke_test || fail "the built backend or its fused kernels do not work: $problem"
echo "$want" > "$pkg/deps/stamp" || fail "could not write $pkg/deps/stamp"
# a rebuild unpacks the wheel and makes the stub again: only the downloaded wheel is worth keeping
rm -rf "$cache/tf" "$cache/stub" || say "could not remove $cache/tf and $cache/stub (about 560 MB a rebuild does not need)"
