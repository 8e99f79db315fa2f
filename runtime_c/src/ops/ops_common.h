/* Private helpers shared by the op families in src/ops/. */
#ifndef PFW_OPS_COMMON_H
#define PFW_OPS_COMMON_H

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "internal.h"

/* Window geometry of Conv and the pools, right-aligned in 3 slots so one
 * loop nest serves 1-D, 2-D and 3-D: slots before 3-n hold in = k = out = 1,
 * s = d = 1 and no padding. */
#define PFW_SPATIAL_MAX 3
/* Buffer sizes a kernel plans from what a model sets (pads or dilations
 * near INT64_MAX): a + b and a * b of non-negative values, saturating just
 * past PFW_SIZE_LIMIT (2^48 elements, more than any buffer), so a plan that
 * overflows is seen as too big instead of wrapping. */
#define PFW_SIZE_LIMIT (INT64_C(1) << 48)
static inline int64_t pfw_size_add(int64_t a, int64_t b) {
  int64_t r;
  return a < 0 || b < 0 || __builtin_add_overflow(a, b, &r) || r > PFW_SIZE_LIMIT ? PFW_SIZE_LIMIT + 1 : r;
}
static inline int64_t pfw_size_mul(int64_t a, int64_t b) {
  int64_t r;
  return a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > PFW_SIZE_LIMIT ? PFW_SIZE_LIMIT + 1 : r;
}

typedef struct pfw_spatial {
  int32_t n; /* spatial dims of the tensor, 1..3 */
  int64_t in[PFW_SPATIAL_MAX], k[PFW_SPATIAL_MAX], s[PFW_SPATIAL_MAX], d[PFW_SPATIAL_MAX];
  int64_t pb[PFW_SPATIAL_MAX], pe[PFW_SPATIAL_MAX], out[PFW_SPATIAL_MAX];
} pfw_spatial;

/* Reads strides, dilations, pads and auto_pad of `node`, checks them and
 * computes the output size per ONNX (ceil_mode as the pools define it).
 * `in` and `kernel` hold n spatial sizes. */
pfw_status pfw_spatial_init(const pfw_node* node, int32_t n, const int64_t* in, const int64_t* kernel,
                            bool ceil_mode, pfw_spatial* g);

/* The same for ConvTranspose, whose output o = i*s - pb + t*d: `in` is the
 * input, `out` the output (from output_shape, auto_pad or pads and
 * output_padding), pb/pe the padding cropped from the full result. */
pfw_status pfw_spatial_transpose_init(const pfw_node* node, int32_t n, const int64_t* in, const int64_t* kernel,
                                      pfw_spatial* g);

/* Kernel taps t in [*t0, *t1) whose input o*s - pb + t*d lands in [0, in). */
static inline void pfw_spatial_taps(const pfw_spatial* g, int32_t a, int64_t o, int64_t* t0, int64_t* t1) {
  int64_t start = o * g->s[a] - g->pb[a];
  int64_t lo = 0, hi = g->k[a];
  if (start < 0) lo = (-start + g->d[a] - 1) / g->d[a];
  int64_t last = g->in[a] - 1 - start; /* t*d <= last */
  if (last < 0) hi = 0;
  else if (last / g->d[a] + 1 < hi) hi = last / g->d[a] + 1;
  *t0 = lo;
  *t1 = hi > lo ? hi : lo;
}

/* Taps of window `o` along slot a that fall inside the padded input
 * [-pb, in + pe): AveragePool's divisor when count_include_pad = 1. */
static inline int64_t pfw_spatial_padded_taps(const pfw_spatial* g, int32_t a, int64_t o) {
  int64_t start = o * g->s[a] - g->pb[a];
  int64_t last = g->in[a] + g->pe[a] - 1 - start;
  if (last < 0) return 0;
  int64_t t = last / g->d[a] + 1;
  return t < g->k[a] ? t : g->k[a];
}

/* Whether output o > 0 along slot a reads the same input positions as
 * o - 1 (with `padded`, also counting as many padded taps): so along an
 * axis whose kernel spans the whole input, a pool computes one output and
 * copies it, instead of walking the whole input for every output. */
