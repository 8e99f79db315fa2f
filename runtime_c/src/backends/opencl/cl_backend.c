/* The OpenCL backend's per-interpreter state: a command queue, a device
 * arena mirroring the CPU plan (a tensor at arena offset x on the host is
 * at offset x in the device arena, so the planner's lifetimes hold on both
 * sides), buffers of their own for graph inputs and constants, and where
 * each tensor's current value is during invoke. A value is copied only
 * when it crosses: a device node reading a value the CPU made, a CPU node
 * reading one the device made, and graph outputs at the end. Constants are
 * uploaded once per plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cl_backend.h"

enum { ON_HOST = 1, ON_DEV = 2 };

struct pfw_cl_state {
  const pfw_cl_device* dev;
  pfw_interpreter* it;
  cl_command_queue queue;
  cl_mem arena;
  size_t arena_cap;
  cl_mem* own;          /* per tensor: its own buffer (a graph input or a constant), or NULL */
  size_t* own_cap;
  const void** own_src; /* the host bytes a constant's buffer holds */
  pfw_cl_loc* loc;      /* per tensor, valid where located[t] */
  bool* located;
  bool* made;           /* per tensor: written by a claimed node (this plan) */
  bool* in_const;       /* per tensor: located in a constant's own buffer (a constant or a view of one) */
  uint8_t* where;       /* per tensor during invoke: ON_HOST | ON_DEV */
  pfw_cl_node* nodes;
  int32_t n_claimed;
  int64_t xfer_count, xfer_bytes, xfer_ns; /* host<->device copies while profiling */
};

static pfw_status cl_fail(const char* call, cl_int err) {
  return pfw_error(PFW_ERR_BACKEND, "OpenCL: %s failed: %s (%d)", call, pfw_cl_error_name(err), (int)err);
}

pfw_status pfw_cl_attach(pfw_interpreter* it, bool required) {
  const pfw_cl_device* dev = NULL;
  pfw_status st = pfw_cl_device_open(&dev);
  if (st != PFW_OK) {
    if (required) return st;
    snprintf(it->backend_info, sizeof it->backend_info, "cpu (auto: %s)", pfw_last_error());
    pfw_error_clear();
    return PFW_OK;
  }
  if (!required && !dev->is_gpu && !dev->explicit_choice) {
    snprintf(it->backend_info, sizeof it->backend_info,
             "cpu (auto: the OpenCL device '%s' is not a GPU; PFW_OPENCL_DEVICE=0 or backend 'opencl' uses it)",
             dev->name);
    return PFW_OK;
  }
  size_t nt = (size_t)it->graph->n_tensors + 1, nn = (size_t)it->graph->n_nodes + 1;
  pfw_cl_state* s = calloc(1, sizeof *s);
  if (s) {
    s->dev = dev;
    s->it = it;
    s->own = calloc(nt, sizeof *s->own);
    s->own_cap = calloc(nt, sizeof *s->own_cap);
    s->own_src = calloc(nt, sizeof *s->own_src);
    s->loc = calloc(nt, sizeof *s->loc);
    s->located = calloc(nt, sizeof *s->located);
    s->made = calloc(nt, sizeof *s->made);
    s->in_const = calloc(nt, sizeof *s->in_const);
    s->where = calloc(nt, 1);
    s->nodes = calloc(nn, sizeof *s->nodes);
  }
  it->cl = s;
  if (!s || !s->own || !s->own_cap || !s->own_src || !s->loc || !s->located || !s->made || !s->in_const || !s->where ||
      !s->nodes)
    return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory creating the OpenCL backend");
  cl_int err = 0;
  s->queue = dev->api.clCreateCommandQueue(dev->context, dev->device, 0, &err);
  if (err != CL_SUCCESS) return cl_fail("clCreateCommandQueue", err);
  return PFW_OK;
}

static void drop_node(pfw_cl_state* s, pfw_cl_node* cn) {
  for (int32_t k = 0; k < cn->n_launch; k++)
    if (cn->launch[k].kernel) s->dev->api.clReleaseKernel(cn->launch[k].kernel);
  free(cn->launch);
  memset(cn, 0, sizeof *cn);
}

static void release_launches(pfw_cl_state* s) {
  for (int32_t i = 0; i < s->it->graph->n_nodes; i++) drop_node(s, &s->nodes[i]);
}

