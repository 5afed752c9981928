// Fused TensorFlow CPU kernels for the training step (src/model/training-pass.ts), built by
// scripts/native-backend.sh as a Node addon that registers them with the TensorFlow library
// tfjs-node runs on; src/runtime/fused-kernels.ts loads it and calls the ops.
//
// Why: on native TensorFlow, a GELU (src/model/activations.ts, sigmoid form) with its dropout mask
// and residual add is 8 elementwise ops forward and 8 backward, and a layer's input gradient is 3
// more (src/model/norm-dense.ts); each is a separate pass over the [rows, 128] activations and a
// separate op dispatch, together ~3.5 ms per layer of a ~46 ms training step at 2,048 rows. Each
// kernel here is one pass.
//
// Each kernel performs the same float operations, in the same order, as the ops it replaces, so its
// results are bit-identical (test/fused-kernels.test.ts checks it). That includes the sigmoid:
// TensorFlow's Sigmoid is Eigen's generic scalar_logistic_op, exp(x) / (1 + exp(x)) with exp from
// pexp_float (Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h), compiled for AVX without
// FMA, on a thread that flushes denormals to zero. It is reproduced below step by step.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include <initializer_list>
#include <mutex>
#include <string>

#include <node_api.h>

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

namespace {

// ---- Eigen's float exp and logistic, eight lanes at a time (AVX2) and one at a time -----------

// y·2^m for the y in [0.5, 2) that the polynomial gives. Eigen's pldexp multiplies by four powers
// of two; every product but the last is exact there, so two factors give the same float (flushed
// to zero where Eigen's is).
inline __m256 scale_by_pow2(__m256 y, __m256 m) {
  const __m256i e = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(m, _mm256_set1_ps(-150.f)), _mm256_set1_ps(128.f)));
  const __m256i half = _mm256_srai_epi32(e, 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 c1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  const __m256 c2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(e, half), bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, c1), c2);
}

inline __m256 madd(__m256 a, __m256 b, __m256 c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }  // no FMA, as Eigen on AVX