static inline bool pfw_spatial_same_window(const pfw_spatial* g, int32_t a, int64_t o, bool padded) {
  int64_t t0, t1, u0, u1;
  pfw_spatial_taps(g, a, o, &t0, &t1);
  pfw_spatial_taps(g, a, o - 1, &u0, &u1);
  if (t1 - t0 != u1 - u0) return false;
  if (t1 > t0 && o * g->s[a] + t0 * g->d[a] != (o - 1) * g->s[a] + u0 * g->d[a]) return false;
  return !padded || pfw_spatial_padded_taps(g, a, o) == pfw_spatial_padded_taps(g, a, o - 1);
}

/* Pools over wide windows by one 1-D pass per axis (pool_wide.c):
 * pfw_pool_wide_scratch gives the scratch bytes for `threads` (a quarter of
 * `limit` at most, 0: none), or 0 where walking each window is about as
 * cheap (small windows) or not one output column's passes fit;
 * pfw_pool_wide_run pools `planes` (N x C) planes of x (float32, or
 * uint8/int8 for the max) into y, in the scratch so sized. */
enum { PFW_POOL_WIDE_MAX, PFW_POOL_WIDE_AVG, PFW_POOL_WIDE_LP };
typedef struct pfw_pool_wide {
  pfw_spatial g;
  int kind;          /* PFW_POOL_WIDE_* */
  bool include_pad;  /* AveragePool's count_include_pad */
  double p;          /* LpPool's order */
  bool q8;           /* uint8/int8 MaxPool, compared as uint8 after ^ flip */
  uint8_t flip;      /* 0x80 for int8 */
} pfw_pool_wide;
size_t pfw_pool_wide_scratch(const pfw_spatial* g, int32_t threads, size_t limit);
void pfw_pool_wide_run(const pfw_pool_wide* p, const void* x, void* y, int64_t planes, void* scratch,
                       size_t scratch_size, pfw_threadpool* pool, int32_t threads);

/* Outputs o in [*o0, *o1) along slot a whose k taps all lie in [0, in): the
 * SIMD kernels' interior, where no tap needs a bounds check. Empty ranges
 * come back as *o1 == *o0. */
static inline void pfw_spatial_interior(const pfw_spatial* g, int32_t a, int64_t* o0, int64_t* o1) {
  int64_t s = g->s[a], lo = (g->pb[a] + s - 1) / s; /* o*s - pb >= 0 */
  int64_t last = g->in[a] - 1 + g->pb[a] - (g->k[a] - 1) * g->d[a]; /* o*s <= last */
  int64_t hi = last < 0 ? 0 : last / s + 1;
  if (lo > g->out[a]) lo = g->out[a];
  if (hi > g->out[a]) hi = g->out[a];
  *o0 = lo;
  *o1 = hi > lo ? hi : lo;
}

/* Fused activation of Conv and Gemm (gemm.c): pyfw's optimiser folds a
 * following Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid or HardSwish
 * into the node as attributes `activation` (the op name), `activation_alpha`
 * and `activation_beta` (LeakyRelu's alpha, Clip's min/max, HardSigmoid's
 * alpha/beta), applied to each output row as the standalone op would. */
enum {
  PFW_ACT_NONE, PFW_ACT_RELU, PFW_ACT_LEAKYRELU, PFW_ACT_CLIP, PFW_ACT_SIGMOID, PFW_ACT_TANH, PFW_ACT_HARDSIGMOID,
  PFW_ACT_HARDSWISH
};
typedef struct pfw_activation {
  int kind; /* 0 = none */
  float alpha, beta;
  /* Sigmoid and Tanh take the node ISA's vector forms, so the epilogue
   * matches the standalone op bit for bit; NULL: the scalar loops. */
  const struct pfw_vec_kernels* vec;
} pfw_activation;
/* Reads the attributes and the node's kernels; an unknown activation name
 * is an error naming it. */
pfw_status pfw_activation_init(const pfw_node* node, pfw_activation* act);
/* y[i] = act(y[i]) for i in [0, n). */
void pfw_activation_row(const pfw_activation* act, float* y, int64_t n);
/* Relu and Clip as the bounds of min(max(y, lo), hi) (NaN kept, as
 * pfw_activation_row does), which kernels apply in registers; false for
 * the other kinds. */