void pfw_cl_detach(pfw_interpreter* it) {
  pfw_cl_state* s = it->cl;
  if (!s) return;
  if (s->nodes) release_launches(s);
  const pfw_cl_api* api = s->dev ? &s->dev->api : NULL;
  for (int32_t t = 0; api && s->own && t < it->graph->n_tensors; t++)
    if (s->own[t]) api->clReleaseMemObject(s->own[t]);
  if (api && s->arena) api->clReleaseMemObject(s->arena);
  if (api && s->queue) api->clReleaseCommandQueue(s->queue);
  free(s->own);
  free(s->own_cap);
  free(s->own_src);
  free(s->loc);
  free(s->located);
  free(s->made);
  free(s->in_const);
  free(s->where);
  free(s->nodes);
  free(s);
  it->cl = NULL;
}

/* ---- device memory ----------------------------------------------------- */

static cl_int make_buffer(pfw_cl_state* s, cl_mem* mem, size_t* cap, size_t bytes) {
  if (*mem && *cap >= bytes) return CL_SUCCESS;
  if (*mem) s->dev->api.clReleaseMemObject(*mem);
  *cap = 0;
  cl_int err = 0;
  *mem = s->dev->api.clCreateBuffer(s->dev->context, CL_MEM_READ_WRITE, bytes ? bytes : 64, NULL, &err);
  if (err != CL_SUCCESS) *mem = NULL;
  else *cap = bytes;
  return err;
}

/* The tensor whose own buffer holds pointer p: a graph input (its whole
 * capacity) or a constant; -1 when none. */
static int32_t owner_of(const pfw_interpreter* it, const uint8_t* p) {
  for (int32_t t = 0; t < it->graph->n_tensors; t++) {
    const pfw_tensor* x = &it->tensors[t];
    const uint8_t* d = x->data;
    size_t span = x->is_input ? x->capacity : x->is_const ? x->nbytes : 0;
    if (d && p >= d && p < d + span) return t;
  }
  return -1;
}

static cl_int locate(pfw_cl_state* s, const pfw_tensor* t) {
  if (s->located[t->index]) return CL_SUCCESS;
  pfw_interpreter* it = s->it;
  const uint8_t* p = t->data;
  if (!p) return -38; /* CL_INVALID_MEM_OBJECT: nothing planned */
  if (it->arena && p >= it->arena && p < it->arena + it->arena_size) {
    s->loc[t->index] = (pfw_cl_loc){s->arena, (size_t)(p - it->arena)};
  } else {
    int32_t r = t->is_input || t->is_const ? t->index : owner_of(it, p);
    if (r < 0) return -38;
    pfw_tensor* o = &it->tensors[r];
    cl_int err = make_buffer(s, &s->own[r], &s->own_cap[r], o->is_input ? o->capacity : o->nbytes);
    if (err != CL_SUCCESS) return err;
    if (!o->is_input && (s->own_src[r] != o->data || o->folded) && o->nbytes) {
      err = s->dev->api.clEnqueueWriteBuffer(s->queue, s->own[r], CL_TRUE, 0, o->nbytes, o->data, 0, NULL, NULL);
      if (err != CL_SUCCESS) return err;
      s->own_src[r] = o->data;
    }
    s->loc[t->index] = (pfw_cl_loc){s->own[r], (size_t)(p - (const uint8_t*)o->data)};
    s->in_const[t->index] = !o->is_input;
  }
  s->located[t->index] = true;
  return CL_SUCCESS;
}

/* ---- building launches ------------------------------------------------- */

static pfw_cl_launch* new_launch(pfw_cl_setup* c) {
  pfw_cl_node* cn = c->cn;
  pfw_cl_launch* l = realloc(cn->launch, (size_t)(cn->n_launch + 1) * sizeof *l);
  if (!l) return NULL;
  cn->launch = l;
  l += cn->n_launch++;
  memset(l, 0, sizeof *l);
  return l;
}

