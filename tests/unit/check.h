/*
** check.h — the tiny assertion kit of the C unit tests.
**
**   CHECK(cond)                   fails the test with the condition's text
**   CHECK_NEAR(got, want, tol)    |got - want| <= tol, both values printed
**   CHECK_OK(status, err)         an nm_status is NM_OK, else prints err.msg
**   return check_summary("name"); at the end of main
**
** A failing check prints file:line and carries on, so one run shows every
** failure; the exit status is nonzero if any check failed.
*/
#ifndef NM_TEST_CHECK_H
#define NM_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    check_count++;                                                         \
    if (!(cond)) {                                                         \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

#define CHECK_NEAR(got, want, tol)                                         \
  do {                                                                     \
    double check_g_ = (double)(got), check_w_ = (double)(want);            \
    check_count++;                                                         \
    if (!(fabs(check_g_ - check_w_) <= (double)(tol))) {                   \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: %s = %.9g, want %.9g +- %g\n", __FILE__,     \
              __LINE__, #got, check_g_, check_w_, (double)(tol));          \
    }                                                                      \
  } while (0)

#define CHECK_OK(status, err)                                              \
  do {                                                                     \
    check_count++;                                                         \
    if ((status) != NM_OK) {                                               \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,        \
              #status, (err).msg);                                         \
    }                                                                      \
  } while (0)

static inline int check_summary(const char *name) {
  if (check_failures) {
    fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failures, check_count);
    return 1;
  }
  printf("%s: %d checks passed\n", name, check_count);
  return 0;
}

#endif /* NM_TEST_CHECK_H */