// pexp_float: exp(x) = 2^m·exp(r), m = floor(x/ln 2 + 1/2), with a degree-6 polynomial for exp(r)
inline __m256 exp_eigen(__m256 x0) {
  const __m256 x = _mm256_min_ps(x0, _mm256_set1_ps(88.723f));
  const __m256 m = _mm256_floor_ps(madd(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = madd(m, _mm256_set1_ps(-0.693359375f), x);
  r = madd(m, _mm256_set1_ps(2.12194440e-4f), r);
  const __m256 r2 = _mm256_mul_ps(r, r);
  __m256 p_even = madd(r2, _mm256_set1_ps(1.37449637986719608306884765625e-3f), _mm256_set1_ps(4.166965186595916748046875e-2f));
  const __m256 p_odd = madd(r2, _mm256_set1_ps(8.36894474923610687255859375e-3f), _mm256_set1_ps(0.16666518151760101318359375f));
  p_even = madd(r2, p_even, _mm256_set1_ps(0.49999988079071044921875f));
  const __m256 p_low = _mm256_add_ps(r, _mm256_set1_ps(1.0f));
  __m256 y = madd(r, p_odd, p_even);
  y = madd(r2, y, p_low);
  const __m256 e = _mm256_max_ps(scale_by_pow2(y, m), x0);
  return _mm256_andnot_ps(_mm256_cmp_ps(x0, _mm256_set1_ps(-104.f), _CMP_LT_OQ), e);
}

// scalar_logistic_op: e / (1 + e), and 1 where e overflowed
inline __m256 sigmoid_eigen(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_eigen(x);
  const __m256 s = _mm256_div_ps(e, _mm256_add_ps(one, e));
  return _mm256_blendv_ps(s, one, _mm256_cmp_ps(e, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ));
}

// One float through the eight-lane code (for a tail shorter than eight).
inline float sigmoid_eigen(float x) { return _mm256_cvtss_f32(sigmoid_eigen(_mm256_set1_ps(x))); }

// ---- The kernels ------------------------------------------------------------------------------

// The GELU's coefficients (op attributes): u = (cubic·z² + linear)·z; its slope uses cubic_slope = 3·cubic.
struct Coefficients {
  float cubic, linear, cubic_slope;
};

// Flush denormals to zero while a kernel runs, as TensorFlow's own kernels do.
struct FlushDenormals {
  unsigned saved = _mm_getcsr();
  FlushDenormals() { _mm_setcsr(saved | _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON); }
  ~FlushDenormals() { _mm_setcsr(saved); }
};

// y = residual + z·σ(u)·mask and σ(u), u = (cubic·z² + linear)·z; the order of activations.ts's ops.
template <bool Masked, bool Residual>
void gelu_forward_rows(const Coefficients& k, const float* z, const float* mask, const float* residual, float* y, float* sg, int64_t n) {
  const __m256 cubic = _mm256_set1_ps(k.cubic), linear = _mm256_set1_ps(k.linear);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 zi = _mm256_loadu_ps(z + i);
    const __m256 s = sigmoid_eigen(_mm256_mul_ps(madd(_mm256_mul_ps(zi, zi), cubic, linear), zi));
    __m256 g = _mm256_mul_ps(zi, s);
    if (Masked) g = _mm256_mul_ps(g, _mm256_loadu_ps(mask + i));
    if (Residual) g = _mm256_add_ps(_mm256_loadu_ps(residual + i), g);
    _mm256_storeu_ps(y + i, g);
    _mm256_storeu_ps(sg + i, s);
  }
  for (; i < n; i++) {
    const float s = sigmoid_eigen((z[i] * z[i] * k.cubic + k.linear) * z[i]);
    float g = z[i] * s;
    if (Masked) g = g * mask[i];
    y[i] = Residual ? residual[i] + g : g;
    sg[i] = s;
  }
}

// dz = (dy·mask)·(σ + (z·σ)·(1 − σ)·(cubic_slope·z² + linear)); the order of activations.ts's ops.
template <bool Masked>
void gelu_backward_rows(const Coefficients& k, const float* dy, const float* z, const float* sg, const float* mask, float* dz, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float dg = Masked ? dy[i] * mask[i] : dy[i];
    const float slope = sg[i] + ((z[i] * sg[i]) * (1.f - sg[i])) * ((z[i] * z[i]) * k.cubic_slope + k.linear);
    dz[i] = dg * slope;
  }
}

// dh = ((p + gamma) + h·beta) + residual, gamma and beta per column; the order of norm-dense.ts's
// bias add, multiply and addN.
template <bool Residual>
void layer_input_grad_rows(const float* p, const float* gamma, const float* h, const float* beta, const float* residual, float* dh, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    const int64_t at = r * cols;
    for (int64_t c = 0; c < cols; c++) {
      const float sum = (p[at + c] + gamma[c]) + h[at + c] * beta[c];
      dh[at + c] = Residual ? sum + residual[at + c] : sum;
    }
  }
}