pfw_status pfw_cl_launch_add(pfw_cl_setup* c, const char* name, cl_uint dims, const size_t* global,
                             const size_t* local) {
  pfw_cl_launch* l = new_launch(c);
  if (!l) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory planning OpenCL launches");
  cl_int err = 0;
  l->kernel = c->s->dev->api.clCreateKernel(c->s->dev->program, name, &err);
  if (err != CL_SUCCESS) {
    l->kernel = NULL;
    return cl_fail("clCreateKernel", err);
  }
  l->dims = dims;
  /* A kernel may take fewer work-items a group than the device (registers,
   * local memory): a fixed group it cannot take leaves the node to the CPU,
   * instead of failing at the first enqueue. */
  size_t most = c->s->dev->max_work_group;
  err = c->s->dev->api.clGetKernelWorkGroupInfo(l->kernel, c->s->dev->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof most,
                                                &most, NULL);
  if (err != CL_SUCCESS) return cl_fail("clGetKernelWorkGroupInfo", err);
  if (most > c->s->dev->max_work_group) most = c->s->dev->max_work_group;
  if (most < 1) most = 1;
  size_t group = 1;
  for (cl_uint d = 0; local && d < dims; d++) group *= local[d];
  if (group > most)
    return pfw_error(PFW_ERR_UNSUPPORTED, "kernel '%s' takes groups of at most %zu work-items on this device, not %zu",
                     name, most, group);
  /* Default groups of up to 64 along dim 0; every kernel checks its bounds. */
  size_t dflt[3] = {most < 64 ? most : 64, 1, 1};
  l->has_local = true;
  for (cl_uint d = 0; d < dims; d++) {
    l->local[d] = local ? local[d] : dflt[d];
    if (l->local[d] < 1) l->local[d] = 1;
    l->global[d] = (global[d] + l->local[d] - 1) / l->local[d] * l->local[d];
  }
  c->k = l->kernel;
  c->arg = 0;
  return PFW_OK;
}

pfw_status pfw_cl_copy_add(pfw_cl_setup* c, const pfw_tensor* src, const pfw_tensor* dst, size_t bytes) {
  cl_int err = locate(c->s, src);
  if (err == CL_SUCCESS) err = locate(c->s, dst);
  if (err != CL_SUCCESS) return cl_fail("placing a tensor", err);
  pfw_cl_launch* l = new_launch(c);
  if (!l) return pfw_error(PFW_ERR_OUT_OF_MEMORY, "out of memory planning OpenCL launches");
  l->src = c->s->loc[src->index];
  l->dst = c->s->loc[dst->index];
  l->bytes = bytes;
  return PFW_OK;
}

static void set_arg(pfw_cl_setup* c, size_t size, const void* v) {
  if (c->err != CL_SUCCESS) return;
  c->err = c->s->dev->api.clSetKernelArg(c->k, c->arg++, size, v);
}

void pfw_cl_arg_tensor(pfw_cl_setup* c, const pfw_tensor* t) { pfw_cl_arg_tensor_at(c, t, 0); }

void pfw_cl_arg_tensor_at(pfw_cl_setup* c, const pfw_tensor* t, int64_t elems) {
  cl_mem mem = NULL;
  int64_t off = 0;
  if (t && c->err == CL_SUCCESS) {
    c->err = locate(c->s, t);
    mem = c->s->loc[t->index].mem;
    off = (int64_t)(c->s->loc[t->index].off / pfw_dtype_size(t->dtype)) + elems;
    if (off > INT32_MAX - pfw_numel(t)) c->too_far = true, off = 0;
  }
  int32_t off32 = (int32_t)off;
  set_arg(c, sizeof mem, &mem);
  set_arg(c, sizeof off32, &off32);
}

void pfw_cl_arg_int(pfw_cl_setup* c, int64_t v) {
  int32_t x = (int32_t)v;
  set_arg(c, sizeof x, &x);
}

void pfw_cl_arg_float(pfw_cl_setup* c, float v) { set_arg(c, sizeof v, &v); }

void pfw_cl_arg_ints(pfw_cl_setup* c, const int32_t* v, int n) { set_arg(c, (size_t)n * sizeof(int32_t), v); }

bool pfw_cl_same_place(pfw_cl_setup* c, const pfw_tensor* a, const pfw_tensor* b) {
  if (locate(c->s, a) != CL_SUCCESS || locate(c->s, b) != CL_SUCCESS) return false;
  const pfw_cl_loc *x = &c->s->loc[a->index], *y = &c->s->loc[b->index];
  return x->mem == y->mem && x->off == y->off;
}

bool pfw_cl_made_on_device(const pfw_cl_setup* c, const pfw_tensor* t) { return c->s->made[t->index]; }


