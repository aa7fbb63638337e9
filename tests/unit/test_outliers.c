/*
** test_outliers.c — the area-weighted outlier fences (outliers.h): a clump and
** a bitten fragment in a regular population, particles among a crowd of
** texture specks, excluded labels left alone, too few particles.
*/
#include <string.h>

#include "../../ext/outliers.h"
#include "../../ext/segment.h"
#include "check.h"

enum { MAX = 200 };
static nm_features f[MAX];
static uint8_t ex[MAX + 1];

static void reset(void) {
  memset(f, 0, sizeof f);
  memset(ex, 0, sizeof ex);
}

static void set(int label, double area, double solidity) {
  f[label - 1].label = label;
  f[label - 1].area = area;
  f[label - 1].solidity = solidity;
}

static int count_flagged(int n) {
  int k, c = 0;
  for (k = 1; k <= n; k++) c += ex[k] == NM_EXCL_OUTLIER;
  return c;
}

/* 20 regular particles of 100-119 px: a 1000 px clump (a third of the
** pixels, yet outside the core around the typical particle) is far over the upper
** fence, a solidity of 0.6 far under the rest; 0.90 is ordinary; an excluded
** 5000 px label neither counts nor is re-flagged. */
static void test_regular_population(void) {
  reset();
  for (int k = 1; k <= 20; k++) set(k, 100 + k - 1, 0.95 + 0.001 * (k - 1));
  f[3].area = 1000;
  f[7].solidity = 0.6;
  f[9].solidity = 0.90;
  f[11].area = 5000;
  ex[12] = NM_EXCL_EDGE;
  CHECK(nm_outliers_flag(f, 20, ex) == 2);
  CHECK(ex[4] == NM_EXCL_OUTLIER);
  CHECK(ex[8] == NM_EXCL_OUTLIER);
  CHECK(ex[10] == 0);
  CHECK(ex[12] == NM_EXCL_EDGE);
  CHECK(count_flagged(20) == 2);
}

/* A textured film: 150 specks of 50-79 px and 15 particles of 800-1080 px
** (the specks 10x more numerous, the particles holding more of the pixels).
** Counted one per particle the quartiles were the specks' (Q3 + 3 IQR ~ 160
** px) and every particle was flagged. Now the typical particle is the one
** holding the median pixel, the fences come from the particles within 4x of
** its area: the 15 are kept and a 6000 px clump is flagged. The specks are
** not (no lower area fence: segment.h's texture rule tells them apart). */
static void test_particles_among_specks(void) {
  reset();
  int n = 0;
  for (int i = 0; i < 150; i++) set(++n, 50 + i % 30, 0.85);
  int first_particle = n + 1;
  for (int i = 0; i < 15; i++) set(++n, 800 + 20 * i, 0.9);
  set(++n, 6000, 0.9);
  nm_outliers_flag(f, n, ex);
  int particles_flagged = 0;
  for (int k = first_particle; k < first_particle + 15; k++)
    particles_flagged += ex[k] == NM_EXCL_OUTLIER;
  CHECK(particles_flagged == 0);
  CHECK(ex[n] == NM_EXCL_OUTLIER);
  CHECK(count_flagged(n) == 1);
}

/* A small particle in a tight population is its size distribution's tail:
** 0.5 of the typical area is not flagged (Q1 - 3 IQR here is ~0.7 of it). */
static void test_small_tail_kept(void) {
  reset();
  for (int k = 1; k <= 20; k++) set(k, 1000 + 5 * k, 0.95);
  set(21, 500, 0.95);
  CHECK(nm_outliers_flag(f, 21, ex) == 0);
  CHECK(ex[21] == 0);
}

static void test_too_few(void) {
  reset();
  for (int k = 1; k < NM_OUTLIERS_MIN_COUNT; k++) set(k, 100, 0.95);
  set(1, 10000, 0.2);
  CHECK(nm_outliers_flag(f, NM_OUTLIERS_MIN_COUNT - 1, ex) == 0);
  CHECK(count_flagged(NM_OUTLIERS_MIN_COUNT - 1) == 0);
  CHECK(nm_outliers_flag(NULL, 5, ex) == 0);
}

int main(void) {
  test_regular_population();
  test_particles_among_specks();
  test_small_tail_kept();
  test_too_few();
  return check_summary("test_outliers");
}
