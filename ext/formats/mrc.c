/*
** formats/mrc.c — MRC / MRC2014 image files (cryo-EM, tomography, Velox export).
**
** A fixed 1024-byte header, then `nsymbt` bytes of extended header (FEI1/FEI2
** blocks, SERI, ...: skipped, not parsed), then nz sections of nx*ny samples.
** Each section is a frame. The byte order is in the machine stamp (byte 212:
** 0x44/0x41 little, 0x11 big); old files without one are taken in whichever
** order gives a known mode and sane sizes.
**
** Pixel size: cella.x / mx and cella.y / my, in angstrom. A cell of zero, or a
** cell equal to the grid (exactly 1 A per pixel on both axes, what writers
** store when they know no pixel size), is reported as uncalibrated.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bytes.h"
#include "reader.h"

#define MRC_HEADER 1024

typedef struct mrc_header {
  int little;
  int32_t nx, ny, nz, mode, mx, my, nsymbt;
  float cella_x, cella_y;
  int bytes_unsigned;  /* mode 0 written by IMOD with unsigned bytes */
} mrc_header;

static int mode_kind(int32_t mode, int bytes_unsigned, nm_sample_kind *k) {
  switch (mode) {
    case 0: *k = bytes_unsigned ? NM_S_U8 : NM_S_I8; return 0;
    case 1: *k = NM_S_I16; return 0;
    case 2: *k = NM_S_F32; return 0;
    case 6: *k = NM_S_U16; return 0;
    case 12: *k = NM_S_F16; return 0;
    default: return -1;
  }
}

static void parse_header(const uint8_t *buf, size_t n, int little, mrc_header *h) {
  nm_bytes b = nm_bytes_at(buf, n, 0);
  memset(h, 0, sizeof *h);
  h->little = little;
  h->nx = (int32_t)nm_bytes_uint(&b, 4, little);
  h->ny = (int32_t)nm_bytes_uint(&b, 4, little);
  h->nz = (int32_t)nm_bytes_uint(&b, 4, little);
  h->mode = (int32_t)nm_bytes_uint(&b, 4, little);
  nm_bytes_seek(&b, 28);
  h->mx = (int32_t)nm_bytes_uint(&b, 4, little);
  h->my = (int32_t)nm_bytes_uint(&b, 4, little);
  (void)nm_bytes_uint(&b, 4, little);
  h->cella_x = nm_f32(&b, little);
  h->cella_y = nm_f32(&b, little);
  nm_bytes_seek(&b, 92);
  h->nsymbt = (int32_t)nm_bytes_uint(&b, 4, little);
  /* IMOD: stamp 1146047817 at 152, flags at 156; bit 0 set = signed bytes. */
  nm_bytes_seek(&b, 152);
  uint32_t stamp = (uint32_t)nm_bytes_uint(&b, 4, little);
  uint32_t flags = (uint32_t)nm_bytes_uint(&b, 4, little);
  h->bytes_unsigned = stamp == 1146047817u && !(flags & 1);
}

static int plausible(const mrc_header *h) {
  nm_sample_kind k;
  return h->nx > 0 && h->ny > 0 && h->nz > 0 && h->nsymbt >= 0 &&
         mode_kind(h->mode, 0, &k) == 0;
}

/* Byte order from the machine stamp, else the one that makes sense; -1 if none. */
static int byte_order(const uint8_t *buf, size_t n) {
  if (n < MRC_HEADER) return -1;
  if (memcmp(buf + 208, "MAP ", 4) == 0) {
    if (buf[212] == 0x11) return 0;
    if (buf[212] == 0x44 || buf[212] == 0x41) return 1;
  }
  mrc_header h;
  parse_header(buf, n, 1, &h);
  if (plausible(&h)) return 1;
  parse_header(buf, n, 0, &h);
  if (plausible(&h)) return 0;
  return -1;
}

