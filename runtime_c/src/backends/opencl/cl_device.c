/* The OpenCL device, opened once per process: libOpenCL.so.1 is dlopened
 * (PFW_OPENCL_LIBRARY names another file), a device chosen, a context made
 * and the kernels built. Building from source takes seconds with some
 * drivers, so the program binary is kept on disk, keyed by a hash of the
 * device, driver, platform and source; a stale or unreadable cache entry
 * just means building from source again. Interpreters share the context
 * and program and make their own command queues. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl_backend.h"

static pfw_cl_device g_dev;
static pfw_status g_status;
static char g_error[1024];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

const char* pfw_cl_error_name(cl_int err) {
  static const struct {
    cl_int code;
    const char* name;
  } names[] = {{-1, "CL_DEVICE_NOT_FOUND"}, {-2, "CL_DEVICE_NOT_AVAILABLE"}, {-3, "CL_COMPILER_NOT_AVAILABLE"},
               {-4, "CL_MEM_OBJECT_ALLOCATION_FAILURE"}, {-5, "CL_OUT_OF_RESOURCES"}, {-6, "CL_OUT_OF_HOST_MEMORY"},
               {-11, "CL_BUILD_PROGRAM_FAILURE"}, {-30, "CL_INVALID_VALUE"}, {-33, "CL_INVALID_DEVICE"},
               {-34, "CL_INVALID_CONTEXT"}, {-36, "CL_INVALID_COMMAND_QUEUE"}, {-38, "CL_INVALID_MEM_OBJECT"},
               {-42, "CL_INVALID_BINARY"}, {-44, "CL_INVALID_PROGRAM"}, {-45, "CL_INVALID_PROGRAM_EXECUTABLE"},
               {-46, "CL_INVALID_KERNEL_NAME"}, {-48, "CL_INVALID_KERNEL"}, {-49, "CL_INVALID_ARG_INDEX"},
               {-50, "CL_INVALID_ARG_VALUE"}, {-51, "CL_INVALID_ARG_SIZE"}, {-52, "CL_INVALID_KERNEL_ARGS"},
               {-54, "CL_INVALID_WORK_GROUP_SIZE"}, {-55, "CL_INVALID_WORK_ITEM_SIZE"},
               {-59, "CL_INVALID_OPERATION"}, {-61, "CL_INVALID_BUFFER_SIZE"}, {-63, "CL_INVALID_GLOBAL_WORK_SIZE"},
               {-1001, "CL_PLATFORM_NOT_FOUND_KHR"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].code == err) return names[i].name;
  return "an unknown OpenCL error";
}

static pfw_status fail(const char* fmt, const char* a, cl_int err) {
  snprintf(g_error, sizeof g_error, fmt, a, pfw_cl_error_name(err), (int)err);
  return PFW_ERR_BACKEND;
}

static pfw_status load_library(pfw_cl_api* api) {
  const char* path = getenv("PFW_OPENCL_LIBRARY");
  if (!path || !*path) path = "libOpenCL.so.1";
  g_dev.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!g_dev.lib) {
    const char* why = dlerror();
    snprintf(g_error, sizeof g_error, "OpenCL is not available: cannot load %s (%s)", path, why ? why : "?");
    return PFW_ERR_BACKEND;
  }
#define PFW_CL_LOOKUP(fn, ret, params)                                                                       \
  *(void**)&api->fn = dlsym(g_dev.lib, #fn);                                                                 \
  if (!api->fn) {                                                                                            \
    snprintf(g_error, sizeof g_error, "OpenCL is not available: %s has no %s (OpenCL 1.2 needed)", path, #fn); \
    return PFW_ERR_BACKEND;                                                                                  \
  }
  PFW_CL_FUNCTIONS(PFW_CL_LOOKUP)
#undef PFW_CL_LOOKUP
  return PFW_OK;
}

static void info_string(cl_device_id d, cl_uint what, char* out, size_t n) {
  out[0] = 0;
  if (g_dev.api.clGetDeviceInfo(d, what, n - 1, out, NULL) != CL_SUCCESS) out[0] = 0;
  out[n - 1] = 0;
}

/* Every device of every platform, in platform order. */
static pfw_status list_devices(cl_device_id* devs, cl_platform_id* plats_of, cl_uint cap, cl_uint* count) {
  cl_platform_id plats[16];
  cl_uint np = 0;
  cl_int err = g_dev.api.clGetPlatformIDs(16, plats, &np);
  if (err != CL_SUCCESS || np == 0)
    return fail("OpenCL is not available: no OpenCL platform is installed%s (%s, %d)", "", err);
  *count = 0;
  for (cl_uint p = 0; p < np && p < 16; p++) {
    cl_uint nd = 0;
    if (g_dev.api.clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, cap - *count, devs + *count, &nd) != CL_SUCCESS)
      continue;
    for (cl_uint k = 0; k < nd && *count < cap; k++) plats_of[(*count)++] = plats[p];
  }
  if (*count == 0) return fail("OpenCL is not available: no OpenCL device found%s (%s, %d)", "", -1);
  return PFW_OK;
}