static inline bool pfw_activation_bounds(const pfw_activation* act, float* lo, float* hi) {
  if (act->kind != PFW_ACT_RELU && act->kind != PFW_ACT_CLIP) return false;
  *lo = act->kind == PFW_ACT_RELU ? 0.0f : act->alpha;
  *hi = act->kind == PFW_ACT_RELU ? INFINITY : act->beta;
  return true;
}

/* Once a model constant is packed into node->state, its mapped pages are
 * dropped so resident memory holds one copy of the weights, not two. */
static inline void pfw_release_packed_input(const pfw_node* node, const pfw_tensor* t) {
  if (t->is_const && !t->folded && t->desc && t->data == t->desc->data)
    pfw_model_release_pages(node->model, t->data, t->nbytes);
}

/* Conv on the packed sgemm kernels (conv_gemm.c), for node->isa above
 * scalar: prepare packs constant weights and sizes scratch; run computes. */
/* Whether conv_gemm.c runs this Conv's product transposed (narrow output
 * planes); for tests. */
bool pfw_conv_gemm_transposed(const pfw_node* node);
pfw_status pfw_conv_gemm_prepare(pfw_node* node, const pfw_spatial* g);
void pfw_conv_gemm_run(pfw_node* node, const pfw_spatial* g);
/* Conv 3x3 stride 1 by Winograd F(4x4, 3x3) (conv_winograd.c), for the
 * shapes and levels where pfw_conv_winograd_applies; else the GEMM above. */
bool pfw_conv_winograd_applies(const pfw_node* node, const pfw_spatial* g);
pfw_status pfw_conv_winograd_prepare(pfw_node* node, const pfw_spatial* g);
void pfw_conv_winograd_run(pfw_node* node, const pfw_spatial* g);

/* Whether s equals `lower` (a lower-case ASCII word) in any case: RNN
 * activation names, Cast's true/false. */
static inline bool pfw_equals_lower(const char* s, const char* lower) {
  for (; *s && *lower; s++, lower++)
    if (tolower((unsigned char)*s) != *lower) return false;
  return !*s && !*lower;
}

/* Row-major element strides of t's current shape. */
static inline void pfw_contiguous_strides(const pfw_tensor* t, int64_t* s) {
  int64_t acc = 1;
  for (int32_t k = t->rank - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= t->dims[k];
  }
}

/* Softmax's rows (activation.c): n elements at stride `inner`, `outer`
 * times; opset >= 13 reduces the one axis, earlier opsets everything from
 * the axis on. The axis was checked at prepare. */
void pfw_softmax_geometry(const pfw_node* node, int64_t* outer, int64_t* n, int64_t* inner);

/* Checks min_in..max_in inputs with input 0 present, and output 0 present. */
pfw_status pfw_need_io(const pfw_node* node, int32_t min_in, int32_t max_in);
/* run of an op whose output 0 holds input 0's bytes (a no-op when aliased). */
pfw_status pfw_copy_run(pfw_node* node);

/* prepare of a float32/float64 op with one input and an output of the same
 * dtype and shape (Relu, Sigmoid, Tanh, Softmax...). */
pfw_status pfw_float_unary_prepare(pfw_node* node);
/* Checks that input i is float32 or float64; the error names it and its dtype. */
pfw_status pfw_need_float(const pfw_node* node, int32_t i);

/* The element-wise map engine (unary.c): y = fn(x, p) for float32/float64,
 * computed in double. pfw_map_prepare checks the one float input, sets the
 * output like it and keeps fn and up to PFW_MAP_MAX_PARAMS parameters (the
 * op's attributes) in node->state for pfw_map_run. */
#define PFW_MAP_MAX_PARAMS 2
typedef double (*pfw_map_fn)(double x, const double* p);
pfw_status pfw_map_prepare(pfw_node* node, pfw_map_fn fn, const double* p, int32_t np);
pfw_status pfw_map_run(pfw_node* node);
/* pfw_map_prepare with a float32 vector form `vec` (kernels/vecmath.h; NULL
 * for none) that pfw_map_run uses instead of fn for float32 inputs. */
