/*
 * pfw_jni.c - JNI marshalling for dev.pyfw.PfwNative: one function per pfw.h
 * call, converting Java values to C and back. Every status other than PFW_OK
 * is thrown as dev.pyfw.PfwException(status, pfw_last_error()); there is no
 * other logic here. Strings cross as byte[] (C bytes, no NUL) so that any byte
 * sequence the runtime writes is safe to hand to Java.
 */
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_pyfw_PfwNative.h"
#include "pfw.h"

static jclass g_exception_class;   /* dev.pyfw.PfwException, a global ref */
static jmethodID g_exception_init; /* PfwException(int, byte[]) */

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void* reserved) {
  JNIEnv* env;
  if ((*vm)->GetEnv(vm, (void**)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
  jclass local = (*env)->FindClass(env, "dev/pyfw/PfwException");
  if (!local) return JNI_ERR;
  g_exception_class = (*env)->NewGlobalRef(env, local);
  (*env)->DeleteLocalRef(env, local);
  if (!g_exception_class) return JNI_ERR;
  g_exception_init = (*env)->GetMethodID(env, g_exception_class, "<init>", "(I[B)V");
  return g_exception_init ? JNI_VERSION_1_8 : JNI_ERR;
}

/* A C string as a new byte[]; NULL (with an exception pending) when out of memory. */
static jbyteArray to_bytes(JNIEnv* env, const char* s) {
  if (!s) s = "";
  jsize n = (jsize)strlen(s);
  jbyteArray out = (*env)->NewByteArray(env, n);
  if (out) (*env)->SetByteArrayRegion(env, out, 0, n, (const jbyte*)s);
  return out;
}

static void throw_message(JNIEnv* env, pfw_status status, const char* message) {
  jbyteArray bytes = to_bytes(env, message);
  if (!bytes) return;
  jobject e = (*env)->NewObject(env, g_exception_class, g_exception_init, (jint)status, bytes);
  if (e) (*env)->Throw(env, (jthrowable)e);
}

/* Throws for a failed status; returns 1 when `status` was an error. */
static int check(JNIEnv* env, pfw_status status) {
  if (status == PFW_OK) return 0;
  throw_message(env, status, pfw_last_error());
  return 1;
}

/* byte[] -> malloc'd NUL-terminated C string (free it); NULL with an exception pending on failure. */
static char* to_cstring(JNIEnv* env, jbyteArray bytes) {
  if (!bytes) {
    throw_message(env, PFW_ERR_INVALID_ARGUMENT, "string argument is null");
    return NULL;
  }
  jsize n = (*env)->GetArrayLength(env, bytes);
  char* s = malloc((size_t)n + 1);
  if (!s) {
    throw_message(env, PFW_ERR_OUT_OF_MEMORY, "out of memory copying a string argument");
    return NULL;
  }
  (*env)->GetByteArrayRegion(env, bytes, 0, n, (jbyte*)s);
  s[n] = '\0';
  return s;
}

static void* ptr(jlong handle) { return (void*)(intptr_t)handle; }

/* long[] dims -> d[0..PFW_MAX_RANK); the count, or -1 with an exception pending
 * (null, or more dims than any tensor has). */
static jsize to_dims(JNIEnv* env, jlongArray dims, int64_t* d, const char* what) {
  char message[96];
  if (!dims) {
    snprintf(message, sizeof message, "%s: dims are null", what);
    throw_message(env, PFW_ERR_INVALID_ARGUMENT, message);
    return -1;
  }
  jsize rank = (*env)->GetArrayLength(env, dims);
  if (rank > PFW_MAX_RANK) {
    snprintf(message, sizeof message, "%s: %d dims, more than the %d a tensor may have", what, (int)rank,
             PFW_MAX_RANK);
    throw_message(env, PFW_ERR_SHAPE, message);
    return -1;
  }
  (*env)->GetLongArrayRegion(env, dims, 0, rank, (jlong*)d);
  return rank;
}
static jlong handle_of(const void* p) { return (jlong)(intptr_t)p; }

/* ---- library ------------------------------------------------------------ */

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_version(JNIEnv* env, jclass cls) {
  return to_bytes(env, pfw_version());
}

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_statusName(JNIEnv* env, jclass cls, jint status) {
  return to_bytes(env, pfw_status_name((pfw_status)status));
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_dtypeSize(JNIEnv* env, jclass cls, jint dtype) {
  return (jlong)pfw_dtype_size((pfw_dtype)dtype);
}

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_dtypeName(JNIEnv* env, jclass cls, jint dtype) {
  return to_bytes(env, pfw_dtype_name((pfw_dtype)dtype));
}

/* ---- model -------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_modelLoadFile(JNIEnv* env, jclass cls, jbyteArray path) {
  char* p = to_cstring(env, path);
  if (!p) return 0;
  pfw_model* model = NULL;
  pfw_status st = pfw_model_load_file(p, &model);
  free(p);
  return check(env, st) ? 0 : handle_of(model);
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_modelLoadBuffer(JNIEnv* env, jclass cls, jbyteArray data) {
  if (!data) {
    throw_message(env, PFW_ERR_INVALID_ARGUMENT, "model bytes are null");
    return 0;
  }
  jsize n = (*env)->GetArrayLength(env, data);
  jbyte* bytes = (*env)->GetByteArrayElements(env, data, NULL);
  if (!bytes) return 0;
  pfw_model* model = NULL;
  pfw_status st = pfw_model_load_buffer(bytes, (size_t)n, &model);
  /* load_buffer copies the bytes; JNI_ABORT: nothing to write back. */
  (*env)->ReleaseByteArrayElements(env, data, bytes, JNI_ABORT);
  return check(env, st) ? 0 : handle_of(model);
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_modelFree(JNIEnv* env, jclass cls, jlong model) {
  pfw_model_free(ptr(model));
}

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_modelGetMetadata(JNIEnv* env, jclass cls, jlong model,
                                                                      jbyteArray key) {
  char* k = to_cstring(env, key);
  if (!k) return NULL;
  const char* value = NULL;
  pfw_status st = pfw_model_get_metadata(ptr(model), k, &value);
  free(k);
  return check(env, st) ? NULL : to_bytes(env, value);
}

/* ---- options ------------------------------------------------------------ */

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_optionsCreate(JNIEnv* env, jclass cls) {
  pfw_options* options = NULL;
  return check(env, pfw_options_create(&options)) ? 0 : handle_of(options);
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_optionsFree(JNIEnv* env, jclass cls, jlong options) {
  pfw_options_free(ptr(options));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_optionsSetNumThreads(JNIEnv* env, jclass cls, jlong options,
                                                                    jint threads) {
  check(env, pfw_options_set_num_threads(ptr(options), (int32_t)threads));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_optionsSetBackend(JNIEnv* env, jclass cls, jlong options,
                                                                 jbyteArray name) {
  char* n = to_cstring(env, name);
  if (!n) return;
  pfw_status st = pfw_options_set_backend(ptr(options), n);
  free(n);
  check(env, st);
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_optionsSetArenaLimit(JNIEnv* env, jclass cls, jlong options,
                                                                    jlong bytes) {
  check(env, pfw_options_set_arena_limit(ptr(options), (uint64_t)bytes));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_optionsSetLoopLimit(JNIEnv* env, jclass cls, jlong options,
                                                                   jlong iterations) {
  check(env, pfw_options_set_loop_limit(ptr(options), (int64_t)iterations));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_optionsSetSeed(JNIEnv* env, jclass cls, jlong options, jlong seed) {
  check(env, pfw_options_set_seed(ptr(options), (uint64_t)seed));
}

/* ---- interpreter -------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_interpreterCreate(JNIEnv* env, jclass cls, jlong model,
                                                                  jlong options) {
  pfw_interpreter* it = NULL;
  return check(env, pfw_interpreter_create(ptr(model), ptr(options), &it)) ? 0 : handle_of(it);
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_interpreterFree(JNIEnv* env, jclass cls, jlong it) {
  pfw_interpreter_free(ptr(it));
}

JNIEXPORT jint JNICALL Java_dev_pyfw_PfwNative_interpreterInputCount(JNIEnv* env, jclass cls, jlong it) {
  return pfw_interpreter_input_count(ptr(it));
}

JNIEXPORT jint JNICALL Java_dev_pyfw_PfwNative_interpreterOutputCount(JNIEnv* env, jclass cls, jlong it) {
  return pfw_interpreter_output_count(ptr(it));
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_interpreterGetInput(JNIEnv* env, jclass cls, jlong it,
                                                                    jint index) {
  pfw_tensor* t = NULL;
  return check(env, pfw_interpreter_get_input(ptr(it), (int32_t)index, &t)) ? 0 : handle_of(t);
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_interpreterGetOutput(JNIEnv* env, jclass cls, jlong it,
                                                                     jint index) {
  pfw_tensor* t = NULL;
  return check(env, pfw_interpreter_get_output(ptr(it), (int32_t)index, &t)) ? 0 : handle_of(t);
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_interpreterResizeInput(JNIEnv* env, jclass cls, jlong it,
                                                                      jint index, jlongArray dims) {
  int64_t d[PFW_MAX_RANK];
  jsize n = to_dims(env, dims, d, "resize");
  if (n >= 0) check(env, pfw_interpreter_resize_input(ptr(it), (int32_t)index, d, (int32_t)n));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_interpreterAllocate(JNIEnv* env, jclass cls, jlong it) {
  check(env, pfw_interpreter_allocate(ptr(it)));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_interpreterInvoke(JNIEnv* env, jclass cls, jlong it) {
  check(env, pfw_interpreter_invoke(ptr(it)));
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_interpreterArenaSize(JNIEnv* env, jclass cls, jlong it) {
  return (jlong)pfw_interpreter_arena_size(ptr(it));
}

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_interpreterBackend(JNIEnv* env, jclass cls, jlong it) {
  return to_bytes(env, pfw_interpreter_backend(ptr(it)));
}

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_interpreterBackendInfo(JNIEnv* env, jclass cls, jlong it) {
  return to_bytes(env, pfw_interpreter_backend_info(ptr(it)));
}

/* ---- tensors ------------------------------------------------------------ */

JNIEXPORT jbyteArray JNICALL Java_dev_pyfw_PfwNative_tensorName(JNIEnv* env, jclass cls, jlong t) {
  return to_bytes(env, pfw_tensor_name(ptr(t)));
}

JNIEXPORT jint JNICALL Java_dev_pyfw_PfwNative_tensorDtype(JNIEnv* env, jclass cls, jlong t) {
  return (jint)pfw_tensor_dtype(ptr(t));
}

JNIEXPORT jint JNICALL Java_dev_pyfw_PfwNative_tensorRank(JNIEnv* env, jclass cls, jlong t) {
  return pfw_tensor_rank(ptr(t));
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_tensorDim(JNIEnv* env, jclass cls, jlong t, jint index) {
  return pfw_tensor_dim(ptr(t), (int32_t)index);
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_tensorModelDim(JNIEnv* env, jclass cls, jlong t, jint index) {
  return pfw_tensor_model_dim(ptr(t), (int32_t)index);
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_tensorByteSize(JNIEnv* env, jclass cls, jlong t) {
  return (jlong)pfw_tensor_byte_size(ptr(t));
}

/* The address and capacity of a direct buffer; NULL (exception pending) for a heap buffer. */
static void* direct_address(JNIEnv* env, jobject buffer, size_t* size) {
  if (!buffer) {
    throw_message(env, PFW_ERR_INVALID_ARGUMENT, "buffer is null");
    return NULL;
  }
  jlong capacity = (*env)->GetDirectBufferCapacity(env, buffer);
  void* address = (*env)->GetDirectBufferAddress(env, buffer);
  if (capacity < 0 || (!address && capacity > 0)) {
    throw_message(env, PFW_ERR_INVALID_ARGUMENT, "buffer is not a direct ByteBuffer");
    return NULL;
  }
  *size = (size_t)capacity;
  /* A zero-capacity buffer may have no address; the runtime accepts any pointer for 0 bytes. */
  return address ? address : (void*)size;
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_tensorCopyFromBuffer(JNIEnv* env, jclass cls, jlong t,
                                                                    jobject src) {
  size_t size = 0;
  const void* data = direct_address(env, src, &size);
  if (data) check(env, pfw_tensor_copy_from_buffer(ptr(t), data, size));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_tensorCopyToBuffer(JNIEnv* env, jclass cls, jlong t,
                                                                  jobject dst) {
  size_t size = 0;
  void* data = direct_address(env, dst, &size);
  if (data) check(env, pfw_tensor_copy_to_buffer(ptr(t), data, size));
}

/* String tensors: byte[] elements, gathered into one C block for the call. */
JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_tensorSetStrings(JNIEnv* env, jclass cls, jlong t,
                                                                jobjectArray data) {
  if (!data) {
    throw_message(env, PFW_ERR_INVALID_ARGUMENT, "strings are null");
    return;
  }
  jsize n = (*env)->GetArrayLength(env, data);
  size_t total = 0;
  for (jsize i = 0; i < n; i++) {
    jbyteArray e = (jbyteArray)(*env)->GetObjectArrayElement(env, data, i);
    if (!e) {
      throw_message(env, PFW_ERR_INVALID_ARGUMENT, "a string element is null");
      return;
    }
    total += (size_t)(*env)->GetArrayLength(env, e);
    (*env)->DeleteLocalRef(env, e);
  }
  /* pointers, sizes, then the bytes: one block, aligned from malloc's start */
  size_t head = (size_t)n * (sizeof(char*) + sizeof(size_t));
  char* block = malloc(head + total + 1);
  if (!block) {
    throw_message(env, PFW_ERR_OUT_OF_MEMORY, "out of memory for the strings");
    return;
  }
  const char** ptrs = (const char**)block;
  size_t* sizes = (size_t*)(block + (size_t)n * sizeof(char*));
  char* at = block + head;
  for (jsize i = 0; i < n; i++) {
    jbyteArray e = (jbyteArray)(*env)->GetObjectArrayElement(env, data, i);
    jsize len = (*env)->GetArrayLength(env, e);
    (*env)->GetByteArrayRegion(env, e, 0, len, (jbyte*)at);
    (*env)->DeleteLocalRef(env, e);
    ptrs[i] = at;
    sizes[i] = (size_t)len;
    at += len;
  }
  check(env, pfw_tensor_set_strings(ptr(t), ptrs, sizes, (int64_t)n));
  free(block);
}

JNIEXPORT jobjectArray JNICALL Java_dev_pyfw_PfwNative_tensorGetStrings(JNIEnv* env, jclass cls, jlong t) {
  int64_t n = pfw_tensor_element_count(ptr(t));
  size_t size = 0;
  if (check(env, pfw_tensor_strings_size(ptr(t), &size))) return NULL;
  if (n > INT32_MAX || size > INT32_MAX) {
    throw_message(env, PFW_ERR_UNSUPPORTED, "the strings are more than a Java array holds");
    return NULL;
  }
  char* bytes = malloc(size + 1);
  uint64_t* ends = malloc(sizeof(uint64_t) * (size_t)(n + 1));
  jclass byte_array = (*env)->FindClass(env, "[B");
  jobjectArray out = NULL;
  if (!bytes || !ends) {
    throw_message(env, PFW_ERR_OUT_OF_MEMORY, "out of memory for the strings");
  } else if (byte_array && !check(env, pfw_tensor_copy_strings(ptr(t), bytes, size, ends, n))) {
    out = (*env)->NewObjectArray(env, (jsize)n, byte_array, NULL);
    for (int64_t i = 0, start = 0; out && i < n; start = (int64_t)ends[i], i++) {
      jbyteArray e = (*env)->NewByteArray(env, (jsize)((int64_t)ends[i] - start));
      if (!e) {
        out = NULL; /* OutOfMemoryError pending */
        break;
      }
      (*env)->SetByteArrayRegion(env, e, 0, (jsize)((int64_t)ends[i] - start), (const jbyte*)bytes + start);
      (*env)->SetObjectArrayElement(env, out, (jsize)i, e);
      (*env)->DeleteLocalRef(env, e);
    }
  }
  free(bytes);
  free(ends);
  return out;
}

/* ---- sequences and optionals --------------------------------------------- */

JNIEXPORT jint JNICALL Java_dev_pyfw_PfwNative_tensorKind(JNIEnv* env, jclass cls, jlong t) {
  return (jint)pfw_tensor_kind(ptr(t));
}

JNIEXPORT jboolean JNICALL Java_dev_pyfw_PfwNative_tensorIsOptional(JNIEnv* env, jclass cls, jlong t) {
  return pfw_tensor_is_optional(ptr(t)) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jboolean JNICALL Java_dev_pyfw_PfwNative_tensorHasValue(JNIEnv* env, jclass cls, jlong t) {
  return pfw_tensor_has_value(ptr(t)) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_tensorSetHasValue(JNIEnv* env, jclass cls, jlong t,
                                                                 jboolean has_value) {
  check(env, pfw_tensor_set_has_value(ptr(t), has_value ? 1 : 0));
}

JNIEXPORT jint JNICALL Java_dev_pyfw_PfwNative_tensorModelRank(JNIEnv* env, jclass cls, jlong t) {
  return pfw_tensor_model_rank(ptr(t));
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_tensorSequenceLength(JNIEnv* env, jclass cls, jlong t) {
  int64_t n = 0;
  check(env, pfw_tensor_sequence_length(ptr(t), &n));
  return (jlong)n;
}

JNIEXPORT jlong JNICALL Java_dev_pyfw_PfwNative_tensorSequenceItem(JNIEnv* env, jclass cls, jlong t,
                                                                   jlong index) {
  const pfw_tensor* item = NULL;
  if (check(env, pfw_tensor_sequence_item(ptr(t), (int64_t)index, &item))) return 0;
  return (jlong)(intptr_t)item;
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_tensorSequenceClear(JNIEnv* env, jclass cls, jlong t) {
  check(env, pfw_tensor_sequence_clear(ptr(t)));
}

JNIEXPORT void JNICALL Java_dev_pyfw_PfwNative_tensorSequenceAppend(JNIEnv* env, jclass cls, jlong t, jint dtype,
                                                                    jlongArray dims, jobject src) {
  int64_t d[PFW_MAX_RANK];
  jsize n = to_dims(env, dims, d, "sequence append");
  size_t size = 0;
  const void* data = n >= 0 ? direct_address(env, src, &size) : NULL;
  if (data) check(env, pfw_tensor_sequence_append(ptr(t), (pfw_dtype)dtype, d, (int32_t)n, data, size));
}