// The inputs of one kernel call, released when it returns. A rank-0 input stands for "none".
struct Inputs {
  TF_Tensor* t[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  int count = 0;
  ~Inputs() {
    for (TF_Tensor* x : t) TF_DeleteTensor(x);
  }
  bool read(TF_OpKernelContext* ctx, int n, TF_Status* s) {
    for (count = 0; count < n; count++) {
      TF_GetInput(ctx, count, &t[count], s);
      if (TF_GetCode(s) != TF_OK) return false;
      if (TF_TensorType(t[count]) != TF_FLOAT) {
        TF_SetStatus(s, TF_INVALID_ARGUMENT, "fused kernels take float32 tensors");
        return false;
      }
    }
    return true;
  }
  // Whether input i (if present) has `count` elements; sets the status if not.
  bool sized(int i, int64_t count, TF_Status* s) const {
    if (!present(i) || TF_TensorElementCount(t[i]) == count) return true;
    TF_SetStatus(s, TF_INVALID_ARGUMENT, "fused kernels: inputs differ in size");
    return false;
  }
  bool present(int i) const { return TF_NumDims(t[i]) > 0; }
  const float* data(int i) const { return present(i) ? static_cast<const float*>(TF_TensorData(t[i])) : nullptr; }
};

// An output shaped like `like`, or null (with the status set).
float* allocate_like(TF_OpKernelContext* ctx, int index, TF_Tensor* like, TF_Status* s) {
  int64_t dims[8];
  const int rank = TF_NumDims(like);
  if (rank > 8) {
    TF_SetStatus(s, TF_INVALID_ARGUMENT, "fused kernels: rank above 8");
    return nullptr;
  }
  for (int i = 0; i < rank; i++) dims[i] = TF_Dim(like, i);
  TF_Tensor* out = TF_AllocateOutput(ctx, index, TF_FLOAT, dims, rank, TF_TensorByteSize(like), s);
  if (TF_GetCode(s) != TF_OK) return nullptr;
  float* data = static_cast<float*>(TF_TensorData(out));
  TF_DeleteTensor(out);  // the context keeps the output alive
  return data;
}

void* create_coefficients(TF_OpKernelConstruction* ctx) {
  auto* k = new Coefficients();
  TF_Status* s = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrFloat(ctx, "cubic", &k->cubic, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(ctx, "linear", &k->linear, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(ctx, "cubic_slope", &k->cubic_slope, s);
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return k;
}

void delete_coefficients(void* k) { delete static_cast<Coefficients*>(k); }

// TsdGeluForward(z, mask, residual) -> (y, sigmoid)
void gelu_forward(void* kernel, TF_OpKernelContext* ctx) {
  const Coefficients& k = *static_cast<Coefficients*>(kernel);
  TF_Status* s = TF_NewStatus();
  Inputs in;
  const int64_t n = in.read(ctx, 3, s) ? TF_TensorElementCount(in.t[0]) : 0;
  if (TF_GetCode(s) == TF_OK && in.sized(1, n, s) && in.sized(2, n, s)) {
    float* y = allocate_like(ctx, 0, in.t[0], s);
    float* sg = y ? allocate_like(ctx, 1, in.t[0], s) : nullptr;
    if (sg) {
      FlushDenormals ftz;
      const float *z = in.data(0), *mask = in.data(1), *residual = in.data(2);
      if (mask && residual) gelu_forward_rows<true, true>(k, z, mask, residual, y, sg, n);
      else if (mask) gelu_forward_rows<true, false>(k, z, mask, residual, y, sg, n);
      else if (residual) gelu_forward_rows<false, true>(k, z, mask, residual, y, sg, n);
      else gelu_forward_rows<false, false>(k, z, mask, residual, y, sg, n);
    }
  }
  if (TF_GetCode(s) != TF_OK) TF_OpKernelContext_Failure(ctx, s);
  TF_DeleteStatus(s);
}

// TsdGeluBackward(dy, z, sigmoid, mask) -> dz
void gelu_backward(void* kernel, TF_OpKernelContext* ctx) {
  const Coefficients& k = *static_cast<Coefficients*>(kernel);
  TF_Status* s = TF_NewStatus();
  Inputs in;
  const int64_t n = in.read(ctx, 4, s) ? TF_TensorElementCount(in.t[1]) : 0;
  if (TF_GetCode(s) == TF_OK && in.sized(0, n, s) && in.sized(2, n, s) && in.sized(3, n, s)) {
    float* dz = allocate_like(ctx, 0, in.t[1], s);
    if (dz) {
      FlushDenormals ftz;
      if (in.present(3)) gelu_backward_rows<true>(k, in.data(0), in.data(1), in.data(2), in.data(3), dz, n);
      else gelu_backward_rows<false>(k, in.data(0), in.data(1), in.data(2), nullptr, dz, n);
    }
  }
  if (TF_GetCode(s) != TF_OK) TF_OpKernelContext_Failure(ctx, s);
  TF_DeleteStatus(s);
}

// TsdLayerInputGrad(p [rows, cols], gamma [cols], h [rows, cols], beta [cols], residual) -> dh
void layer_input_grad(void*, TF_OpKernelContext* ctx) {
  TF_Status* s = TF_NewStatus();
  Inputs in;
  if (in.read(ctx, 5, s)) {
    if (TF_NumDims(in.t[0]) != 2) TF_SetStatus(s, TF_INVALID_ARGUMENT, "TsdLayerInputGrad: p must have rank 2");
  }
  const int64_t rows = TF_GetCode(s) == TF_OK ? TF_Dim(in.t[0], 0) : 0, cols = TF_GetCode(s) == TF_OK ? TF_Dim(in.t[0], 1) : 0;
  if (TF_GetCode(s) == TF_OK && in.sized(1, cols, s) && in.sized(2, rows * cols, s) && in.sized(3, cols, s) && in.sized(4, rows * cols, s)) {
    if (!in.present(1) || !in.present(2) || !in.present(3)) TF_SetStatus(s, TF_INVALID_ARGUMENT, "TsdLayerInputGrad: only the residual may be absent");
  }
  if (TF_GetCode(s) == TF_OK) {
    float* dh = allocate_like(ctx, 0, in.t[0], s);
    if (dh) {
      FlushDenormals ftz;
      if (in.present(4)) layer_input_grad_rows<true>(in.data(0), in.data(1), in.data(2), in.data(3), in.data(4), dh, rows, cols);
      else layer_input_grad_rows<false>(in.data(0), in.data(1), in.data(2), in.data(3), nullptr, dh, rows, cols);
    }
  }
  if (TF_GetCode(s) != TF_OK) TF_OpKernelContext_Failure(ctx, s);
  TF_DeleteStatus(s);
}

void* create_nothing(TF_OpKernelConstruction*) { return nullptr; }
void delete_nothing(void*) {}

bool register_op(const char* name, std::initializer_list<const char*> inputs, std::initializer_list<const char*> outputs,
                 void (*compute)(void*, TF_OpKernelContext*), TF_Status* s, bool gelu) {
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  for (const char* spec : inputs) TF_OpDefinitionBuilderAddInput(op, spec);
  for (const char* spec : outputs) TF_OpDefinitionBuilderAddOutput(op, spec);
  if (gelu)
    for (const char* attr : {"cubic: float", "linear: float", "cubic_slope: float"}) TF_OpDefinitionBuilderAddAttr(op, attr);
  TF_RegisterOpDefinition(op, s);
  if (TF_GetCode(s) != TF_OK) return false;
  TF_KernelBuilder* kernel = gelu ? TF_NewKernelBuilder(name, "CPU", create_coefficients, compute, delete_coefficients)
                                  : TF_NewKernelBuilder(name, "CPU", create_nothing, compute, delete_nothing);
  TF_RegisterKernelBuilder(name, kernel, s);
  return TF_GetCode(s) == TF_OK;
}

}  // namespace

// Registers the ops once per process (every worker thread that loads the addon calls this).
static napi_value Init(napi_env env, napi_value exports) {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    if (!__builtin_cpu_supports("avx2")) {
      error = "this CPU lacks AVX2";
      return;
    }
    TF_Status* s = TF_NewStatus();
    if (!register_op("TsdGeluForward", {"z: float", "mask: float", "residual: float"}, {"y: float", "sigmoid: float"}, gelu_forward, s, true) ||
        !register_op("TsdGeluBackward", {"dy: float", "z: float", "sigmoid: float", "mask: float"}, {"dz: float"}, gelu_backward, s, true) ||
        !register_op("TsdLayerInputGrad", {"p: float", "gamma: float", "h: float", "beta: float", "residual: float"}, {"dh: float"}, layer_input_grad, s, false))
      error = TF_Message(s);
    TF_DeleteStatus(s);
  });
  if (!error.empty()) napi_throw_error(env, nullptr, ("fused kernels: " + error).c_str());
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