typedef void (*pfw_vec_row_fn)(const float* x, float* y, int64_t n);
pfw_status pfw_map_prepare_vec(pfw_node* node, pfw_map_fn fn, const double* p, int32_t np, pfw_vec_row_fn vec);
/* Runs vec over the float32 input 0 into output 0, split over the pool. */
pfw_status pfw_vec_map_run(pfw_node* node, pfw_vec_row_fn vec);

/* Broadcasting iteration (elementwise.c) over up to PFW_BCAST_MAX_IN inputs:
 * the output's dims, collapsed where every input steps alike, with each
 * input's element strides (0 along its broadcast dims). pfw_bcast_for calls
 * row() once per innermost row with the inputs' row starts and strides. */
#define PFW_BCAST_MAX_IN 3
typedef struct pfw_bcast {
  int32_t rank, n_in;
  int64_t dims[PFW_MAX_RANK];
  int64_t s[PFW_BCAST_MAX_IN][PFW_MAX_RANK];
} pfw_bcast;
typedef void (*pfw_bcast_row)(const void* ctx, const char* const* in, const int64_t* stride, char* out, int64_t n);
void pfw_bcast_init(pfw_bcast* it, int32_t n_in, const pfw_tensor* const* in, const pfw_tensor* out);
void pfw_bcast_for(const pfw_bcast* it, const pfw_tensor* const* in, pfw_tensor* out, pfw_bcast_row row,
                   const void* ctx);
/* Elements per task when a memory-bound op splits over the pool: big enough
 * that a split costs nothing, small enough to spread a 1 MB tensor; a tensor
 * smaller than two blocks stays on the calling thread, where waking the
 * pool would cost more than it saves. */
#define PFW_PARALLEL_BLOCK 16384
/* pfw_bcast_for split over `pool` in contiguous runs of output elements
 * (rows may be cut): only for rows whose every element is independent. */
void pfw_bcast_for_pool(const pfw_bcast* it, const pfw_tensor* const* in, pfw_tensor* out, pfw_bcast_row row,
                        const void* ctx, pfw_threadpool* pool);
/* Output 0 = in[0] op in[1] for float32 inputs broadcast to it, op 0..3 =
 * Add, Sub, Mul, Div (elementwise.c): vector rows over the pool above the
 * scalar ISA, bit-identical to the scalar loop. */
void pfw_binary_f32_run(const pfw_node* node, const pfw_tensor* const* in, int op);
/* Sets output 0 to the broadcast shape of inputs 0..n_in-1 with out_dtype. */
pfw_status pfw_bcast_prepare(pfw_node* node, int32_t n_in, pfw_dtype out_dtype);
/* The node's inputs as the read-only array the helpers take (C has no
 * implicit T** -> const T* const* conversion). */
#define PFW_CONST_INPUTS(node) ((const pfw_tensor* const*)(node)->in)
/* Writes x as dtype d at p (cast.c): integers saturate and NaN becomes 0,
 * float16/bfloat16 round to nearest even, bool is x != 0. */
void pfw_store_real(void* p, pfw_dtype d, long double x);
/* The low bits of u as integer dtype d (two's complement; cast.c). */
void pfw_store_wrapped(void* p, pfw_dtype d, uint64_t u);
/* Cast's STRING halves (cast_string.c): input 0 to output 0's dtype. */
pfw_status pfw_cast_to_string(pfw_node* node);
pfw_status pfw_cast_from_string(pfw_node* node);
/* True when an int32/int64 tensor holds a 0 (integer division checks). */
bool pfw_has_zero(const pfw_tensor* t);
/* float16 and bfloat16 bits <-> float, rounding to nearest even (cast.c). */
float pfw_half_to_float(uint16_t h);
uint16_t pfw_float_to_half(float f);
float pfw_bf16_to_float(uint16_t h);
uint16_t pfw_float_to_bf16(float f);
/* Element i of a float, integer or bool array of dtype d as a double
 * (integers past 2^53 rounded; compare int64 values as integers). */
