/*
** rng.h — the project's one seeded pseudo-random generator: xoshiro256**
** seeded through splitmix64. Every random process in nanomorph (simulation,
** augmentation, initialisation, restarts, splits) draws from an nm_rng, so the
** same seed gives the same bytes on every platform: only integer arithmetic
** and IEEE double operations in a fixed order, no libc rand().
**
** Streams: nm_rng_seed2(seed, stream) derives an independent generator for,
** e.g., row `stream` of a table from one user seed, so a row's content does
** not depend on how many rows came before it (simulate(10, s) is a prefix of
** simulate(1000, s)).
**
** Not for cryptography. Not thread-safe per object (use one per thread).
*/
#ifndef NM_RNG_H
#define NM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct nm_rng {
  uint64_t s[4];
  int has_spare;   /* Box–Muller keeps its second value */
  double spare;
} nm_rng;

/* One step of splitmix64: a good 64-bit mixing function (also a hash). */
uint64_t nm_splitmix64(uint64_t *state);
/* Stateless 64-bit hash of (a, b), used for per-item decisions. */
uint64_t nm_hash2(uint64_t a, uint64_t b);

void nm_rng_seed(nm_rng *r, uint64_t seed);
void nm_rng_seed2(nm_rng *r, uint64_t seed, uint64_t stream);

uint64_t nm_rng_u64(nm_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double nm_rng_uniform(nm_rng *r);
/* Uniform in [a, b). */
double nm_rng_range(nm_rng *r, double a, double b);
/* Log-uniform in [a, b], a > 0. */
double nm_rng_log_uniform(nm_rng *r, double a, double b);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint64_t nm_rng_below(nm_rng *r, uint64_t n);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t nm_rng_int(nm_rng *r, int64_t lo, int64_t hi);
/* Standard normal (Box–Muller, polar form). */
double nm_rng_normal(nm_rng *r);
/* Poisson with mean lambda >= 0 (multiplication for small lambda, PTRS
** transformed rejection for lambda >= 10). */
double nm_rng_poisson(nm_rng *r, double lambda);
/* Fisher–Yates shuffle of n ints / of n elements of size `size`. */
void nm_rng_shuffle_int(nm_rng *r, int *a, size_t n);
void nm_rng_shuffle(nm_rng *r, void *base, size_t n, size_t size);

#endif /* NM_RNG_H */