/* PFW_OPENCL_DEVICE: an index into the device list, or part of a name;
 * without it, the first GPU, else the first device. */
static pfw_status choose_device(void) {
  cl_device_id devs[64];
  cl_platform_id plats[64];
  cl_uint n = 0;
  pfw_status st = list_devices(devs, plats, 64, &n);
  if (st != PFW_OK) return st;
  const char* want = getenv("PFW_OPENCL_DEVICE");
  int chosen = -1;
  char name[256], names[512] = "";
  for (cl_uint i = 0; i < n; i++) {
    info_string(devs[i], CL_DEVICE_NAME, name, sizeof name);
    size_t used = strlen(names);
    snprintf(names + used, sizeof names - used, "%s%u: %s", i ? ", " : "", i, name);
    cl_device_type type = 0;
    g_dev.api.clGetDeviceInfo(devs[i], CL_DEVICE_TYPE, sizeof type, &type, NULL);
    if (want && *want) {
      char* end;
      long idx = strtol(want, &end, 10);
      bool match = *end == 0 ? idx == (long)i : strstr(name, want) != NULL;
      if (match && chosen < 0) chosen = (int)i;
    } else if ((type & CL_DEVICE_TYPE_GPU) && chosen < 0) {
      chosen = (int)i;
    }
  }
  g_dev.explicit_choice = want && *want;
  if (chosen < 0 && g_dev.explicit_choice) {
    snprintf(g_error, sizeof g_error, "PFW_OPENCL_DEVICE='%s' names none of the OpenCL devices (%s)", want, names);
    return PFW_ERR_BACKEND;
  }
  if (chosen < 0) chosen = 0;
  g_dev.device = devs[chosen];
  g_dev.platform = plats[chosen];
  cl_device_type type = 0;
  g_dev.api.clGetDeviceInfo(g_dev.device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  g_dev.is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
  info_string(g_dev.device, CL_DEVICE_NAME, g_dev.name, sizeof g_dev.name);
  info_string(g_dev.device, CL_DRIVER_VERSION, g_dev.driver, sizeof g_dev.driver);
  info_string(g_dev.device, CL_DEVICE_VERSION, g_dev.version, sizeof g_dev.version);
  g_dev.platform_version[0] = 0;
  g_dev.api.clGetPlatformInfo(g_dev.platform, CL_PLATFORM_VERSION, sizeof g_dev.platform_version - 1,
                              g_dev.platform_version, NULL);
  g_dev.api.clGetDeviceInfo(g_dev.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof g_dev.max_work_group,
                            &g_dev.max_work_group, NULL);
  /* PFW_OPENCL_MAX_WORK_GROUP lowers it: to run as a device with small
   * groups would (the tests of the CPU fallback), or past a driver that
   * overstates it. */
  const char* cap = getenv("PFW_OPENCL_MAX_WORK_GROUP");
  if (cap && *cap) {
    char* end = NULL;
    unsigned long long v = strtoull(cap, &end, 10);
    if (*end || v < 1 || cap[0] == '-') {
      snprintf(g_error, sizeof g_error, "PFW_OPENCL_MAX_WORK_GROUP='%s' is not a positive number of work-items", cap);
      return PFW_ERR_BACKEND;
    }
    if (v < g_dev.max_work_group) g_dev.max_work_group = (size_t)v;
  }
  g_dev.api.clGetDeviceInfo(g_dev.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof g_dev.max_alloc, &g_dev.max_alloc,
                            NULL);
  return PFW_OK;
}

/* ---- the program, with its on-disk cache ------------------------------- */

static uint64_t fnv1a(uint64_t h, const char* s) {
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return (h ^ 0xff) * 1099511628211ull; /* a separator, so "ab"+"c" differs from "a"+"bc" */
}

/* The cache directory, created if needed; false when there is none. */
static bool cache_dir(char* out, size_t n) {
  const char* env = getenv("PFW_OPENCL_CACHE");
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (env && *env) snprintf(out, n, "%s", env);
  else if (xdg && *xdg) snprintf(out, n, "%s/pyfw/opencl", xdg);
  else if (home && *home) snprintf(out, n, "%s/.cache/pyfw/opencl", home);
  else return false;
  for (char* p = out + 1; *p; p++) { /* mkdir -p */
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(out, 0755) != 0 && errno != EEXIST) return false;
    *p = '/';
  }
  return mkdir(out, 0755) == 0 || errno == EEXIST;
}

