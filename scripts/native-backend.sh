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
# Quick when up to date (a stamp in deps/ records the wheel's hash). A failure leaves no binding,
# so src/runtime/backend.ts falls back to WebAssembly; it is fatal when CI is set, where the tests
# must run on the backend users get. TSDIFFUSION_NATIVE=0 skips the build.
#
#   sh scripts/native-backend.sh
set -e
cd "$(dirname "$0")/.."
pkg=node_modules/@tensorflow/tfjs-node
requirements=requirements/native.txt
cache=.cache/native

say() { echo "[native-backend] $*"; }
fail() {
  rm -rf "$pkg/lib/napi-v8" "$pkg/deps"
  if [ -n "$CI" ]; then
    echo "[native-backend] FAILED: $*" >&2
    exit 1
  fi
  echo "[native-backend] not built: $* (the WebAssembly backend is used instead)" >&2
  exit 0
}

[ "${TSDIFFUSION_NATIVE:-1}" = 0 ] && { say "skipped (TSDIFFUSION_NATIVE=0)"; exit 0; }
[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || fail "the PyPI wheel used here is for Linux x86_64 only"
[ -d "$pkg" ] || fail "$pkg is not installed (npm ci installs it as an optional dependency)"
kernels=src/runtime/fused-kernels.cc
want=$( { cat "$requirements" scripts/native-backend.sh scripts/patch-tfjs-binding.js "$kernels"; node -p process.versions.napi; } | sha256sum | cut -d' ' -f1)
if [ -f "$pkg/lib/napi-v8/tfjs_binding.node" ] && [ "$(cat "$pkg/deps/stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
# the project's Jupyter venv (scripts/python-env.sh) has pip; Debian's own python3 may not
python=.venv/bin/python
[ -x "$python" ] || python=python3
for tool in "$python" gcc g++ make readelf; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (Debian: scripts/system-deps.sh installs it as root)"
done

say "downloading the TensorFlow 2.9.3 CPU wheel from PyPI (about 200 MB; cached in $cache)"
mkdir -p "$cache/wheel"
"$python" -m pip download --disable-pip-version-check --no-input -q --no-deps --only-binary=:all: \
  --python-version 3.10 --platform manylinux2014_x86_64 --require-hashes -r "$requirements" -d "$cache/wheel" ||
  fail "pip could not download the wheel in $requirements (is PyPI reachable?)"
wheel=$(ls "$cache"/wheel/tensorflow_cpu-2.9.3-*.whl | head -1)

say "unpacking the shared libraries and C headers"
rm -rf "$cache/tf" && mkdir -p "$cache/tf"
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
mkdir -p "$cache/stub"
readelf -W --dyn-syms "$capi" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }' | grep -E '^_?Py' | sort -u > "$cache/stub/symbols.txt" ||
  fail "readelf found no libpython symbols in $capi"
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
} > "$cache/stub/pystub.c"
gcc -shared -fPIC -O1 -Wl,-soname,libpystub.so -o "$cache/stub/libpystub.so" "$cache/stub/pystub.c" || fail "gcc could not build the stub"

say "building tfjs_binding.node"
rm -rf "$pkg/deps" "$pkg/lib/napi-v8"
mkdir -p "$pkg/deps/lib" "$pkg/deps/include"
cp -r "$tf/include/tensorflow" "$pkg/deps/include/"
cp "$capi" "$tf/libtensorflow_framework.so.2" "$cache/stub/libpystub.so" "$pkg/deps/lib/"
ln -s libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"
# binding.gyp links -ltensorflow: this linker script makes that the C API library plus the stub
echo 'INPUT(_pywrap_tensorflow_internal.so libpystub.so)' > "$pkg/deps/lib/libtensorflow.so"
node scripts/patch-tfjs-binding.js "$pkg/binding/tfjs_backend.cc" || fail "could not patch tfjs-node's binding source"
gyp="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
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
  -I"$nodedir/include/node" -I"$pkg/deps/include" "$kernels" -o "$pkg/lib/napi-v8/tsdiffusion_kernels.node" \
  -L"$pkg/deps/lib" -ltensorflow -Wl,-rpath,'$ORIGIN/../../deps/lib' -Wl,-z,nodelete > "$pkg/kernels.log" 2>&1 ||
  fail "g++ could not build the fused kernels (see $pkg/kernels.log)"

TF_CPP_MIN_LOG_LEVEL=2 node -e "
const tf = require('@tensorflow/tfjs-node');
const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync();
if (JSON.stringify(product) !== '[[19,22],[43,50]]') throw new Error('wrong product ' + JSON.stringify(product));
require('./$pkg/lib/napi-v8/tsdiffusion_kernels.node');
const attr = (name, value) => ({ name, type: tf.backend().binding.TF_ATTR_FLOAT, value });
const [y] = tf.backend().executeMultipleOutputs('TsdGeluForward', [attr('cubic', 0), attr('linear', 0), attr('cubic_slope', 0)], [tf.tensor1d([2]), tf.scalar(0), tf.scalar(0)], 2);
if (y.dataSync()[0] !== 1) throw new Error('fused GELU of 2 with u = 0 gave ' + y.dataSync()[0] + ', not 1');
console.log('[native-backend] ready: TensorFlow ' + tf.backend().binding.TF_Version + ' for tfjs-node ' + require('@tensorflow/tfjs-node/package.json').version);
" || fail "the built backend or its fused kernels do not load"
echo "$want" > "$pkg/deps/stamp"