/* ---- planning ---------------------------------------------------------- */

pfw_status pfw_cl_plan(pfw_interpreter* it) {
  pfw_cl_state* s = it->cl;
  const pfw_graph_desc* g = it->graph;
  release_launches(s);
  memset(s->located, 0, (size_t)g->n_tensors * sizeof *s->located);
  memset(s->made, 0, (size_t)g->n_tensors * sizeof *s->made);
  memset(s->in_const, 0, (size_t)g->n_tensors * sizeof *s->in_const);
  s->n_claimed = 0;
  if (it->arena_size) {
    cl_int err = make_buffer(s, &s->arena, &s->arena_cap, it->arena_size);
    if (err != CL_SUCCESS) return cl_fail("allocating the device arena", err);
  }
  int32_t runnable = 0;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    pfw_node* n = &it->nodes[i];
    if (n->folded) continue;
    runnable++;
    if (n->deferred) continue; /* shapes known only at invoke: the CPU runs it */
    pfw_cl_setup c = {s, n, &s->nodes[i], NULL, 0, CL_SUCCESS, false};
    pfw_status st = pfw_cl_setup_node(&c);
    if (st == PFW_OK && c.too_far) st = PFW_ERR_UNSUPPORTED;
    if (st == PFW_OK && c.err != CL_SUCCESS) st = cl_fail("setting kernel arguments", c.err);
    if (st == PFW_ERR_UNSUPPORTED) {
      drop_node(s, &s->nodes[i]);
      pfw_error_clear();
      continue;
    }
    if (st != PFW_OK) {
      pfw_error_prefix("node '%s' (%s)", n->desc->name, pfw_op_name(n->desc->op));
      return st;
    }
    s->nodes[i].claimed = true;
    for (int32_t j = 0; j < n->n_out; j++)
      if (n->out[j]) s->made[n->out[j]->index] = true;
    s->n_claimed++;
  }
  snprintf(it->backend_info, sizeof it->backend_info, "opencl: %d of %d nodes on '%s' (%s, driver %s)%s",
           s->n_claimed, runnable, s->dev->name, s->dev->version, s->dev->driver,
           s->dev->program_cached ? "; kernels from the cache" : "");
  return PFW_OK;
}

bool pfw_cl_node_claimed(const pfw_interpreter* it, int32_t i) { return it->cl && it->cl->nodes[i].claimed; }

/* ---- invoke ------------------------------------------------------------ */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Blocking both ways: the CPU may reuse the host bytes for the next value,
 * and reads the downloaded ones at once. */