static inline double pfw_load_real(const void* p, pfw_dtype d, int64_t i) {
  switch (d) {
    case PFW_FLOAT32: return ((const float*)p)[i];
    case PFW_FLOAT64: return ((const double*)p)[i];
    case PFW_FLOAT16: return pfw_half_to_float(((const uint16_t*)p)[i]);
    case PFW_BFLOAT16: return pfw_bf16_to_float(((const uint16_t*)p)[i]);
    case PFW_INT8: return ((const int8_t*)p)[i];
    case PFW_UINT8: return ((const uint8_t*)p)[i];
    case PFW_BOOL: return ((const uint8_t*)p)[i] != 0;
    case PFW_INT16: return ((const int16_t*)p)[i];
    case PFW_UINT16: return ((const uint16_t*)p)[i];
    case PFW_INT32: return ((const int32_t*)p)[i];
    case PFW_UINT32: return ((const uint32_t*)p)[i];
    case PFW_UINT64: return (double)((const uint64_t*)p)[i];
    default: return (double)((const int64_t*)p)[i];
  }
}
/* Stable bottom-up merge sort of idx[0..n) by before(ctx, a, b) ("a goes
 * strictly first"); tmp holds n. Indices that tie keep their order. Always
 * inlined, so each caller's order function is inlined into the loop. */
typedef bool (*pfw_order_fn)(const void* ctx, int64_t a, int64_t b);
static inline __attribute__((always_inline)) void pfw_stable_sort(int64_t* idx, int64_t* tmp, int64_t n,
                                                                  pfw_order_fn before, const void* ctx) {
  for (int64_t width = 1; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) tmp[o++] = before(ctx, idx[j], idx[i]) ? idx[j++] : idx[i++];
      while (i < mid) tmp[o++] = idx[i++];
      while (j < hi) tmp[o++] = idx[j++];
    }
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
  }
}
/* The low-precision dtypes (lowp.c): float8, float4 E2M1 and E8M0 bytes <->
 * float, and the 4-/2-bit integers' values, ranges and wrapping. */
typedef enum pfw_round_mode { PFW_ROUND_UP, PFW_ROUND_DOWN, PFW_ROUND_NEAREST } pfw_round_mode;
bool pfw_dtype_is_lowfloat(pfw_dtype d);
bool pfw_dtype_is_lowint(pfw_dtype d);
float pfw_lowp_to_float(pfw_dtype d, uint8_t b);
uint8_t pfw_float_to_lowp(pfw_dtype d, float x, bool saturate);
uint8_t pfw_float_to_e8m0(float x, bool saturate, pfw_round_mode mode);
/* Cast's round_mode attribute (up, down, nearest; cast.c). */
pfw_status pfw_cast_round_mode(const pfw_node* node, pfw_round_mode* mode);
int32_t pfw_lowint_value(pfw_dtype d, uint8_t b);
void pfw_lowint_range(pfw_dtype d, int32_t* lo, int32_t* hi);
uint8_t pfw_lowint_wrap(pfw_dtype d, uint64_t v);
/* Index of a real-number dtype in the order float32, float64, int32, int64,
 * int8, uint8, int16, uint16, uint32, uint64 (for kernel tables), or -1. */
#define PFW_NUMERIC_TYPES 10
#define PFW_NUMERIC_NAMES "float32, float64, int32, int64, int8, uint8, int16, uint16, uint32, uint64"
static inline int pfw_numeric_index(pfw_dtype t) {
  switch (t) {
    case PFW_FLOAT32: return 0;
    case PFW_FLOAT64: return 1;
    case PFW_INT32: return 2;
    case PFW_INT64: return 3;
    case PFW_INT8: return 4;
    case PFW_UINT8: return 5;
    case PFW_INT16: return 6;
    case PFW_UINT16: return 7;
    case PFW_UINT32: return 8;
    case PFW_UINT64: return 9;
    default: return -1;
  }
}
/* Defines a pfw_bcast_row `name`: o[i] = expr(x, y) with x, y of type T
 * read at the two inputs' strides and o of type OUT. */
#define PFW_ROW_LOOP(name, T, OUT, expr)                                                        \
  static void name(const void* ctx, const char* const* in, const int64_t* s, char* out, int64_t n) { \
    (void)ctx;                                                                                  \
    const T* a = (const T*)in[0];                                                               \
    const T* b = (const T*)in[1];                                                               \
    OUT* o = (OUT*)out;                                                                         \
    for (int64_t i = 0; i < n; i++) {                                                           \
      T x = a[i * s[0]], y = b[i * s[1]];                                                       \
      o[i] = (expr);                                                                            \
    }                                                                                           \
  }

