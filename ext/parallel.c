/* parallel.c — fork/join over slices (see parallel.h). */
#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* below this many pixel operations a pass runs on one thread: a thread
** start and join cost some tens of microseconds */
#define MIN_WORK ((size_t)1 << 17)
#define MAX_THREADS 64

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int nthreads_env = 1;
static int nthreads_override;
static _Thread_local int in_parallel;

static void read_env(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  const char *e = getenv("NM_THREADS");
  char *end = NULL;
  long v = e && *e ? strtol(e, &end, 10) : 0;
  if (end && *end == 0 && v >= 1) {
    n = v;
  } else {
    /* default: the cores other work leaves free. A pass split in two waits
    ** for its slower half: on a machine whose cores are all busy the
    ** second thread is descheduled and the pass takes longer than on one
    ** thread (measured: 1.3x the wall time at load 4-7 on 2 cores) */
    double la;
    if (n > 1 && getloadavg(&la, 1) == 1 && la >= 0) {
      long idle = la >= (double)n ? 1 : (long)((double)n - la + 0.5);
      if (idle < n) n = idle;
    }
  }
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  nthreads_env = (int)n;
}

int nm_threads_for(size_t work) {
  if (in_parallel || work < MIN_WORK) return 1;
  pthread_once(&once, read_env);
  return nthreads_override > 0 ? nthreads_override : nthreads_env;
}

void nm_threads_set(int n) {
  nthreads_override = n < 0 ? 0 : n > MAX_THREADS ? MAX_THREADS : n;
}

typedef struct job {
  void (*fn)(void *, int, int);
  void *arg;
  int t, nt;
} job;

static void *run_job(void *p) {
  job *j = p;
  in_parallel = 1;
  j->fn(j->arg, j->t, j->nt);
  return NULL;
}

void nm_parallel(int nt, void (*fn)(void *arg, int t, int nt), void *arg) {
  if (nt <= 1 || in_parallel) {
    for (int t = 0; t < (nt < 1 ? 1 : nt); t++) fn(arg, t, nt < 1 ? 1 : nt);
    return;
  }
  if (nt > MAX_THREADS) nt = MAX_THREADS;
  pthread_t tid[MAX_THREADS];
  job jobs[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 1; t < nt; t++) {
    jobs[t] = (job){fn, arg, t, nt};
    started[t] = pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
  }
  in_parallel = 1;
  fn(arg, 0, nt);
  for (int t = 1; t < nt; t++)
    if (!started[t]) fn(arg, t, nt);
  in_parallel = 0;
  for (int t = 1; t < nt; t++)
    if (started[t]) pthread_join(tid[t], NULL);
}

void nm_slice(int n, int t, int nt, int align, int *lo, int *hi) {
  if (align < 1) align = 1;
  int blocks = (n + align - 1) / align;
  int b0 = (int)((long long)blocks * t / nt), b1 = (int)((long long)blocks * (t + 1) / nt);
  *lo = b0 * align < n ? b0 * align : n;
  *hi = b1 * align < n ? b1 * align : n;
}
