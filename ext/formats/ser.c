/*
** formats/ser.c — FEI/Thermo TIA series files (.ser) and their .emi sidecar.
**
** A SER file is a header, an array of offsets to its data elements (one per
** frame) and the elements themselves, all little-endian. Version 0x0210 uses
** 4-byte offsets, 0x0220 8-byte ones. A 2-D element starts with a 50-byte
** header: calibration offset/delta/element for x, the same for y, the data
** type and the x and y sizes; its rows follow bottom-up (TIA's origin is the
** lower left), so they are flipped into nanomorph's top-row-first order.
**
** The calibration delta is in SI units but carries no unit: metres for an
** image, 1/m for a diffraction pattern. Only the sidecar's XML says which
** (<Label>Mode</Label><Value>... Diffraction</Value>), so the reader looks for
** foo.emi next to foo_1.ser when it reads from disk. Without the sidecar (a
** BLOB, or a lone .ser) the delta is trusted as metres only when it is a
** plausible real-space size (under 100 um per pixel); a diffraction delta
** (around 1e8 1/m) would otherwise become a 100 km pixel.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "bytes.h"
#include "reader.h"

#define SER_ELEMENT_HEADER 50
#define SER_2D 0x4122
#define SER_MAX_EMI_BYTES ((size_t)64 << 20)
/* Largest delta (m per pixel) accepted as a length without the sidecar. */
#define SER_MAX_PLAIN_DELTA 1e-4

typedef enum { EMI_NONE, EMI_IMAGE, EMI_DIFFRACTION, EMI_UNKNOWN_MODE } emi_mode;

/* foo_1.ser -> foo.emi (and foo.ser -> foo.emi); 0 when the name does not fit. */
static int emi_name(const char *path, char *out, size_t cap) {
  size_t len = strlen(path);
  if (len < 4 || strcasecmp(path + len - 4, ".ser") != 0) return 0;
  len -= 4;
  size_t stem = len;
  while (stem > 0 && isdigit((unsigned char)path[stem - 1])) stem--;
  if (stem < len && stem > 0 && path[stem - 1] == '_') len = stem - 1;
  if (len + 5 > cap) return 0;
  memcpy(out, path, len);
  memcpy(out + len, ".emi", 5);
  return 1;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle) {
  size_t m = strlen(needle);
  if (m == 0 || n < m) return NULL;
  for (size_t i = 0; i + m <= n; i++)
    if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
  return NULL;
}

/* Reads the sidecar and returns the microscope mode it records. */
static emi_mode read_emi(const char *ser_path) {
  char path[4096];
  if (!ser_path || !emi_name(ser_path, path, sizeof path)) return EMI_NONE;
  FILE *f = fopen(path, "rb");
  if (!f) return EMI_NONE;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uint64_t)st.st_size > SER_MAX_EMI_BYTES) {
    fclose(f);
    return EMI_NONE;
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n);
  if (!buf || fread(buf, 1, n, f) != n) {
    free(buf);
    fclose(f);
    return EMI_NONE;
  }
  fclose(f);
  emi_mode mode = EMI_UNKNOWN_MODE;
  const uint8_t *label = find(buf, n, "<Label>Mode</Label>");
  if (label) {
    size_t rest = n - (size_t)(label - buf);
    size_t window = rest < 512 ? rest : 512;
    const uint8_t *v = find(label, window, "<Value>");
    const uint8_t *end = v ? find(v, window - (size_t)(v - label), "</Value>") : NULL;
    if (v && end) {
      size_t vlen = (size_t)(end - v);
      mode = find(v, vlen, "Diffraction") ? EMI_DIFFRACTION : EMI_IMAGE;
    }
  }
  free(buf);
  return mode;
}

static int kind_of(int16_t t, nm_sample_kind *k) {
  static const nm_sample_kind kinds[] = {NM_S_U8,  NM_S_U16, NM_S_U32, NM_S_I8,
                                         NM_S_I16, NM_S_I32, NM_S_F32, NM_S_F64};
  if (t < 1 || t > 8) return -1;
  *k = kinds[t - 1];
  return 0;
}

static void calibrate(double dx, double dy, emi_mode mode, nm_calib *c) {
  if (mode == EMI_DIFFRACTION) {
    nm_calib_set(c, dx, dy, "1/m", "ser+emi");
  } else if (mode == EMI_IMAGE) {
    nm_calib_set(c, dx, dy, "m", "ser+emi");
  } else if (dx > 0 && dy > 0 && dx < SER_MAX_PLAIN_DELTA && dy < SER_MAX_PLAIN_DELTA) {
    nm_calib_set(c, dx, dy, "m", "ser");
  } else {
    nm_calib_unknown(c, NULL);
    snprintf(c->reason, sizeof c->reason,
             "SER pixel delta %g has no unit and no .emi sidecar says whether it is m or 1/m",
             dx);
  }
}