extern const pfw_op pfw_op_Add, pfw_op_Sub, pfw_op_Mul, pfw_op_Div;
extern const pfw_op pfw_op_Relu, pfw_op_Sigmoid, pfw_op_Tanh;
extern const pfw_op pfw_op_Softmax;
extern const pfw_op pfw_op_Abs, pfw_op_Neg, pfw_op_Sign, pfw_op_Exp, pfw_op_Log, pfw_op_Sqrt, pfw_op_Reciprocal,
    pfw_op_Floor, pfw_op_Ceil, pfw_op_Round, pfw_op_Sin, pfw_op_Cos, pfw_op_Tan, pfw_op_Asin, pfw_op_Acos,
    pfw_op_Atan, pfw_op_Sinh, pfw_op_Cosh, pfw_op_Asinh, pfw_op_Acosh, pfw_op_Atanh, pfw_op_Erf, pfw_op_IsNaN,
    pfw_op_IsInf, pfw_op_Not;
extern const pfw_op pfw_op_LeakyRelu, pfw_op_Elu, pfw_op_Selu, pfw_op_Celu, pfw_op_HardSigmoid, pfw_op_HardSwish,
    pfw_op_ThresholdedRelu, pfw_op_Mish, pfw_op_Softplus, pfw_op_Softsign, pfw_op_Gelu, pfw_op_Clip,
    pfw_op_LogSoftmax, pfw_op_Hardmax;
extern const pfw_op pfw_op_Equal, pfw_op_Less, pfw_op_LessOrEqual, pfw_op_Greater, pfw_op_GreaterOrEqual, pfw_op_And,
    pfw_op_Or, pfw_op_Xor, pfw_op_Where;
extern const pfw_op pfw_op_Pow, pfw_op_Mod, pfw_op_PRelu, pfw_op_Max, pfw_op_Min, pfw_op_Sum, pfw_op_Mean;
extern const pfw_op pfw_op_ReduceSum, pfw_op_ReduceMean, pfw_op_ReduceMax, pfw_op_ReduceMin, pfw_op_ReduceProd,
    pfw_op_ReduceL1, pfw_op_ReduceL2, pfw_op_ReduceLogSum, pfw_op_ReduceLogSumExp, pfw_op_ReduceSumSquare,
    pfw_op_ArgMax, pfw_op_ArgMin;
extern const pfw_op pfw_op_LayerNormalization, pfw_op_InstanceNormalization, pfw_op_GroupNormalization,
    pfw_op_LpNormalization, pfw_op_RMSNormalization;
extern const pfw_op pfw_op_Gemm, pfw_op_MatMul, pfw_op_Det;
extern const pfw_op pfw_op_Conv, pfw_op_ConvTranspose;
extern const pfw_op pfw_op_QuantizeLinear, pfw_op_DequantizeLinear, pfw_op_DynamicQuantizeLinear, pfw_op_MatMulInteger,
    pfw_op_QLinearMatMul, pfw_op_ConvInteger, pfw_op_QLinearConv;
extern const pfw_op pfw_op_Squeeze, pfw_op_Unsqueeze;
extern const pfw_op pfw_op_Shape, pfw_op_Size, pfw_op_ConstantOfShape, pfw_op_Range;
extern const pfw_op pfw_op_If, pfw_op_Loop, pfw_op_Scan, pfw_op_SequenceMap; /* control.c */
extern const pfw_op pfw_op_SequenceEmpty, pfw_op_SequenceConstruct, pfw_op_SequenceInsert, pfw_op_SequenceErase,
    pfw_op_SequenceAt, pfw_op_SequenceLength, pfw_op_SplitToSequence, pfw_op_ConcatFromSequence, pfw_op_Optional,
    pfw_op_OptionalHasElement, pfw_op_OptionalGetElement; /* sequence.c */