static pfw_status transfer(pfw_cl_state* s, pfw_tensor* t, bool up) {
  const pfw_cl_loc* l = &s->loc[t->index];
  int64_t t0 = s->it->profiling ? now_ns() : 0;
  cl_int err = up ? s->dev->api.clEnqueueWriteBuffer(s->queue, l->mem, CL_TRUE, l->off, t->nbytes, t->data, 0, NULL,
                                                     NULL)
                  : s->dev->api.clEnqueueReadBuffer(s->queue, l->mem, CL_TRUE, l->off, t->nbytes, t->data, 0, NULL,
                                                    NULL);
  if (err != CL_SUCCESS) return cl_fail(up ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer", err);
  s->where[t->index] |= up ? ON_DEV : ON_HOST;
  if (s->it->profiling) {
    s->xfer_count++;
    s->xfer_bytes += (int64_t)t->nbytes;
    s->xfer_ns += now_ns() - t0;
  }
  return PFW_OK;
}

static pfw_status to_device(pfw_cl_state* s, pfw_tensor* t) {
  if ((s->where[t->index] & ON_DEV) || !s->located[t->index] || !t->nbytes) return PFW_OK;
  return transfer(s, t, true);
}

static pfw_status to_host(pfw_cl_state* s, pfw_tensor* t) {
  uint8_t w = s->where[t->index];
  if ((w & ON_HOST) || !(w & ON_DEV) || !t->nbytes) return PFW_OK;
  return transfer(s, t, false);
}

void pfw_cl_transfers(const pfw_interpreter* it, int64_t* count, int64_t* bytes, int64_t* ns) {
  const pfw_cl_state* s = it->cl;
  *count = s ? s->xfer_count : 0;
  *bytes = s ? s->xfer_bytes : 0;
  *ns = s ? s->xfer_ns : 0;
}

void pfw_cl_reset_transfers(pfw_interpreter* it) {
  if (it->cl) it->cl->xfer_count = it->cl->xfer_bytes = it->cl->xfer_ns = 0;
}

static pfw_status enqueue(pfw_cl_state* s, const pfw_cl_node* cn) {
  const pfw_cl_api* api = &s->dev->api;
  for (int32_t k = 0; k < cn->n_launch; k++) {
    const pfw_cl_launch* l = &cn->launch[k];
    cl_int err = l->kernel ? api->clEnqueueNDRangeKernel(s->queue, l->kernel, l->dims, NULL, l->global,
                                                         l->has_local ? l->local : NULL, 0, NULL, NULL)
                           : api->clEnqueueCopyBuffer(s->queue, l->src.mem, l->dst.mem, l->src.off, l->dst.off,
                                                      l->bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS) return cl_fail(l->kernel ? "clEnqueueNDRangeKernel" : "clEnqueueCopyBuffer", err);
  }
  return PFW_OK;
}

/* A device node: inputs to the device, its launches, outputs on the device
 * (a view shares its input's places). Profiling waits for each node. */
static pfw_status run_on_device(pfw_cl_state* s, int32_t i) {
  pfw_interpreter* it = s->it;
  pfw_node* n = &it->nodes[i];
  pfw_status st = PFW_OK;
  for (int32_t j = 0; j < n->n_in && st == PFW_OK; j++)
    if (n->in[j]) st = to_device(s, n->in[j]);
  if (st != PFW_OK) return st;
  int64_t t0 = it->profiling ? now_ns() : 0;
  st = enqueue(s, &s->nodes[i]);
  if (st == PFW_OK && it->profiling) {
    cl_int err = s->dev->api.clFinish(s->queue);
    if (err != CL_SUCCESS) return cl_fail("clFinish", err);
    it->prof_ns[i] += now_ns() - t0;
    it->prof_calls[i]++;
  }
  for (int32_t j = 0; j < n->n_out; j++) {
    if (!n->out[j]) continue;
    bool view = j == 0 && n->in[0] && n->out[0]->data == n->in[0]->data && (n->op->flags & PFW_OPF_ALIAS);
    s->where[n->out[j]->index] = view ? s->where[n->in[0]->index] : ON_DEV;
  }
  return st;
}

pfw_status pfw_cl_invoke(pfw_interpreter* it) {
  pfw_cl_state* s = it->cl;
  const pfw_graph_desc* g = it->graph;
  for (int32_t t = 0; t < g->n_tensors; t++) {
    const pfw_tensor* x = &it->tensors[t];
    /* A constant, or a view of one, already uploaded this plan, holds the same bytes on both sides. */
    bool both = s->located[t] && (s->in_const[t] || (x->is_const && !x->is_input));
    s->where[t] = both ? ON_HOST | ON_DEV : x->is_const || x->is_input ? ON_HOST : 0;
  }
  for (int32_t i = 0; i < g->n_nodes; i++) {
    pfw_node* n = &it->nodes[i];
    if (n->folded) continue;
    pfw_status st = PFW_OK;
    if (s->nodes[i].claimed) {
      st = run_on_device(s, i);
    } else {
      for (int32_t j = 0; j < n->n_in && st == PFW_OK; j++)
        if (n->in[j]) st = to_host(s, n->in[j]);
      if (st == PFW_OK) st = pfw_run_node(it, i);
      for (int32_t j = 0; j < n->n_out; j++) /* a view of a constant keeps both places */
        if (n->out[j]) s->where[n->out[j]->index] = s->in_const[n->out[j]->index] ? ON_HOST | ON_DEV : ON_HOST;
    }
    if (st != PFW_OK) {
      pfw_error_prefix("node '%s' (%s)", n->desc->name, pfw_op_name(n->desc->op));
      return st;
    }
  }
  for (int32_t k = 0; k < g->n_outputs; k++) {
    pfw_status st = to_host(s, &it->tensors[g->outputs[k]]);
    if (st != PFW_OK) return st;
  }
  cl_int err = s->dev->api.clFinish(s->queue);
  return err == CL_SUCCESS ? PFW_OK : cl_fail("clFinish", err);
}