nm_status nm_read_ser(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                      nm_error *err) {
  const char *name = src->name;
  nm_bytes b = nm_bytes_at(src->buf, src->n, 0);
  uint16_t order = nm_u16le(&b), series = nm_u16le(&b), version = nm_u16le(&b);
  uint32_t data_type = nm_u32le(&b);
  (void)nm_u32le(&b); /* tag type */
  uint32_t total = nm_u32le(&b), valid = nm_u32le(&b);
  int wide = version >= 0x0220;
  uint64_t table = wide ? nm_u64le(&b) : nm_u32le(&b);
  snprintf(out->format, sizeof out->format, "ser");
  if (b.bad) return nm_fail(err, NM_ERR_FORMAT, "%s: truncated SER header", name);
  if (order != 0x4949 || series != 0x0197)
    return nm_fail(err, NM_ERR_FORMAT, "%s: not a TIA SER file", name);
  if (version != 0x0210 && version != 0x0220)
    return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: SER version 0x%04x is not read (0x0210, 0x0220)",
                   name, version);
  if (data_type != SER_2D)
    return nm_fail(err, NM_ERR_UNSUPPORTED,
                   "%s: SER file holds 1-D spectra (type 0x%x), not images", name, data_type);
  if (valid == 0 || valid > total)
    return nm_fail(err, NM_ERR_FORMAT, "%s: SER file has %u valid of %u elements", name, valid,
                   total);
  int osize = wide ? 8 : 4;
  if (!nm_span_ok(src->n, table, (uint64_t)total * (uint64_t)osize))
    return nm_fail(err, NM_ERR_FORMAT, "%s: SER offset table (%u entries at byte %llu) runs past the end",
                   name, total, (unsigned long long)table);
  out->frames = valid > INT32_MAX ? INT32_MAX : (int)valid;
  if ((uint64_t)opts->frame >= valid)
    return nm_fail(err, NM_ERR_ARG, "%s: frame %d requested but the file has %u frame(s)", name,
                   opts->frame, valid);

  uint64_t at = nm_load_uint(src->buf + table + (uint64_t)opts->frame * (uint64_t)osize, osize, 1);
  if (!nm_span_ok(src->n, at, SER_ELEMENT_HEADER))
    return nm_fail(err, NM_ERR_FORMAT, "%s: SER element %d at byte %llu is past the end", name,
                   opts->frame, (unsigned long long)at);
  nm_bytes e = nm_bytes_at(src->buf, src->n, (size_t)at);
  (void)nm_f64(&e, 1);
  double dx = nm_f64(&e, 1);
  (void)nm_i32le(&e);
  (void)nm_f64(&e, 1);
  double dy = nm_f64(&e, 1);
  (void)nm_i32le(&e);
  int16_t type = nm_i16le(&e);
  int32_t w = nm_i32le(&e), h = nm_i32le(&e);
  nm_sample_kind kind;
  if (kind_of(type, &kind) != 0)
    return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: SER data type %d is not read (complex data)", name,
                   type);
  out->width = w;
  out->height = h;
  out->channels = 1;
  out->bits = nm_sample_size(kind) * 8;
  out->sample_float = nm_sample_is_float(kind);
  out->sample_signed = nm_sample_is_signed(kind);
  if (w <= 0 || h <= 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: SER element has size %dx%d", name, w, h);
  uint64_t count = (uint64_t)w * (uint64_t)h;
  if (count > opts->max_pixels)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: %dx%d pixels is over the cap of %llu pixels", name, w,
                   h, (unsigned long long)opts->max_pixels);
  size_t sz = (size_t)nm_sample_size(kind);
  uint64_t bytes;
  if (!nm_mul_ok(count, sz, &bytes) || !nm_span_ok(src->n, e.pos, bytes))
    return nm_fail(err, NM_ERR_FORMAT, "%s: SER element %d (%dx%d) runs past the end of the file",
                   name, opts->frame, w, h);
  calibrate(dx, dy, read_emi(src->path), &out->calib);
  if (opts->header_only) return NM_OK;
  out->px = nm_malloc((size_t)count, sizeof(float), err);
  if (!out->px) return err ? err->code : NM_ERR_NOMEM;
  const uint8_t *base = src->buf + e.pos;
  for (int32_t y = 0; y < h; y++) {
    const uint8_t *row = base + (size_t)(h - 1 - y) * (size_t)w * sz; /* stored bottom-up */
    float *dst = out->px + (size_t)y * (size_t)w;
    for (int32_t x = 0; x < w; x++) dst[x] = nm_sample_get(row + (size_t)x * sz, kind, 1);
  }
  return NM_OK;
}

int nm_sniff_ser(const uint8_t *buf, size_t n) {
  return n >= 30 && buf[0] == 0x49 && buf[1] == 0x49 && buf[2] == 0x97 && buf[3] == 0x01;
}
