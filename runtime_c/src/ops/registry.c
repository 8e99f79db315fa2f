/* The kernel table: one entry per op type with a kernel, NULL elsewhere. */
#include "ops_common.h"

static const pfw_op* const g_ops[] = {
    [PFW_OP_Add] = &pfw_op_Add,
    [PFW_OP_AveragePool] = &pfw_op_AveragePool,
    [PFW_OP_BatchNormalization] = &pfw_op_BatchNormalization,
    [PFW_OP_Cast] = &pfw_op_Cast,
    [PFW_OP_Concat] = &pfw_op_Concat,
    [PFW_OP_ConstantOfShape] = &pfw_op_ConstantOfShape,
    [PFW_OP_Conv] = &pfw_op_Conv,
    [PFW_OP_Div] = &pfw_op_Div,
    [PFW_OP_Expand] = &pfw_op_Expand,
    [PFW_OP_Flatten] = &pfw_op_Flatten,
    [PFW_OP_Gather] = &pfw_op_Gather,
    [PFW_OP_Gemm] = &pfw_op_Gemm,
    [PFW_OP_GlobalAveragePool] = &pfw_op_GlobalAveragePool,
    [PFW_OP_Identity] = &pfw_op_Identity,
    [PFW_OP_MatMul] = &pfw_op_MatMul,
    [PFW_OP_MaxPool] = &pfw_op_MaxPool,
    [PFW_OP_Mul] = &pfw_op_Mul,
    [PFW_OP_Range] = &pfw_op_Range,
    [PFW_OP_Relu] = &pfw_op_Relu,
    [PFW_OP_Reshape] = &pfw_op_Reshape,
    [PFW_OP_Shape] = &pfw_op_Shape,
    [PFW_OP_Sigmoid] = &pfw_op_Sigmoid,
    [PFW_OP_Size] = &pfw_op_Size,
    [PFW_OP_Slice] = &pfw_op_Slice,
    [PFW_OP_Softmax] = &pfw_op_Softmax,
    [PFW_OP_Squeeze] = &pfw_op_Squeeze,
    [PFW_OP_Sub] = &pfw_op_Sub,
    [PFW_OP_Tanh] = &pfw_op_Tanh,
    [PFW_OP_Tile] = &pfw_op_Tile,
    [PFW_OP_Transpose] = &pfw_op_Transpose,
    [PFW_OP_Unsqueeze] = &pfw_op_Unsqueeze,
};

const pfw_op* pfw_find_op(uint16_t op_type) {
  if (op_type >= sizeof g_ops / sizeof g_ops[0]) return NULL;
  return g_ops[op_type];
}
