/*
** nm_common.h — what every engine module shares: status codes, the error
** value, checked allocation and the progress/cancellation callback.
**
** The engine never prints and never calls SQLite. A function that can fail
** returns an nm_status and, on failure, fills an nm_error whose message names
** the problem (and the file or argument when known). The SQL layer turns that
** message into sqlite3_result_error text.
*/
#ifndef NM_COMMON_H
#define NM_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum nm_status {
  NM_OK = 0,
  NM_ERR_ARG,         /* bad argument or option value */
  NM_ERR_IO,          /* file cannot be opened or read */
  NM_ERR_FORMAT,      /* file is corrupt, truncated or not what it claims */
  NM_ERR_UNSUPPORTED, /* valid file, but a variant we do not read */
  NM_ERR_TOOBIG,      /* over a configured cap (pixels, bytes) */
  NM_ERR_NOMEM,       /* allocation failed */
  NM_ERR_INTERRUPTED  /* the progress callback asked us to stop */
} nm_status;

typedef struct nm_error {
  nm_status code;
  char msg[512];
} nm_error;

/* Sets err (if not NULL) and returns code, so callers can write
** `return nm_fail(err, NM_ERR_FORMAT, "%s: truncated", path);` */
nm_status nm_fail(nm_error *err, nm_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears err to NM_OK / "". */
void nm_error_clear(nm_error *err);

/* calloc(count, size) with overflow check; on failure sets err (NM_ERR_NOMEM,
** or NM_ERR_TOOBIG when count*size overflows) and returns NULL. */
void *nm_calloc(size_t count, size_t size, nm_error *err);
/* malloc(count*size) with the same checks, memory not cleared. */
void *nm_malloc(size_t count, size_t size, nm_error *err);

/*
** Progress and cancellation. Long engine loops call nm_progress_tick() now and
** then (every few milliseconds of work, never per pixel). The callback may
** print a progress line; it returns nonzero to ask the engine to stop, in
** which case the engine frees what it allocated and returns
** NM_ERR_INTERRUPTED. A NULL nm_progress* is allowed and means "never stop".
*/
typedef struct nm_progress {
  int (*tick)(void *ctx, double done, double total, const char *what);
  void *ctx;
} nm_progress;

/* Returns nonzero when the caller must stop. */
int nm_progress_tick(const nm_progress *progress, double done, double total,
                     const char *what);

#endif /* NM_COMMON_H */
