/* What the interpreter asks of an accelerator backend (today OpenCL,
 * src/backends/opencl/). The CPU kernels stay the reference: a backend
 * claims the nodes it can run after each plan, and invoke runs the rest on
 * the CPU, moving tensors between host and device only where a value
 * crosses from one side to the other. */
#ifndef PFW_BACKEND_H
#define PFW_BACKEND_H

#include "interpreter_internal.h"

/* Attaches the OpenCL backend to `it`. required (backend "opencl"): any
 * failure is an error. Otherwise ("auto") the CPU is kept when there is no
 * OpenCL GPU (or device named by PFW_OPENCL_DEVICE), and the reason goes to
 * it->backend_info. */
pfw_status pfw_cl_attach(pfw_interpreter* it, bool required);
/* After each successful plan: claims nodes, places device memory, uploads
 * constants and sets kernel arguments. */
pfw_status pfw_cl_plan(pfw_interpreter* it);
/* Runs the planned graph across device and CPU; outputs end on the host. */
pfw_status pfw_cl_invoke(pfw_interpreter* it);
/* Whether node i runs on the device (false without the backend). */
bool pfw_cl_node_claimed(const pfw_interpreter* it, int32_t i);
void pfw_cl_detach(pfw_interpreter* it);
/* Host<->device copies counted while profiling (0 without the backend). */
void pfw_cl_transfers(const pfw_interpreter* it, int64_t* count, int64_t* bytes, int64_t* ns);
void pfw_cl_reset_transfers(pfw_interpreter* it);

#endif