nm_status nm_read_mrc(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                      nm_error *err) {
  const char *name = src->name;
  snprintf(out->format, sizeof out->format, "mrc");
  int little = byte_order(src->buf, src->n);
  if (little < 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: not an MRC file (header of %zu bytes is not valid)",
                   name, src->n);
  mrc_header h;
  parse_header(src->buf, src->n, little, &h);
  nm_sample_kind kind;
  if (mode_kind(h.mode, h.bytes_unsigned, &kind) != 0)
    return nm_fail(err, NM_ERR_UNSUPPORTED,
                   "%s: MRC mode %d is not read (modes 0, 1, 2, 6 and 12 are)", name, h.mode);
  if (h.nx <= 0 || h.ny <= 0 || h.nz <= 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: MRC size %dx%dx%d is not valid", name, h.nx, h.ny,
                   h.nz);
  if (h.nsymbt < 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: MRC extended header length %d is negative", name,
                   h.nsymbt);
  out->width = h.nx;
  out->height = h.ny;
  out->frames = h.nz;
  out->channels = 1;
  out->bits = nm_sample_size(kind) * 8;
  out->sample_float = nm_sample_is_float(kind);
  out->sample_signed = nm_sample_is_signed(kind);
  uint64_t count = (uint64_t)h.nx * (uint64_t)h.ny;
  if (count > opts->max_pixels)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: %dx%d pixels is over the cap of %llu pixels", name,
                   h.nx, h.ny, (unsigned long long)opts->max_pixels);
  if (opts->frame >= h.nz)
    return nm_fail(err, NM_ERR_ARG, "%s: frame %d requested but the file has %d frame(s)", name,
                   opts->frame, h.nz);
  uint64_t size = (uint64_t)nm_sample_size(kind), plane = 0, skip = 0;
  uint64_t data = (uint64_t)MRC_HEADER + (uint64_t)h.nsymbt; /* < 2^32 */
  int fits = nm_mul_ok(count, size, &plane) && nm_mul_ok(plane, (uint64_t)opts->frame, &skip) &&
             skip <= UINT64_MAX - data;
  uint64_t at = fits ? data + skip : 0;
  if (!fits || !nm_span_ok(src->n, at, plane))
    return nm_fail(err, NM_ERR_FORMAT,
                   "%s: MRC frame %d (%dx%d, after a %d-byte extended header) runs past the end "
                   "of the file",
                   name, opts->frame, h.nx, h.ny, h.nsymbt);

  double ax = h.mx > 0 ? h.cella_x / h.mx : 0, ay = h.my > 0 ? h.cella_y / h.my : 0;
  if (!(ax > 0) || !(ay > 0) || !isfinite(ax) || !isfinite(ay))
    nm_calib_unknown(&out->calib, "MRC cell size is zero: no pixel size in the file");
  else if (ax == 1.0 && ay == 1.0)
    nm_calib_unknown(&out->calib,
                     "MRC cell equals the grid (1 A per pixel), the value writers store when the "
                     "pixel size is unknown");
  else
    nm_calib_set(&out->calib, ax, ay, "A", "mrc");
  if (opts->header_only) return NM_OK;
  out->px = nm_malloc((size_t)count, sizeof(float), err);
  if (!out->px) return err ? err->code : NM_ERR_NOMEM;
  const uint8_t *p = src->buf + at;
  /* Rows stay in stored order (row 0 first), as mrcfile and rosettasciio return them. */
  for (uint64_t i = 0; i < count; i++) out->px[i] = nm_sample_get(p + i * size, kind, little);
  return NM_OK;
}

static int has_mrc_extension(const char *name) {
  static const char *ext[] = {".mrc", ".mrcs", ".map", ".st", ".ali", ".rec"};
  size_t len = name ? strlen(name) : 0;
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
    size_t m = strlen(ext[i]);
    if (len > m && strcasecmp(name + len - m, ext[i]) == 0) return 1;
  }
  return 0;
}

int nm_sniff_mrc(const uint8_t *buf, size_t n, const char *name) {
  if (n < MRC_HEADER) return 0;
  if (memcmp(buf + 208, "MAP ", 4) == 0) return 1;
  /* Pre-2000 files have no "MAP " stamp: accept them by name and a sane header. */
  return has_mrc_extension(name) && byte_order(buf, n) >= 0;
}
