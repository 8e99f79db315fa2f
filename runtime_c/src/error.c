/* Per-thread last-error message. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define PFW_ERROR_CAP 1024

static _Thread_local char g_message[PFW_ERROR_CAP];

pfw_status pfw_error(pfw_status status, const char* fmt, ...) {
  /* Formatted aside first: the arguments may point into g_message itself. */
  char msg[PFW_ERROR_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  memcpy(g_message, msg, sizeof msg);
  return status;
}

void pfw_error_prefix(const char* fmt, ...) {
  char prefix[PFW_ERROR_CAP];
  char old[PFW_ERROR_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, g_message, sizeof old);
  /* Joined by hand: the result is truncated to the buffer on purpose. */
  size_t n = strlen(prefix);
  memcpy(g_message, prefix, n + 1);
  if (n + 2 < sizeof g_message) {
    memcpy(g_message + n, ": ", 3);
    n += 2;
    size_t m = strlen(old);
    if (m > sizeof g_message - 1 - n) m = sizeof g_message - 1 - n;
    memcpy(g_message + n, old, m);
    g_message[n + m] = '\0';
  }
}

void pfw_error_clear(void) { g_message[0] = '\0'; }

const char* pfw_last_error(void) { return g_message; }

const char* pfw_status_name(pfw_status status) {
  switch (status) {
    case PFW_OK: return "PFW_OK";
    case PFW_ERR_INVALID_ARGUMENT: return "PFW_ERR_INVALID_ARGUMENT";
    case PFW_ERR_INVALID_MODEL: return "PFW_ERR_INVALID_MODEL";
    case PFW_ERR_UNSUPPORTED: return "PFW_ERR_UNSUPPORTED";
    case PFW_ERR_OUT_OF_MEMORY: return "PFW_ERR_OUT_OF_MEMORY";
    case PFW_ERR_IO: return "PFW_ERR_IO";
    case PFW_ERR_SHAPE: return "PFW_ERR_SHAPE";
    case PFW_ERR_NOT_FOUND: return "PFW_ERR_NOT_FOUND";
    case PFW_ERR_BACKEND: return "PFW_ERR_BACKEND";
    case PFW_ERR_INTERNAL: return "PFW_ERR_INTERNAL";
  }
  return "PFW_ERR_UNKNOWN";
}

const char* pfw_version(void) { return PFW_VERSION; }
