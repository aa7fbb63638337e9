/* nm_common.c — status values, checked allocation, progress ticks. */
#include "nm_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nm_status nm_fail(nm_error *err, nm_status code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

void nm_error_clear(nm_error *err) {
  if (err) {
    err->code = NM_OK;
    err->msg[0] = 0;
  }
}

static int product_overflows(size_t count, size_t size) {
  return size != 0 && count > SIZE_MAX / size;
}

void *nm_calloc(size_t count, size_t size, nm_error *err) {
  if (product_overflows(count, size)) {
    nm_fail(err, NM_ERR_TOOBIG, "allocation of %zu x %zu bytes overflows", count, size);
    return NULL;
  }
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) nm_fail(err, NM_ERR_NOMEM, "out of memory allocating %zu bytes", count * size);
  return p;
}

void *nm_malloc(size_t count, size_t size, nm_error *err) {
  if (product_overflows(count, size)) {
    nm_fail(err, NM_ERR_TOOBIG, "allocation of %zu x %zu bytes overflows", count, size);
    return NULL;
  }
  size_t n = count * size;
  void *p = malloc(n ? n : 1);
  if (!p) nm_fail(err, NM_ERR_NOMEM, "out of memory allocating %zu bytes", n);
  return p;
}

int nm_progress_tick(const nm_progress *progress, double done, double total,
                     const char *what) {
  if (!progress || !progress->tick) return 0;
  return progress->tick(progress->ctx, done, total, what);
}
