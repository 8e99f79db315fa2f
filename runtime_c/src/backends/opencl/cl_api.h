/* The slice of the OpenCL 1.2 API the backend calls, declared here so that
 * libpfw builds without OpenCL headers and links no OpenCL library: the
 * entry points are looked up with dlsym in libOpenCL.so.1 (cl_device.c)
 * when an interpreter first asks for the backend. Values are the Khronos
 * header's. */
#ifndef PFW_CL_API_H
#define PFW_CL_API_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef uint64_t cl_ulong;
typedef cl_ulong cl_bitfield;
typedef cl_bitfield cl_device_type;
typedef cl_bitfield cl_mem_flags;
typedef cl_bitfield cl_command_queue_properties;
typedef intptr_t cl_context_properties;
typedef cl_uint cl_platform_info;
typedef cl_uint cl_device_info;
typedef cl_uint cl_program_info;
typedef cl_uint cl_program_build_info;
typedef cl_uint cl_bool;
typedef cl_uint cl_kernel_work_group_info;
typedef struct _cl_platform_id* cl_platform_id;
typedef struct _cl_device_id* cl_device_id;
typedef struct _cl_context* cl_context;
typedef struct _cl_command_queue* cl_command_queue;
typedef struct _cl_mem* cl_mem;
typedef struct _cl_program* cl_program;
typedef struct _cl_kernel* cl_kernel;
typedef struct _cl_event* cl_event;

#define CL_SUCCESS 0
#define CL_FALSE 0u
#define CL_TRUE 1u
#define CL_PLATFORM_VERSION 0x0901u
#define CL_PLATFORM_NAME 0x0902u
#define CL_DEVICE_TYPE_CPU (1u << 1)
#define CL_DEVICE_TYPE_GPU (1u << 2)
#define CL_DEVICE_TYPE_ALL 0xFFFFFFFFu
#define CL_DEVICE_TYPE 0x1000u
#define CL_DEVICE_MAX_WORK_GROUP_SIZE 0x1004u
#define CL_DEVICE_MAX_MEM_ALLOC_SIZE 0x1010u
#define CL_DEVICE_GLOBAL_MEM_SIZE 0x101Fu
#define CL_DEVICE_NAME 0x102Bu
#define CL_DRIVER_VERSION 0x102Du
#define CL_DEVICE_VERSION 0x102Fu
#define CL_MEM_READ_WRITE (1u << 0)
#define CL_PROGRAM_BINARY_SIZES 0x1165u
#define CL_PROGRAM_BINARIES 0x1166u
#define CL_PROGRAM_BUILD_LOG 0x1183u
#define CL_KERNEL_WORK_GROUP_SIZE 0x11B0u

/* One pointer per entry point; X(name, return type, parameters). */
#define PFW_CL_FUNCTIONS(X)                                                                                       \
  X(clGetPlatformIDs, cl_int, (cl_uint, cl_platform_id*, cl_uint*))                                              \
  X(clGetPlatformInfo, cl_int, (cl_platform_id, cl_platform_info, size_t, void*, size_t*))                       \
  X(clGetDeviceIDs, cl_int, (cl_platform_id, cl_device_type, cl_uint, cl_device_id*, cl_uint*))                  \
  X(clGetDeviceInfo, cl_int, (cl_device_id, cl_device_info, size_t, void*, size_t*))                             \
  X(clCreateContext, cl_context,                                                                                  \
    (const cl_context_properties*, cl_uint, const cl_device_id*,                                                  \
     void (*)(const char*, const void*, size_t, void*), void*, cl_int*))                                          \
  X(clReleaseContext, cl_int, (cl_context))                                                                       \
  X(clCreateCommandQueue, cl_command_queue, (cl_context, cl_device_id, cl_command_queue_properties, cl_int*))    \
  X(clReleaseCommandQueue, cl_int, (cl_command_queue))                                                            \
  X(clCreateBuffer, cl_mem, (cl_context, cl_mem_flags, size_t, void*, cl_int*))                                  \
  X(clReleaseMemObject, cl_int, (cl_mem))                                                                         \
  X(clCreateProgramWithSource, cl_program, (cl_context, cl_uint, const char**, const size_t*, cl_int*))          \
  X(clCreateProgramWithBinary, cl_program,                                                                        \
    (cl_context, cl_uint, const cl_device_id*, const size_t*, const unsigned char**, cl_int*, cl_int*))          \
  X(clBuildProgram, cl_int,                                                                                       \
    (cl_program, cl_uint, const cl_device_id*, const char*, void (*)(cl_program, void*), void*))                 \
  X(clGetProgramInfo, cl_int, (cl_program, cl_program_info, size_t, void*, size_t*))                             \
  X(clGetProgramBuildInfo, cl_int, (cl_program, cl_device_id, cl_program_build_info, size_t, void*, size_t*))    \
  X(clReleaseProgram, cl_int, (cl_program))                                                                       \
  X(clCreateKernel, cl_kernel, (cl_program, const char*, cl_int*))                                               \
  X(clReleaseKernel, cl_int, (cl_kernel))                                                                         \
  X(clGetKernelWorkGroupInfo, cl_int,                                                                             \
    (cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void*, size_t*))                                \
  X(clSetKernelArg, cl_int, (cl_kernel, cl_uint, size_t, const void*))                                           \
  X(clEnqueueNDRangeKernel, cl_int,                                                                               \
    (cl_command_queue, cl_kernel, cl_uint, const size_t*, const size_t*, const size_t*, cl_uint, const cl_event*, \
     cl_event*))                                                                                                  \
  X(clEnqueueWriteBuffer, cl_int,                                                                                 \
    (cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void*, cl_uint, const cl_event*, cl_event*))       \
  X(clEnqueueReadBuffer, cl_int,                                                                                  \
    (cl_command_queue, cl_mem, cl_bool, size_t, size_t, void*, cl_uint, const cl_event*, cl_event*))             \
  X(clEnqueueCopyBuffer, cl_int,                                                                                  \
    (cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const cl_event*, cl_event*))             \
  X(clFinish, cl_int, (cl_command_queue))

typedef struct pfw_cl_api {
#define PFW_CL_POINTER(name, ret, params) ret(*name) params;
  PFW_CL_FUNCTIONS(PFW_CL_POINTER)
#undef PFW_CL_POINTER
} pfw_cl_api;

/* The OpenCL name of an error code ("CL_OUT_OF_RESOURCES"). */
const char* pfw_cl_error_name(cl_int err);

#endif