static cl_program program_from_cache(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  cl_program prog = NULL;
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  unsigned char* bin = size > 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)size) : NULL;
  if (bin && fread(bin, 1, (size_t)size, f) == (size_t)size) {
    size_t len = (size_t)size;
    const unsigned char* bins[1] = {bin};
    cl_int err = 0, bstatus = 0;
    prog = g_dev.api.clCreateProgramWithBinary(g_dev.context, 1, &g_dev.device, &len, bins, &bstatus, &err);
    if (err != CL_SUCCESS || bstatus != CL_SUCCESS) prog = NULL;
    if (prog && g_dev.api.clBuildProgram(prog, 1, &g_dev.device, PFW_CL_BUILD_OPTIONS, NULL, NULL) != CL_SUCCESS) {
      g_dev.api.clReleaseProgram(prog);
      prog = NULL;
    }
  }
  free(bin);
  fclose(f);
  return prog;
}

/* Written to a temporary name and renamed, so readers never see half a file. */
static void program_to_cache(cl_program prog, const char* path) {
  size_t size = 0;
  if (g_dev.api.clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || !size)
    return;
  unsigned char* bin = malloc(size);
  unsigned char* bins[1] = {bin};
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  if (bin && g_dev.api.clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* a stale temporary of a dead process is overwritten */
    if (fd >= 0) {
      bool ok = write(fd, bin, size) == (ssize_t)size;
      ok = close(fd) == 0 && ok;
      if (!ok || rename(tmp, path) != 0) unlink(tmp);
    }
  }
  free(bin);
}

static pfw_status build_program(void) {
  const char* const* src = pfw_cl_sources();
  cl_uint n_src = 0;
  uint64_t h = 14695981039346656037ull;
  h = fnv1a(fnv1a(fnv1a(fnv1a(h, g_dev.name), g_dev.driver), g_dev.platform_version), PFW_CL_BUILD_OPTIONS);
  for (; src[n_src]; n_src++) h = fnv1a(h, src[n_src]);
  char dir[1024], path[1100];
  bool cached = cache_dir(dir, sizeof dir);
  if (cached) {
    snprintf(path, sizeof path, "%s/%016llx.bin", dir, (unsigned long long)h);
    g_dev.program = program_from_cache(path);
    if (g_dev.program) {
      g_dev.program_cached = true;
      return PFW_OK;
    }
  }
  cl_int err = 0;
  cl_program prog = g_dev.api.clCreateProgramWithSource(g_dev.context, n_src, (const char**)src, NULL, &err);
  if (err != CL_SUCCESS) return fail("OpenCL: clCreateProgramWithSource failed on %s: %s (%d)", g_dev.name, err);
  err = g_dev.api.clBuildProgram(prog, 1, &g_dev.device, PFW_CL_BUILD_OPTIONS, NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[700] = "";
    g_dev.api.clGetProgramBuildInfo(prog, g_dev.device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    log[sizeof log - 1] = 0;
    g_dev.api.clReleaseProgram(prog);
    snprintf(g_error, sizeof g_error, "OpenCL: the kernels do not build on %s (%s): %s", g_dev.name,
             pfw_cl_error_name(err), log);
    return PFW_ERR_BACKEND;
  }
  g_dev.program = prog;
  if (cached) program_to_cache(prog, path);
  return PFW_OK;
}

static void open_device(void) {
  g_status = load_library(&g_dev.api);
  if (g_status == PFW_OK) g_status = choose_device();
  if (g_status == PFW_OK) {
    cl_int err = 0;
    g_dev.context = g_dev.api.clCreateContext(NULL, 1, &g_dev.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) g_status = fail("OpenCL: cannot create a context on %s: %s (%d)", g_dev.name, err);
  }
  if (g_status == PFW_OK) g_status = build_program();
}

pfw_status pfw_cl_device_open(const pfw_cl_device** out) {
  pthread_once(&g_once, open_device);
  if (g_status != PFW_OK) return pfw_error(g_status, "%s", g_error);
  *out = &g_dev;
  return PFW_OK;
}