extern const pfw_op pfw_op_NonZero, pfw_op_Compress, pfw_op_Unique, pfw_op_NonMaxSuppression; /* select.c */
extern const pfw_op pfw_op_Gather, pfw_op_Slice, pfw_op_Expand, pfw_op_Tile;
extern const pfw_op pfw_op_Cast;
extern const pfw_op pfw_op_RandomUniform, pfw_op_RandomUniformLike, pfw_op_RandomNormal, pfw_op_RandomNormalLike,
    pfw_op_Multinomial; /* random.c */
extern const pfw_op pfw_op_LRN;

/* Depthwise Conv (conv_depthwise.c): group == C == M, 1-D or 2-D, run by the
 * SIMD kernels of node->isa; applies() is false where no kernel exists (the
 * scalar level keeps Conv's double-accumulating reference loop). */
bool pfw_conv_depthwise_applies(const pfw_node* node);
/* group == C == M > 1 with one input channel per group (any rank, ISA). */
bool pfw_conv_is_depthwise(const pfw_node* node);
void pfw_conv_depthwise_run(pfw_node* node);
/* Bytes of scratch pfw_conv_depthwise_run needs (padded planes). */
size_t pfw_conv_depthwise_scratch(const pfw_node* node);
pfw_status pfw_conv_check_kernel_bias(const pfw_node* node, const pfw_tensor* W, int32_t n, int64_t M);
pfw_status pfw_check_element_indices(const pfw_node* node, const pfw_tensor* x, const pfw_tensor* ix, int32_t* axis);

/* Element i of an int32 or int64 index tensor, as int64. */
static inline int64_t pfw_index_at(const pfw_tensor* t, int64_t i) {
  if (t->dtype == PFW_INT64) {
    int64_t v;
    memcpy(&v, (const char*)t->data + 8 * i, 8);
    return v;
  }
  int32_t w;
  memcpy(&w, (const char*)t->data + 4 * i, 4);
  return w;
}

extern const pfw_op pfw_op_CastLike, pfw_op_GatherElements, pfw_op_Split;
extern const pfw_op pfw_op_Resize;
extern const pfw_op pfw_op_TopK, pfw_op_OneHot, pfw_op_Einsum;
extern const pfw_op pfw_op_BitCast, pfw_op_Swish, pfw_op_Shrink;
extern const pfw_op pfw_op_GridSample, pfw_op_AffineGrid, pfw_op_GatherND, pfw_op_DFT, pfw_op_Col2Im;
extern const pfw_op pfw_op_DepthToSpace, pfw_op_SpaceToDepth, pfw_op_ReverseSequence, pfw_op_CenterCropPad;
extern const pfw_op pfw_op_EyeLike, pfw_op_HannWindow, pfw_op_HammingWindow, pfw_op_BlackmanWindow;
extern const pfw_op pfw_op_ScatterElements, pfw_op_Scatter, pfw_op_ScatterND, pfw_op_TensorScatter;
extern const pfw_op pfw_op_BitShift, pfw_op_BitwiseAnd, pfw_op_BitwiseOr, pfw_op_BitwiseXor, pfw_op_BitwiseNot;
extern const pfw_op pfw_op_NegativeLogLikelihoodLoss, pfw_op_SoftmaxCrossEntropyLoss;
extern const pfw_op pfw_op_Pad, pfw_op_CumSum, pfw_op_CumProd, pfw_op_Trilu;
extern const pfw_op pfw_op_MaxPool, pfw_op_AveragePool, pfw_op_GlobalAveragePool, pfw_op_LpPool, pfw_op_GlobalMaxPool,
    pfw_op_GlobalLpPool;
extern const pfw_op pfw_op_BatchNormalization;
extern const pfw_op pfw_op_Attention, pfw_op_RotaryEmbedding;
extern const pfw_op pfw_op_RNN, pfw_op_GRU, pfw_op_LSTM;
extern const pfw_op pfw_op_StringConcat, pfw_op_StringSplit, pfw_op_StringNormalizer, pfw_op_RegexFullMatch;
extern const pfw_op pfw_op_ImageDecoder, pfw_op_LabelEncoder, pfw_op_MaxRoiPool;
extern const pfw_op pfw_op_Reshape, pfw_op_Flatten, pfw_op_Transpose, pfw_op_Concat, pfw_op_Identity;

#endif
