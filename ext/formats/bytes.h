/*
** formats/bytes.h — bounds-checked reads of little- and big-endian numbers
** from a file held in memory, shared by the DM, SER, MRC (and EMD) readers.
**
** Every reader walks untrusted offsets. A cursor carries the buffer, its
** length and a sticky failure flag: a read past the end returns 0 and sets
** `bad`, so a parser can do a run of reads and check once, and no read can
** ever touch a byte outside [buf, buf+n). memcpy keeps unaligned reads
** defined behaviour.
*/
#ifndef NM_FORMATS_BYTES_H
#define NM_FORMATS_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct nm_bytes {
  const uint8_t *buf;
  size_t n;    /* bytes in buf */
  size_t pos;  /* next byte to read */
  int bad;     /* set by any read or seek outside the buffer; never cleared */
} nm_bytes;

static inline nm_bytes nm_bytes_at(const uint8_t *buf, size_t n, size_t pos) {
  nm_bytes b = {buf, n, pos, pos > n};
  return b;
}

/* 1 when [off, off+len) lies inside a buffer of n bytes (overflow-safe). */
static inline int nm_span_ok(size_t n, uint64_t off, uint64_t len) {
  return off <= n && len <= (uint64_t)n - off;
}

/* a*b into *out; 0 on overflow. */
static inline int nm_mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
  if (a && b > UINT64_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* Returns a pointer to len bytes at the cursor and advances, or NULL (and
** sets bad) when fewer than len bytes remain. */
static inline const uint8_t *nm_bytes_take(nm_bytes *b, uint64_t len) {
  if (b->bad || !nm_span_ok(b->n, b->pos, len)) {
    b->bad = 1;
    return NULL;
  }
  const uint8_t *p = b->buf + b->pos;
  b->pos += (size_t)len;
  return p;
}

static inline int nm_bytes_seek(nm_bytes *b, uint64_t pos) {
  if (pos > b->n) {
    b->bad = 1;
    return -1;
  }
  b->pos = (size_t)pos;
  return 0;
}

static inline uint64_t nm_load_uint(const uint8_t *p, int size, int little) {
  uint64_t v = 0;
  for (int i = 0; i < size; i++) {
    int k = little ? size - 1 - i : i;
    v = (v << 8) | p[k];
  }
  return v;
}

/* Unsigned integer of `size` bytes (1..8) in the given byte order. */
static inline uint64_t nm_bytes_uint(nm_bytes *b, int size, int little) {
  const uint8_t *p = nm_bytes_take(b, (uint64_t)size);
  return p ? nm_load_uint(p, size, little) : 0;
}

static inline uint8_t nm_u8(nm_bytes *b) { return (uint8_t)nm_bytes_uint(b, 1, 1); }
static inline uint16_t nm_u16le(nm_bytes *b) { return (uint16_t)nm_bytes_uint(b, 2, 1); }
static inline uint32_t nm_u32le(nm_bytes *b) { return (uint32_t)nm_bytes_uint(b, 4, 1); }
static inline uint64_t nm_u64le(nm_bytes *b) { return nm_bytes_uint(b, 8, 1); }
static inline uint16_t nm_u16be(nm_bytes *b) { return (uint16_t)nm_bytes_uint(b, 2, 0); }
static inline uint32_t nm_u32be(nm_bytes *b) { return (uint32_t)nm_bytes_uint(b, 4, 0); }
static inline uint64_t nm_u64be(nm_bytes *b) { return nm_bytes_uint(b, 8, 0); }
static inline int32_t nm_i32le(nm_bytes *b) { return (int32_t)nm_u32le(b); }
static inline int16_t nm_i16le(nm_bytes *b) { return (int16_t)nm_u16le(b); }

static inline float nm_f32_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline double nm_f64_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static inline float nm_f32(nm_bytes *b, int little) {
  return nm_f32_bits((uint32_t)nm_bytes_uint(b, 4, little));
}
static inline double nm_f64(nm_bytes *b, int little) {
  return nm_f64_bits(nm_bytes_uint(b, 8, little));
}

/* IEEE half precision to float (MRC mode 12). */
static inline float nm_f16_bits(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      u = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  return nm_f32_bits(u);
}

/*
** Sample decoding shared by the readers: `count` samples of one numeric kind
** starting at p (already bounds-checked by the caller) to float.
*/
typedef enum nm_sample_kind {
  NM_S_U8, NM_S_I8, NM_S_U16, NM_S_I16, NM_S_U32, NM_S_I32,
  NM_S_U64, NM_S_I64, NM_S_F16, NM_S_F32, NM_S_F64
} nm_sample_kind;

static inline int nm_sample_size(nm_sample_kind k) {
  static const int sizes[] = {1, 1, 2, 2, 4, 4, 8, 8, 2, 4, 8};
  return sizes[k];
}

static inline float nm_sample_get(const uint8_t *p, nm_sample_kind k, int little) {
  int size = nm_sample_size(k);
  uint64_t u = nm_load_uint(p, size, little);
  switch (k) {
    case NM_S_U8: return (float)(uint8_t)u;
    case NM_S_I8: return (float)(int8_t)u;
    case NM_S_U16: return (float)(uint16_t)u;
    case NM_S_I16: return (float)(int16_t)u;
    case NM_S_U32: return (float)(uint32_t)u;
    case NM_S_I32: return (float)(int32_t)u;
    case NM_S_U64: return (float)u;
    case NM_S_I64: return (float)(int64_t)u;
    case NM_S_F16: return nm_f16_bits((uint16_t)u);
    case NM_S_F32: return nm_f32_bits((uint32_t)u);
    case NM_S_F64: return (float)nm_f64_bits(u);
  }
  return 0.0f;
}

static inline int nm_sample_is_float(nm_sample_kind k) {
  return k == NM_S_F16 || k == NM_S_F32 || k == NM_S_F64;
}
static inline int nm_sample_is_signed(nm_sample_kind k) {
  return k == NM_S_I8 || k == NM_S_I16 || k == NM_S_I32 || k == NM_S_I64;
}

#endif /* NM_FORMATS_BYTES_H */
