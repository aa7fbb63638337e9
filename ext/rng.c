/* rng.c — xoshiro256** (Blackman & Vigna) seeded by splitmix64; see rng.h. */
#include "rng.h"

#include <math.h>
#include <string.h>

uint64_t nm_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t nm_hash2(uint64_t a, uint64_t b) {
  uint64_t s = a;
  uint64_t h = nm_splitmix64(&s);
  s = h ^ b;
  return nm_splitmix64(&s);
}

void nm_rng_seed(nm_rng *r, uint64_t seed) {
  uint64_t s = seed;
  for (int i = 0; i < 4; i++) r->s[i] = nm_splitmix64(&s);
  /* all-zero state is the one xoshiro cannot leave; splitmix64 never gives
  ** four zeros in a row, but be explicit */
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
  r->has_spare = 0;
  r->spare = 0;
}

void nm_rng_seed2(nm_rng *r, uint64_t seed, uint64_t stream) {
  nm_rng_seed(r, nm_hash2(seed, stream ^ 0x5bd1e9955bd1e995ULL));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nm_rng_u64(nm_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double nm_rng_uniform(nm_rng *r) {
  return (double)(nm_rng_u64(r) >> 11) * 0x1.0p-53;
}

double nm_rng_range(nm_rng *r, double a, double b) {
  return a + (b - a) * nm_rng_uniform(r);
}

double nm_rng_log_uniform(nm_rng *r, double a, double b) {
  if (a == b) return a;
  double v = exp(log(a) + (log(b) - log(a)) * nm_rng_uniform(r));
  return v < a ? a : v > b ? b : v;
}

uint64_t nm_rng_below(nm_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  /* Lemire: multiply-shift with rejection of the biased low zone */
  uint64_t x = nm_rng_u64(r);
  __uint128_t m = (__uint128_t)x * n;
  uint64_t l = (uint64_t)m;
  if (l < n) {
    uint64_t t = (0 - n) % n;
    while (l < t) {
      x = nm_rng_u64(r);
      m = (__uint128_t)x * n;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

int64_t nm_rng_int(nm_rng *r, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  return lo + (int64_t)nm_rng_below(r, (uint64_t)(hi - lo) + 1);
}

double nm_rng_normal(nm_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u, v, s;
  do {
    u = 2.0 * nm_rng_uniform(r) - 1.0;
    v = 2.0 * nm_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double f = sqrt(-2.0 * log(s) / s);
  r->spare = v * f;
  r->has_spare = 1;
  return u * f;
}

double nm_rng_poisson(nm_rng *r, double lambda) {
  if (!(lambda > 0)) return 0;
  if (lambda < 10) {
    /* Knuth: count uniforms until their product drops below e^-lambda */
    double L = exp(-lambda), prod = nm_rng_uniform(r);
    double k = 0;
    while (prod > L) {
      k += 1;
      prod *= nm_rng_uniform(r);
    }
    return k;
  }
  /* PTRS, Hörmann (1993), "The transformed rejection method for generating
  ** Poisson random variables". */
  double slam = sqrt(lambda), loglam = log(lambda);
  double b = 0.931 + 2.53 * slam;
  double a = -0.059 + 0.02483 * b;
  double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  double vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    double U = nm_rng_uniform(r) - 0.5;
    double V = nm_rng_uniform(r);
    double us = 0.5 - fabs(U);
    double k = floor((2 * a / us + b) * U + lambda + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (log(V) + log(inv_alpha) - log(a / (us * us) + b) <=
        -lambda + k * loglam - lgamma(k + 1))
      return k;
  }
}

void nm_rng_shuffle_int(nm_rng *r, int *a, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)nm_rng_below(r, i);
    int t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

void nm_rng_shuffle(nm_rng *r, void *base, size_t n, size_t size) {
  unsigned char *p = base, tmp[64];
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)nm_rng_below(r, i);
    if (j == i - 1) continue;
    unsigned char *x = p + (i - 1) * size, *y = p + j * size;
    for (size_t o = 0; o < size; o += sizeof tmp) {
      size_t c = size - o < sizeof tmp ? size - o : sizeof tmp;
      memcpy(tmp, x + o, c);
      memcpy(x + o, y + o, c);
      memcpy(y + o, tmp, c);
    }
  }
}
