/*
** parallel.h — deterministic fork/join over independent slices of an image.
**
** The separable filters and the EDT work on rows or columns that do not
** depend on each other: a pass is split into nthreads contiguous slices,
** each computed by exactly the same operations whatever thread runs it, so
** the result is bit-identical for any thread count (1 included). Threads
** are created per call and joined before it returns; nothing is shared but
** the caller's read-only inputs and each slice's own output.
**
** NM_THREADS (environment, read once per process): the number of threads a
** pass may use; 1 turns threading off. Default: the online cores that are
** not busy, i.e. cores minus the 1-minute load average (rounded), at least
** 1 and at most the cores: a fork/join pass on a fully loaded machine waits
** for its descheduled half and is slower than on one thread.
** A pass run from inside another parallel pass (e.g. the two polarity
** phases, each calling the filters) runs serially in its thread.
*/
#ifndef NM_PARALLEL_H
#define NM_PARALLEL_H

#include <stddef.h>

/* Threads a pass of `work` elementary operations (about one per pixel)
** should use: 1 below a size where thread start-up costs more than it
** saves, inside a parallel pass, or when NM_THREADS=1; else NM_THREADS. */
int nm_threads_for(size_t work);

/* Overrides NM_THREADS for the whole process (n >= 1), or goes back to it
** (n = 0); for tests that compare thread counts. Not for use while a pass
** runs. */
void nm_threads_set(int n);

/* Runs fn(arg, t, nt) for t = 0..nt-1, t > 0 on new threads, t = 0 on the
** caller's; returns when all are done. A thread that cannot be created has
** its slice run on the caller's thread afterwards (same result, less
** speed), so this never fails. fn must not depend on which thread runs it. */
void nm_parallel(int nt, void (*fn)(void *arg, int t, int nt), void *arg);

/* [lo, hi) of slice t of nt over [0, n), rounded to multiples of `align`
** (except the end): contiguous, disjoint, covering. */
void nm_slice(int n, int t, int nt, int align, int *lo, int *hi);

#endif /* NM_PARALLEL_H */
