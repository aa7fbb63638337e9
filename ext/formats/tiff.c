/*
** formats/tiff.c — TIFF through libtiff, read from memory, with the pixel
** size from vendor tags.
**
** Pixels: 1/2/4/8/16/32-bit unsigned, 8/16/32-bit signed, 32/64-bit float;
** strips or tiles; contiguous or separate planes; gray, min-is-white
** (inverted), palette (luma of the colour map, 8-bit scale), RGB(A) (luma,
** alpha ignored); other photometrics (YCbCr, CMYK, ...) through libtiff's
** RGBA interface. Multi-page: opts->frame picks the page, out->frames counts.
**
** Calibration, first rule that applies wins (it is the order rosettasciio
** uses, which every file of ../shared/formats passes):
**   1. FEI_HELIOS / FEI_SFEG (34682 / 34680) INI text: [Scan] PixelWidth /
**      PixelHeight in m, else [IRBeam] HFW / [Image] ResolutionX (and VFW /
**      ResolutionY), else none. [Image] ResolutionY below the TIFF height
**      means the bottom rows are the data bar: calib.databar_rows.
**   2. Zeiss CZ_SEM (34118): the 4th number of the untitled leading block is
**      metres per pixel for a 1024-px-wide display; pixel = that * 1024 /
**      width (ap_pixel_size is the display value and is 2x off at 512 px).
**      The data zone at the bottom is not described by any tag: it is found
**      in the pixels (zeiss_zone_rows) and becomes calib.databar_rows.
**   3. TVIPS (37706 -> header): v2 PixelSizeX/Y in nm, else XResolution in
**      pixels per cm.
**   4. Olympus SIS (33560) on any page: pixelsizex/y = cal * 10^exp in m;
**      a truncated or unusable block, or only the SIS INI text (33471, which
**      holds no size), gives no size with the reason (never the page's dpi).
**   5. JEOL SightX (Make "JEOL Ltd.", XML ImageDescription): MAG mode
**      pixel = (2.54 cm or 1 cm / XResolution) / magnification; DIFF mode is
**      reciprocal: (same length) / (camera length * electron wavelength).
**   6. DigitalMicrograph export tags: 65009 x scale, 65010 y scale, units in
**      65003 / 65004 (the 72 dpi XResolution is ignored).
**   7. ImageJ ImageDescription "ImageJ=" with unit= (micron, nm, ...): pixel
**      = 1/XResolution in that unit (spacing= is the z step, not used).
**   8. XResolution / YResolution with ResolutionUnit inch or cm, ONLY when
**      the pixel it implies is smaller than 1 µm (finer than 25,400 dpi):
**      no screen, printer or scanner dpi is that fine, and every electron
**      microscope pixel is. A bare 72/96/150/300 dpi is not a calibration.
**   9. none.
** Private tags are read from libtiff's anonymous fields; every count and
** offset into the file is checked against its size before use.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tiffio.h>

#include "reader.h"

/* ---- memory I/O for TIFFClientOpen ---- */

typedef struct tiff_mem {
  const uint8_t *buf;
  uint64_t n, pos;
  const char *name; /* libtiff prefixes messages with it: we strip it */
  char msg[200];    /* first libtiff error, for our message */
} tiff_mem;

static tmsize_t mem_read(thandle_t h, void *out, tmsize_t len) {
  tiff_mem *m = (tiff_mem *)h;
  if (len <= 0 || m->pos >= m->n) return 0;
  uint64_t left = m->n - m->pos;
  uint64_t k = (uint64_t)len < left ? (uint64_t)len : left;
  memcpy(out, m->buf + m->pos, (size_t)k);
  m->pos += k;
  return (tmsize_t)k;
}

static tmsize_t mem_write(thandle_t h, void *data, tmsize_t len) {
  (void)h;
  (void)data;
  (void)len;
  return -1;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  tiff_mem *m = (tiff_mem *)h;
  uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->n : 0;
  /* libtiff passes offsets as unsigned; a "negative" one wraps. */
  m->pos = base + off;
  uint64_t target = m->pos;
  return target;
}

static int mem_close(thandle_t h) {
  (void)h;
  return 0;
}

static toff_t mem_size(thandle_t h) { return ((tiff_mem *)h)->n; }

static int mem_map(thandle_t h, void **base, toff_t *size) {
  (void)h;
  (void)base;
  (void)size;
  return 0;
}

static void mem_unmap(thandle_t h, void *base, toff_t size) {
  (void)h;
  (void)base;
  (void)size;
}

/* Per-handle error and warning handlers (libtiff >= 4.5): nothing reaches
** stderr, nothing global is touched, and the first error is kept for the
** message. Returning 1 stops libtiff from calling the global handlers. */
static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt,
                         va_list ap) {
  (void)tif;
  (void)module;
  tiff_mem *m = user;
  if (m && !m->msg[0]) {
    char text[sizeof m->msg];
    vsnprintf(text, sizeof text, fmt, ap);
    const char *t = text;
    size_t k = m->name ? strlen(m->name) : 0;
    if (k && strncmp(t, m->name, k) == 0 && t[k] == ':') t += k + 1;
    while (*t == ' ') t++;
    snprintf(m->msg, sizeof m->msg, "%s", t);
  }
  return 1;
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                           va_list ap) {
  (void)tif;
  (void)user;
  (void)module;
  (void)fmt;
  (void)ap;
  return 1;
}

/* ---- small text helpers (all bounded by an explicit length) ---- */

/* Copies at most len bytes of a possibly unterminated text into a fresh
** NUL-terminated buffer. */
static char *text_dup(const void *data, size_t len) {
  char *s = malloc(len + 1);
  if (!s) return NULL;
  if (len) memcpy(s, data, len);
  s[len] = 0;
  return s;
}

static int parse_double(const char *s, double *out) {
  if (!s) return 0;
  while (*s == ' ' || *s == '\t') s++;
  char *end;
  double v = strtod(s, &end);
  if (end == s || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

/* INI lookup: value of key in [section]; returns a pointer into a static-free
** copy written to out (NUL-terminated). */
static int ini_get(const char *text, const char *section, const char *key, char *out,
                   size_t cap) {
  size_t slen = strlen(section), klen = strlen(key);
  int in_section = 0;
  const char *p = text;
  while (*p) {
    const char *eol = p;
    while (*eol && *eol != '\n' && *eol != '\r') eol++;
    size_t len = (size_t)(eol - p);
    if (len >= 2 && p[0] == '[') {
      in_section = len >= slen + 2 && strncmp(p + 1, section, slen) == 0 && p[slen + 1] == ']';
    } else if (in_section && len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
      size_t vlen = len - klen - 1;
      if (vlen >= cap) vlen = cap - 1;
      memcpy(out, p + klen + 1, vlen);
      out[vlen] = 0;
      return 1;
    }
    p = eol;
    while (*p == '\n' || *p == '\r') p++;
  }
  return 0;
}

static int ini_has_section(const char *text, const char *section) {
  size_t slen = strlen(section);
  for (const char *p = strchr(text, '['); p; p = strchr(p + 1, '['))
    if (strncmp(p + 1, section, slen) == 0 && p[slen + 1] == ']') return 1;
  return 0;
}

/* First <tag>value</tag> after `from` (bounded by the NUL of the text). */
static int xml_value(const char *text, const char *from_tag, const char *tag, char *out,
                     size_t cap) {
  const char *p = text;
  if (from_tag) {
    char open[80];
    snprintf(open, sizeof open, "<%s>", from_tag);
    p = strstr(text, open);
    if (!p) return 0;
  }
  char open[80], close[80];
  snprintf(open, sizeof open, "<%s>", tag);
  snprintf(close, sizeof close, "</%s>", tag);
  const char *a = strstr(p, open);
  if (!a) return 0;
  a += strlen(open);
  const char *b = strstr(a, close);
  if (!b) return 0;
  while (a < b && (*a == ' ' || *a == '\r' || *a == '\n' || *a == '\t')) a++;
  while (b > a && (b[-1] == ' ' || b[-1] == '\r' || b[-1] == '\n' || b[-1] == '\t')) b--;
  size_t len = (size_t)(b - a);
  if (len >= cap) len = cap - 1;
  memcpy(out, a, len);
  out[len] = 0;
  return 1;
}

/* ---- tag access ---- */

/* An anonymous (private) tag: libtiff stores it with a 32-bit count and a
** pointer to an array of its type. Returns 0 when absent. */
static int get_private(TIFF *t, uint32_t tag, TIFFDataType *type, uint32_t *count,
                       const void **data) {
  const TIFFField *f = TIFFFindField(t, tag, TIFF_ANY); /* silent when absent */
  if (!f || !TIFFFieldPassCount(f)) return 0;
  const void *p = NULL;
  if (TIFFFieldSetGetCountSize(f) == 2) {
    uint16_t c16 = 0;
    if (!TIFFGetField(t, tag, &c16, &p)) return 0;
    *count = c16;
  } else {
    uint32_t c32 = 0;
    if (!TIFFGetField(t, tag, &c32, &p)) return 0;
    *count = c32;
  }
  if (!p || *count == 0) return 0;
  *type = TIFFFieldDataType(f);
  *data = p;
  return 1;
}

/* A private tag holding text (ASCII or UNDEFINED bytes), as a fresh string. */
static char *get_private_text(TIFF *t, uint32_t tag) {
  TIFFDataType type;
  uint32_t count;
  const void *data;
  if (!get_private(t, tag, &type, &count, &data)) return NULL;
  if (type != TIFF_ASCII && type != TIFF_UNDEFINED && type != TIFF_BYTE) return NULL;
  return text_dup(data, count);
}

/* A private tag holding one number of any numeric type. */
static int get_private_number(TIFF *t, uint32_t tag, double *out) {
  TIFFDataType type;
  uint32_t count;
  const void *data;
  if (!get_private(t, tag, &type, &count, &data)) return 0;
  switch (type) {
    case TIFF_DOUBLE: *out = ((const double *)data)[0]; break;
    case TIFF_FLOAT: *out = ((const float *)data)[0]; break;
    case TIFF_LONG: case TIFF_IFD: *out = ((const uint32_t *)data)[0]; break;
    case TIFF_SLONG: *out = ((const int32_t *)data)[0]; break;
    case TIFF_SHORT: *out = ((const uint16_t *)data)[0]; break;
    case TIFF_SSHORT: *out = ((const int16_t *)data)[0]; break;
    case TIFF_BYTE: *out = ((const uint8_t *)data)[0]; break;
    case TIFF_SBYTE: *out = ((const int8_t *)data)[0]; break;
    case TIFF_LONG8: case TIFF_IFD8: *out = (double)((const uint64_t *)data)[0]; break;
    case TIFF_SLONG8: *out = (double)((const int64_t *)data)[0]; break;
    default: return 0;
  }
  return isfinite(*out);
}

static int get_resolution(TIFF *t, double *xres, double *yres, uint16_t *unit) {
  float xr = 0, yr = 0;
  uint16_t u = RESUNIT_INCH;
  if (!TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr) || !(xr > 0)) return 0;
  if (!TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr) || !(yr > 0)) yr = xr;
  TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &u);
  *xres = xr;
  *yres = yr;
  *unit = u;
  return isfinite(*xres) && isfinite(*yres);
}

static char *get_description(TIFF *t) {
  const char *d = NULL;
  if (!TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &d) || !d) return NULL;
  return text_dup(d, strlen(d));
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static double le_f64(const uint8_t *p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}
static float le_f32(const uint8_t *p) {
  uint32_t u = le32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* ---- the vendor rules; each returns 1 when its metadata is present (even
** if it yields no size: then calib says why), 0 to try the next rule ---- */

static int rule_fei(TIFF *t, uint32_t height, nm_calib *c) {
  char *ini = get_private_text(t, 34682);
  if (!ini) ini = get_private_text(t, 34680);
  if (!ini) return 0;
  char a[64], b[64];
  double px = 0, py = 0;
  if (ini_has_section(ini, "Scan") && ini_get(ini, "Scan", "PixelWidth", a, sizeof a) &&
      parse_double(a, &px) && px > 0) {
    if (!(ini_get(ini, "Scan", "PixelHeight", b, sizeof b) && parse_double(b, &py) && py > 0))
      py = px;
    nm_calib_set(c, px, py, "m", "tiff:fei");
  } else {
    double hfw = 0, vfw = 0, rx = 0, ry = 0;
    if (ini_get(ini, "IRBeam", "HFW", a, sizeof a) && parse_double(a, &hfw) && hfw > 0 &&
        ini_get(ini, "Image", "ResolutionX", b, sizeof b) && parse_double(b, &rx) && rx >= 1) {
      px = hfw / rx;
      py = px;
      if (ini_get(ini, "IRBeam", "VFW", a, sizeof a) && parse_double(a, &vfw) && vfw > 0 &&
          ini_get(ini, "Image", "ResolutionY", b, sizeof b) && parse_double(b, &ry) && ry >= 1)
        py = vfw / ry;
      nm_calib_set(c, px, py, "m", "tiff:fei");
    } else {
      nm_calib_unknown(c, "FEI metadata has neither [Scan] PixelWidth nor [IRBeam] HFW");
    }
  }
  double ry = 0;
  if (ini_get(ini, "Image", "ResolutionY", a, sizeof a) && parse_double(a, &ry) && ry >= 1 &&
      ry < height) {
    c->databar_rows = (int)(height - (uint32_t)ry);
    snprintf(c->databar_rule, sizeof c->databar_rule, "FEI [Image] ResolutionY = %u",
             (unsigned)ry);
  }
  free(ini);
  return 1;
}

static int rule_zeiss(TIFF *t, uint32_t width, nm_calib *c) {
  char *text = get_private_text(t, 34118);
  if (!text) return 0;
  /* The untitled block: numbers one per line until the first upper-case key. */
  const char *p = text;
  double v = NAN;
  for (int line = 0; line <= 3 && *p; line++) {
    const char *eol = p;
    while (*eol && *eol != '\r' && *eol != '\n') eol++;
    if (line == 3) {
      char num[64];
      size_t len = (size_t)(eol - p) < sizeof num - 1 ? (size_t)(eol - p) : sizeof num - 1;
      memcpy(num, p, len);
      num[len] = 0;
      if (!parse_double(num, &v)) v = NAN;
    }
    p = eol;
    if (*p == '\r') p++;
    if (*p == '\n') p++;
  }
  free(text);
  if (isfinite(v) && v > 0 && v < 1e-2 && width > 0) {
    double m = v * 1024.0 / width;
    nm_calib_set(c, m, m, "m", "tiff:zeiss");
  } else {
    nm_calib_unknown(c, "Zeiss CZ_SEM metadata without a pixel size in its leading block");
  }
  return 1;
}

/*
** The Zeiss SmartSEM data zone. CZ_SEM metadata never says how tall it is
** (the two corpus files: "Store resolution", ap_height and the line counter
** all describe the full frame), so it is found in the pixels, and only on a
** page that carries the CZ_SEM tag: a box drawn in the darkest value over
** the bottom of the frame — a top and a bottom border row that each run over
** >= 95 % of the width, a left and a right border column joining them —
** holding mostly the lightest value (white panel, black text, a logo). The
** box may stop a row or two short of the bottom and a column or two short
** of the sides (both corpus files leave image pixels there); everything from
** its top border down is cropped. A box under 8 rows, over a quarter of the
** height, more than 4 rows above the bottom, or without the white panel is
** not a data zone: then nothing is cropped. The cost is linear in the bottom
** quarter's pixels (plus its height squared for the side borders): only the
** topmost closed frame has its inside scanned.
*/
#define ZEISS_ZONE_MIN_ROWS 8
#define ZEISS_ZONE_MAX_GAP 4      /* rows between the box and the bottom */
#define ZEISS_ZONE_RUN 0.95       /* border row length over the width */
#define ZEISS_ZONE_BORDER 0.98    /* dark fraction along a border */
#define ZEISS_ZONE_PANEL 0.6      /* light fraction inside */
#define ZEISS_ZONE_TWO_TONE 0.8   /* light or dark fraction inside */

static int zeiss_zone_rows(const float *px, uint32_t w, uint32_t h) {
  if (w < 64 || h < 4 * ZEISS_ZONE_MIN_ROWS) return 0;
  uint32_t y_top = h - h / 4;
  float lo = px[(size_t)y_top * w], hi = lo;
  for (size_t i = (size_t)y_top * w; i < (size_t)h * w; i++) {
    if (px[i] < lo) lo = px[i];
    if (px[i] > hi) hi = px[i];
  }
  if (!(hi - lo > 0) || !isfinite(hi - lo)) return 0;
  float tol = 0.1f * (hi - lo);
#define DARK(v) ((v) <= lo + tol)
#define LIGHT(v) ((v) >= hi - tol)
  /* The bottom border is one of the last MAX_GAP + 1 rows: prefix counts of
  ** their dark pixels make each candidate's test O(1), so a hostile page
  ** cannot make this quadratic in the height. */
  enum { LAST = ZEISS_ZONE_MAX_GAP + 1 };
  uint32_t *dark_prefix = malloc((size_t)LAST * (w + 1) * sizeof *dark_prefix);
  if (!dark_prefix) return 0;
  for (uint32_t k = 0; k < LAST; k++) {
    const float *r = px + (size_t)(h - LAST + k) * w;
    uint32_t *pre = dark_prefix + (size_t)k * (w + 1);
    pre[0] = 0;
    for (uint32_t x = 0; x < w; x++) pre[x + 1] = pre[x] + DARK(r[x]);
  }
  int rows = 0;
  for (uint32_t y = y_top; y + ZEISS_ZONE_MIN_ROWS <= h; y++) {
    const float *row = px + (size_t)y * w;
    uint32_t best0 = 0, best_len = 0;
    for (uint32_t x = 0; x < w;) {
      if (!DARK(row[x])) {
        x++;
        continue;
      }
      uint32_t x0 = x;
      while (x < w && DARK(row[x])) x++;
      if (x - x0 > best_len) best0 = x0, best_len = x - x0;
    }
    if (best_len < ZEISS_ZONE_RUN * w) continue;
    uint32_t x0 = best0, x1 = best0 + best_len - 1;
    /* the bottom border: the first of the last rows dark across the same span */
    uint32_t yb = 0;
    for (uint32_t k = 0; k < LAST && !yb; k++) {
      uint32_t y2 = h - LAST + k;
      const uint32_t *pre = dark_prefix + (size_t)k * (w + 1);
      if (y2 >= y + ZEISS_ZONE_MIN_ROWS - 1 && pre[x1 + 1] - pre[x0] >= ZEISS_ZONE_BORDER * best_len)
        yb = y2;
    }
    if (!yb) continue;
    uint32_t side = 0;
    for (uint32_t yy = y; yy <= yb; yy++)
      side += DARK(px[(size_t)yy * w + x0]) + DARK(px[(size_t)yy * w + x1]);
    if (side < ZEISS_ZONE_BORDER * 2 * (yb - y + 1)) continue;
    /* a closed frame: this is the data zone if it holds the white panel,
    ** and the only candidate whose inside is scanned */
    uint64_t inner = 0, light = 0, tone = 0;
    for (uint32_t yy = y + 1; yy < yb; yy++) {
      const float *r = px + (size_t)yy * w;
      for (uint32_t x = x0 + 1; x < x1; x++) {
        inner++;
        light += LIGHT(r[x]);
        tone += LIGHT(r[x]) || DARK(r[x]);
      }
    }
    if (inner && light >= ZEISS_ZONE_PANEL * inner && tone >= ZEISS_ZONE_TWO_TONE * inner)
      rows = (int)(h - y);
    break;
  }
#undef DARK
#undef LIGHT
  free(dark_prefix);
  return rows;
}

/* TVIPS header: v1 is 244 bytes; v2 follows with PixelSizeX/Y (float32, nm)
** at 2724 bytes into it. */
#define TVIPS_V1_BYTES 244
#define TVIPS_V2_PIXELSIZE 2724

static int rule_tvips(TIFF *t, const nm_source *src, nm_calib *c) {
  double off = 0;
  if (!get_private_number(t, 37706, &off)) return 0;
  if (off >= 0 && off + TVIPS_V1_BYTES + TVIPS_V2_PIXELSIZE + 8 <= (double)src->n) {
    const uint8_t *h = src->buf + (size_t)off;
    uint32_t version = le32(h);
    if (version == 2) {
      const uint8_t *q = h + TVIPS_V1_BYTES + TVIPS_V2_PIXELSIZE;
      double sx = le_f32(q), sy = le_f32(q + 4);
      if (sx > 0 && sy > 0 && isfinite(sx) && isfinite(sy)) {
        nm_calib_set(c, sx, sy, "nm", "tiff:tvips");
        return 1;
      }
    }
  }
  double xr, yr;
  uint16_t unit;
  if (get_resolution(t, &xr, &yr, &unit) && unit == RESUNIT_CENTIMETER) {
    nm_calib_set(c, 1.0 / xr, 1.0 / yr, "cm", "tiff:tvips");
    return 1;
  }
  nm_calib_unknown(c, "TVIPS header without a pixel size");
  return 1;
}

/*
** Olympus SIS. Two private tags mark an analySIS / Olympus Soft Imaging file
** (tifffile: OlympusSIS 33560 read by read_sis, OlympusINI 33471 read by
** read_sis_ini; Bio-Formats SISReader: SIS_TAG, SIS_INI_TAG):
**   33560  offset of a little-endian binary block: "SIS0", then at byte 58 an
**          int16 entry count and at 60 the entries, 8 bytes each {int16 type,
**          int16 count, uint32 offset}; the type-1 entry points at 112 bytes
**          with int16 exp10 at 10 and float64 x / y calibrations at 12 / 20:
**          pixel = cal * 10^exp10 metres.
**   33471  INI text ([Dimension] Z/Band/Time sizes, [Z] ZPos, [Time] TimePos,
**          [Band] LUTs, [ASD]); neither reader documents a pixel size in it,
**          and tifffile's merged sis_metadata takes pixelsizex from 33560
**          only. So 33471 alone identifies an SIS file without a size.
** The calibration may sit on any page (the corpus file has it on page 2,
** behind an RGB JPEG preview). A block that is cut short, points outside the
** file or holds no usable size gives no size and says why — never the 72 dpi
** of the same page.
*/
typedef struct sis_seen {
  int ini;            /* a page has the INI text (33471) */
  char broken[160];   /* first reason a 33560 block could not be used */
} sis_seen;

#define SIS_HEADER 60
#define SIS_ENTRY 8
#define SIS_GENERAL 112
#define SIS_MAX_ENTRIES 1000

static int sis_fail(sis_seen *seen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int sis_fail(sis_seen *seen, const char *fmt, ...) {
  if (!seen->broken[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(seen->broken, sizeof seen->broken, fmt, ap);
    va_end(ap);
  }
  return 0;
}

/* 1 with c set when the block at `off` yields a size, else 0 (seen says why). */
static int sis_at(const nm_source *src, double off, nm_calib *c, sis_seen *seen) {
  if (!(off >= 0) || off >= (double)src->n)
    return sis_fail(seen, "Olympus SIS tag 33560 points at offset %.0f, past the end of the "
                          "%zu-byte file", off, src->n);
  size_t at0 = (size_t)off;
  if (src->n - at0 < SIS_HEADER)
    return sis_fail(seen, "Olympus SIS block (tag 33560) at offset %zu is truncated: %zu of "
                          "its %d header bytes are in the file", at0, src->n - at0, SIS_HEADER);
  const uint8_t *h = src->buf + at0;
  if (memcmp(h, "SIS0", 4) != 0)
    return sis_fail(seen, "Olympus SIS tag 33560 does not point at a SIS0 block (offset %zu)",
                    at0);
  int count = (int16_t)le16(h + 58);
  if (count < 0 || count > SIS_MAX_ENTRIES)
    return sis_fail(seen, "Olympus SIS block (tag 33560) claims %d entries", count);
  for (int i = 0; i < count; i++) {
    size_t p = at0 + SIS_HEADER + (size_t)i * SIS_ENTRY;
    if (p + SIS_ENTRY > src->n)
      return sis_fail(seen, "Olympus SIS block (tag 33560) is truncated: entry %d of %d is "
                            "past the end of the file", i + 1, count);
    int type = (int16_t)le16(src->buf + p);
    uint32_t at = le32(src->buf + p + 4);
    if (type != 1) continue;
    if ((uint64_t)at + SIS_GENERAL > src->n)
      return sis_fail(seen, "Olympus SIS calibration record (tag 33560) at offset %u is "
                            "truncated: it needs %d bytes, the file has %zu", (unsigned)at,
                      SIS_GENERAL, src->n);
    const uint8_t *b = src->buf + at;
    int exp10 = (int16_t)le16(b + 10);
    double xcal = le_f64(b + 12), ycal = le_f64(b + 20);
    if (exp10 < -30 || exp10 > 30)
      return sis_fail(seen, "Olympus SIS calibration exponent 10^%d is out of range", exp10);
    double k = pow(10.0, exp10);
    nm_calib t;
    if (nm_calib_set(&t, xcal * k, ycal * k, "m", "tiff:olympus") != 0 || !nm_calib_known(&t))
      return sis_fail(seen, "Olympus SIS calibration (tag 33560) is not a positive size "
                            "(%g x %g m)", xcal * k, ycal * k);
    *c = t;
    return 1;
  }
  return sis_fail(seen, "Olympus SIS block (tag 33560) has no calibration record");
}

static int rule_olympus_page(TIFF *t, const nm_source *src, nm_calib *c, sis_seen *seen) {
  TIFFDataType type;
  uint32_t count;
  const void *data;
  if (get_private(t, 33471, &type, &count, &data)) seen->ini = 1;
  double off;
  if (!get_private_number(t, 33560, &off)) return 0;
  return sis_at(src, off, c, seen);
}

/* After every page was searched: a broken block or an INI-only file is an
** SIS file without a size (1), anything else is not SIS (0). */
static int olympus_verdict(const sis_seen *seen, nm_calib *c) {
  if (seen->broken[0]) {
    nm_calib_unknown(c, seen->broken);
    return 1;
  }
  if (seen->ini) {
    nm_calib_unknown(c, "Olympus SIS file: its INI text (tag 33471) holds no pixel size and "
                        "no page has the SIS calibration block (tag 33560)");
    return 1;
  }
  return 0;
}

static double electron_wavelength_m(double volts) {
  const double m_e = 9.1093837015e-31, e = 1.602176634e-19, cl = 299792458.0,
               h = 6.62607015e-34;
  double p2 = 2 * m_e * e * volts * (1 + e * volts / (2 * m_e * cl * cl));
  return h / sqrt(p2);
}

static int rule_jeol(TIFF *t, nm_calib *c) {
  const char *make = NULL;
  if (!TIFFGetField(t, TIFFTAG_MAKE, &make) || !make || strncmp(make, "JEOL Ltd.", 9) != 0)
    return 0;
  char *xml = get_description(t);
  if (!xml || !strstr(xml, "<TemReporter")) {
    free(xml);
    return 0;
  }
  double xr, yr;
  uint16_t unit;
  char eos[64] = "", mode[32] = "", sel[64] = "", selunit[16] = "", ht[64] = "";
  xml_value(xml, "Eos", "EosMode", eos, sizeof eos);
  xml_value(xml, "ImageFormingSystem", "ModeString", mode, sizeof mode);
  xml_value(xml, "ImageFormingSystem", "SelectorValue", sel, sizeof sel);
  xml_value(xml, "ImageFormingSystem", "SelectorUnitString", selunit, sizeof selunit);
  xml_value(xml, "ElectronGun", "AccelerationVoltage", ht, sizeof ht);
  free(xml);
  if (!get_resolution(t, &xr, &yr, &unit)) {
    nm_calib_unknown(c, "JEOL SightX file without XResolution");
    return 1;
  }
  /* The resolution is the display's; the sample size is it over the magnification. */
  double len = unit == RESUNIT_INCH ? 0.0254 : 0.01; /* metres per resolution unit */
  double v = 0, kv = 0;
  if (strcmp(eos, "eosTEM") == 0 && strcmp(mode, "MAG") == 0 && parse_double(sel, &v) && v > 0) {
    nm_calib_set(c, len / xr / v, len / yr / v, "m", "tiff:jeol");
  } else if (strcmp(eos, "eosTEM") == 0 && strcmp(mode, "DIFF") == 0 && parse_double(sel, &v) &&
             v > 0 && parse_double(ht, &kv) && kv > 0) {
    double cam = v;
    if (!strcasecmp(selunit, "mm")) cam /= 1000;
    else if (!strcasecmp(selunit, "cm")) cam /= 100;
    double lambda_nm = electron_wavelength_m(kv) * 1e9;
    /* reciprocal size per pixel, 1/nm */
    nm_calib_set(c, len / xr / (cam * lambda_nm), len / yr / (cam * lambda_nm), "1/nm",
                 "tiff:jeol");
  } else {
    nm_calib_unknown(c, "JEOL SightX metadata in a mode without a known pixel size");
  }
  return 1;
}

/* DM export: 65009/65010 scales, 65003/65004 units (Latin-1 "µm" or text). */
static int rule_dm(TIFF *t, nm_calib *c) {
  double sx = 0, sy = 0;
  int hx = get_private_number(t, 65009, &sx), hy = get_private_number(t, 65010, &sy);
  if (!hx && !hy) return 0;
  if (!hy) sy = sx;
  if (!hx) sx = sy;
  char *ux = get_private_text(t, 65003);
  char *uy = get_private_text(t, 65004);
  if (!ux) ux = get_private_text(t, 65012);
  if (!uy) uy = get_private_text(t, 65013);
  double kx = nm_unit_to_nm(ux ? ux : ""), ky = nm_unit_to_nm(uy ? uy : (ux ? ux : ""));
  if (kx > 0 && ky > 0) {
    nm_calib_set(c, sx * kx, sy * ky, "nm", "tiff:dm");
  } else if (kx < 0 || ky < 0) {
    nm_calib_set(c, sx, sy, kx < 0 ? ux : uy, "tiff:dm");
  } else if ((!ux || !ux[0]) && sx == 1 && sy == 1) {
    nm_calib_unknown(c, "DigitalMicrograph export is uncalibrated (scale 1, no unit)");
  } else {
    nm_calib_unknown(c, NULL);
    snprintf(c->reason, sizeof c->reason, "DigitalMicrograph export with unknown unit '%.40s'",
             ux ? ux : "");
  }
  free(ux);
  free(uy);
  return 1;
}

static int rule_imagej(TIFF *t, nm_calib *c) {
  char *d = get_description(t);
  if (!d) return 0;
  if (strncmp(d, "ImageJ=", 7) != 0) {
    free(d);
    return 0;
  }
  char unit[40] = "";
  for (const char *p = d; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, "unit=", 5) == 0) {
      const char *v = p + 5;
      size_t len = strcspn(v, "\r\n");
      if (len >= sizeof unit) len = sizeof unit - 1;
      memcpy(unit, v, len);
      unit[len] = 0;
      break;
    }
  }
  free(d);
  /* ImageJ escapes non-ASCII: "\u00B5m" is µm. */
  if (!strcasecmp(unit, "\\u00B5m")) snprintf(unit, sizeof unit, "um");
  double xr, yr;
  uint16_t ru;
  if (!unit[0] || !strcasecmp(unit, "pixel") || !strcasecmp(unit, "pixels")) {
    nm_calib_unknown(c, "ImageJ file without a length unit");
  } else if (!get_resolution(t, &xr, &yr, &ru)) {
    nm_calib_unknown(c, "ImageJ file with a unit but no XResolution");
  } else if (nm_calib_set(c, 1.0 / xr, 1.0 / yr, unit, "tiff:imagej") != 0) {
    /* nm_calib_set said why */
  }
  return 1;
}

/* 1 µm = 1000 nm: finer than any dpi a screen, printer or scanner uses. */
#define RESOLUTION_MAX_NM 1000.0

static int rule_resolution(TIFF *t, nm_calib *c) {
  double xr, yr;
  uint16_t unit;
  if (!get_resolution(t, &xr, &yr, &unit)) return 0;
  if (unit != RESUNIT_INCH && unit != RESUNIT_CENTIMETER) return 0;
  double per = unit == RESUNIT_INCH ? 2.54e7 : 1e7; /* nm per unit */
  double sx = per / xr, sy = per / yr;
  if (sx < RESOLUTION_MAX_NM && sy < RESOLUTION_MAX_NM) {
    nm_calib_set(c, sx, sy, "nm", "tiff:resolution");
    return 1;
  }
  nm_calib_unknown(c, NULL);
  snprintf(c->reason, sizeof c->reason,
           "only a display resolution (%.6g pixels per %s), which is not a physical pixel size",
           xr, unit == RESUNIT_INCH ? "inch" : "cm");
  return 1;
}

/* Rules 1-7 on the current directory. */
static int vendor_rules(TIFF *t, const nm_source *src, uint32_t w, uint32_t h, nm_calib *c,
                        sis_seen *seen) {
  return rule_fei(t, h, c) || rule_zeiss(t, w, c) || rule_tvips(t, src, c) ||
         rule_olympus_page(t, src, c, seen) || rule_jeol(t, c) || rule_dm(t, c) || rule_imagej(t, c);
}

/* ---- pixels ---- */

typedef struct page_info {
  uint32_t w, h;
  uint16_t spp, bps, fmt, photometric, planar, compression;
  int tiled;
  uint32_t tw, th, rps;
  int via_rgba; /* decode through TIFFReadRGBAImage */
} page_info;

static nm_status page_header(TIFF *t, const nm_source *src, const nm_read_opts *opts,
                             page_info *pi, nm_error *err) {
  memset(pi, 0, sizeof *pi);
  if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &pi->w) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &pi->h))
    return nm_fail(err, NM_ERR_FORMAT, "%s: TIFF page without width or height", src->name);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &pi->spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &pi->bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &pi->fmt);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &pi->planar);
  TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &pi->compression);
  if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &pi->photometric))
    pi->photometric = pi->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  if (pi->w == 0 || pi->h == 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: image has zero width or height (%ux%u)", src->name,
                   (unsigned)pi->w, (unsigned)pi->h);
  if ((uint64_t)pi->w * pi->h > opts->max_pixels)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: %ux%u pixels is over the cap of %llu pixels",
                   src->name, (unsigned)pi->w, (unsigned)pi->h,
                   (unsigned long long)opts->max_pixels);
  if (pi->w > 0x7fffffff || pi->h > 0x7fffffff)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: dimensions too large", src->name);
  if (pi->spp < 1 || pi->spp > 16)
    return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: %u samples per pixel is not supported",
                   src->name, (unsigned)pi->spp);
  int ok;
  switch (pi->fmt) {
    case SAMPLEFORMAT_UINT:
      ok = pi->bps == 1 || pi->bps == 2 || pi->bps == 4 || pi->bps == 8 || pi->bps == 16 ||
           pi->bps == 32;
      break;
    case SAMPLEFORMAT_INT: ok = pi->bps == 8 || pi->bps == 16 || pi->bps == 32; break;
    case SAMPLEFORMAT_IEEEFP: ok = pi->bps == 32 || pi->bps == 64; break;
    default: ok = 0;
  }
  if (!ok)
    return nm_fail(err, NM_ERR_UNSUPPORTED,
                   "%s: unsupported TIFF sample format (%u-bit %s)", src->name,
                   (unsigned)pi->bps,
                   pi->fmt == SAMPLEFORMAT_UINT     ? "unsigned"
                   : pi->fmt == SAMPLEFORMAT_INT    ? "signed"
                   : pi->fmt == SAMPLEFORMAT_IEEEFP ? "float"
                   : pi->fmt == SAMPLEFORMAT_COMPLEXINT || pi->fmt == SAMPLEFORMAT_COMPLEXIEEEFP
                       ? "complex"
                       : "untyped");
  int p = pi->photometric;
  if (p == PHOTOMETRIC_MINISBLACK || p == PHOTOMETRIC_MINISWHITE) {
    /* gray; extra samples ignored */
  } else if (p == PHOTOMETRIC_PALETTE) {
    if (pi->fmt != SAMPLEFORMAT_UINT || pi->bps > 16)
      return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: palette image with %u-bit samples",
                     src->name, (unsigned)pi->bps);
  } else if (p == PHOTOMETRIC_RGB && pi->spp >= 3 && pi->bps >= 8) {
    /* luma */
  } else if (p == PHOTOMETRIC_YCBCR && pi->compression == COMPRESSION_JPEG) {
    /* libjpeg converts to RGB for us */
    TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    pi->photometric = PHOTOMETRIC_RGB;
  } else if (pi->bps == 8 || pi->bps == 16 || pi->bps <= 4) {
    pi->via_rgba = 1; /* YCbCr, CMYK, CIELab, ...: libtiff's RGBA path */
  } else {
    return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: TIFF photometric interpretation %u is not supported",
                   src->name, (unsigned)p);
  }
  pi->tiled = TIFFIsTiled(t);
  if (pi->tiled) {
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &pi->tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &pi->th);
    if (pi->tw == 0 || pi->th == 0)
      return nm_fail(err, NM_ERR_FORMAT, "%s: tiled TIFF with zero tile size", src->name);
  } else {
    TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &pi->rps);
    if (pi->rps == 0 || pi->rps > pi->h) pi->rps = pi->h;
  }
  return NM_OK;
}

/* Sample k (0-based, within a packed row of `bps`-bit samples) as a double. */
static double sample_at(const uint8_t *row, size_t k, const page_info *pi) {
  switch (pi->bps) {
    case 1: return (row[k >> 3] >> (7 - (k & 7))) & 1;
    case 2: return (row[k >> 2] >> (6 - 2 * (k & 3))) & 3;
    case 4: return (row[k >> 1] >> (4 - 4 * (k & 1))) & 15;
    case 8: return pi->fmt == SAMPLEFORMAT_INT ? (double)((const int8_t *)row)[k] : row[k];
    case 16: {
      uint16_t v;
      memcpy(&v, row + 2 * k, 2);
      return pi->fmt == SAMPLEFORMAT_INT ? (double)(int16_t)v : v;
    }
    case 32: {
      uint32_t v;
      memcpy(&v, row + 4 * k, 4);
      if (pi->fmt == SAMPLEFORMAT_IEEEFP) {
        float f;
        memcpy(&f, &v, 4);
        return f;
      }
      return pi->fmt == SAMPLEFORMAT_INT ? (double)(int32_t)v : v;
    }
    case 64: {
      double d;
      memcpy(&d, row + 8 * k, 8);
      return d;
    }
  }
  return 0;
}

/* Bytes of `count` packed samples. */
static uint64_t packed_bytes(uint64_t count, unsigned bps) { return (count * bps + 7) / 8; }

/*
** Decodes the page into `raw`: one plane per sample when planar is separate,
** else interleaved; every row starts on a byte boundary (TIFF's rule), with
** row stride `stride` bytes per plane row.
*/
static nm_status decode_raw(TIFF *t, const nm_source *src, const page_info *pi, uint8_t *raw,
                            size_t stride, tiff_mem *mem, nm_error *err) {
  int separate = pi->planar == PLANARCONFIG_SEPARATE && pi->spp > 1;
  int planes = separate ? pi->spp : 1;
  size_t plane_bytes = stride * pi->h;
  if (!pi->tiled) {
    tmsize_t strip_size = TIFFStripSize(t);
    if (strip_size <= 0)
      return nm_fail(err, NM_ERR_FORMAT, "%s: bad TIFF strip size", src->name);
    uint8_t *buf = malloc((size_t)strip_size);
    if (!buf) return nm_fail(err, NM_ERR_NOMEM, "%s: out of memory", src->name);
    uint32_t per_plane = (pi->h + pi->rps - 1) / pi->rps;
    for (int s = 0; s < planes; s++) {
      for (uint32_t k = 0; k < per_plane; k++) {
        uint32_t strip = (uint32_t)s * per_plane + k;
        uint32_t row0 = k * pi->rps;
        uint32_t rows = pi->h - row0 < pi->rps ? pi->h - row0 : pi->rps;
        tmsize_t got = TIFFReadEncodedStrip(t, strip, buf, strip_size);
        if (got < 0 || (uint64_t)got < (uint64_t)stride * rows) {
          free(buf);
          return nm_fail(err, NM_ERR_FORMAT, "%s: truncated or corrupt TIFF strip %u%s%s",
                         src->name, (unsigned)strip, mem->msg[0] ? ": " : "", mem->msg);
        }
        memcpy(raw + (size_t)s * plane_bytes + (size_t)row0 * stride, buf, stride * rows);
      }
    }
    free(buf);
    return NM_OK;
  }
  tmsize_t tile_size = TIFFTileSize(t);
  if (tile_size <= 0) return nm_fail(err, NM_ERR_FORMAT, "%s: bad TIFF tile size", src->name);
  uint8_t *buf = malloc((size_t)tile_size);
  if (!buf) return nm_fail(err, NM_ERR_NOMEM, "%s: out of memory", src->name);
  unsigned per_sample = separate ? 1 : pi->spp;
  size_t tile_row = (size_t)packed_bytes((uint64_t)pi->tw * per_sample, pi->bps);
  for (int s = 0; s < planes; s++) {
    for (uint32_t y0 = 0; y0 < pi->h; y0 += pi->th) {
      for (uint32_t x0 = 0; x0 < pi->w; x0 += pi->tw) {
        uint32_t tile = TIFFComputeTile(t, x0, y0, 0, (uint16_t)s);
        tmsize_t got = TIFFReadEncodedTile(t, tile, buf, tile_size);
        if (got < 0 || (uint64_t)got < (uint64_t)tile_row * pi->th) {
          free(buf);
          return nm_fail(err, NM_ERR_FORMAT, "%s: truncated or corrupt TIFF tile %u%s%s",
                         src->name, (unsigned)tile, mem->msg[0] ? ": " : "", mem->msg);
        }
        uint32_t cols = pi->w - x0 < pi->tw ? pi->w - x0 : pi->tw;
        uint32_t rows = pi->h - y0 < pi->th ? pi->h - y0 : pi->th;
        if (pi->bps % 8 == 0) {
          size_t bytes = (size_t)cols * per_sample * (pi->bps / 8);
          size_t xoff = (size_t)x0 * per_sample * (pi->bps / 8);
          for (uint32_t r = 0; r < rows; r++)
            memcpy(raw + (size_t)s * plane_bytes + (size_t)(y0 + r) * stride + xoff,
                   buf + (size_t)r * tile_row, bytes);
        } else {
          /* sub-byte samples: copy bit by bit (rare: bilevel tiles) */
          for (uint32_t r = 0; r < rows; r++) {
            uint8_t *dst = raw + (size_t)s * plane_bytes + (size_t)(y0 + r) * stride;
            const uint8_t *srow = buf + (size_t)r * tile_row;
            for (uint32_t c = 0; c < cols * per_sample; c++) {
              size_t sb = (size_t)c * pi->bps, db = ((size_t)x0 * per_sample + c) * pi->bps;
              for (unsigned b = 0; b < pi->bps; b++, sb++, db++) {
                int bit = (srow[sb >> 3] >> (7 - (sb & 7))) & 1;
                if (bit) dst[db >> 3] |= (uint8_t)(0x80 >> (db & 7));
                else dst[db >> 3] &= (uint8_t)~(0x80 >> (db & 7));
              }
            }
          }
        }
      }
    }
  }
  free(buf);
  return NM_OK;
}

static nm_status read_pixels(TIFF *t, const nm_source *src, const page_info *pi, tiff_mem *mem,
                             nm_image *out, nm_error *err) {
  size_t npx = (size_t)pi->w * pi->h;
  out->px = nm_malloc(npx, sizeof(float), err);
  if (!out->px) return err ? err->code : NM_ERR_NOMEM;
  if (pi->via_rgba) {
    uint32_t *rgba = nm_malloc(npx, sizeof(uint32_t), err);
    if (!rgba) return err ? err->code : NM_ERR_NOMEM;
    if (!TIFFReadRGBAImageOriented(t, pi->w, pi->h, rgba, ORIENTATION_TOPLEFT, 0)) {
      free(rgba);
      return nm_fail(err, NM_ERR_FORMAT, "%s: cannot decode TIFF colour image%s%s", src->name,
                     mem->msg[0] ? ": " : "", mem->msg);
    }
    for (size_t i = 0; i < npx; i++)
      out->px[i] = (float)(0.299 * TIFFGetR(rgba[i]) + 0.587 * TIFFGetG(rgba[i]) +
                           0.114 * TIFFGetB(rgba[i]));
    free(rgba);
    return NM_OK;
  }
  int separate = pi->planar == PLANARCONFIG_SEPARATE && pi->spp > 1;
  unsigned per_row = separate ? 1 : pi->spp;
  uint64_t stride64 = packed_bytes((uint64_t)pi->w * per_row, pi->bps);
  uint64_t total = stride64 * pi->h * (separate ? pi->spp : 1);
  if (total > (uint64_t)SIZE_MAX / 2)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: image too large", src->name);
  uint8_t *raw = nm_calloc((size_t)total, 1, err);
  if (!raw) return err ? err->code : NM_ERR_NOMEM;
  size_t stride = (size_t)stride64;
  nm_status st = decode_raw(t, src, pi, raw, stride, mem, err);
  if (st != NM_OK) {
    free(raw);
    return st;
  }
  size_t plane = stride * pi->h;
  uint16_t *cmap[3] = {NULL, NULL, NULL};
  if (pi->photometric == PHOTOMETRIC_PALETTE &&
      !TIFFGetField(t, TIFFTAG_COLORMAP, &cmap[0], &cmap[1], &cmap[2])) {
    free(raw);
    return nm_fail(err, NM_ERR_FORMAT, "%s: palette TIFF without a colour map", src->name);
  }
  double white = pi->fmt == SAMPLEFORMAT_UINT ? ldexp(1.0, pi->bps) - 1 : 0;
  size_t ncolors = (size_t)1 << (pi->bps > 16 ? 16 : pi->bps);
  for (uint32_t y = 0; y < pi->h; y++) {
    const uint8_t *row = raw + (size_t)y * stride;
    float *o = out->px + (size_t)y * pi->w;
    for (uint32_t x = 0; x < pi->w; x++) {
      double v;
      if (pi->photometric == PHOTOMETRIC_RGB) {
        double c3[3];
        for (int k = 0; k < 3; k++)
          c3[k] = separate ? sample_at(row + (size_t)k * plane, x, pi)
                           : sample_at(row, (size_t)x * pi->spp + (size_t)k, pi);
        v = 0.299 * c3[0] + 0.587 * c3[1] + 0.114 * c3[2];
      } else {
        v = sample_at(row, (size_t)x * per_row, pi);
        if (pi->photometric == PHOTOMETRIC_PALETTE) {
          size_t i = (size_t)v < ncolors ? (size_t)v : ncolors - 1;
          v = (0.299 * cmap[0][i] + 0.587 * cmap[1][i] + 0.114 * cmap[2][i]) / 257.0;
        } else if (pi->photometric == PHOTOMETRIC_MINISWHITE && pi->fmt == SAMPLEFORMAT_UINT) {
          v = white - v;
        }
      }
      o[x] = (float)v;
    }
  }
  free(raw);
  return NM_OK;
}


/* Crops the Zeiss data zone (see zeiss_zone_rows). A header-only read
** decodes the pixels just for this, so micrographs() and particles() agree;
** if that decode fails the header read still succeeds, with nothing cropped. */
static void zeiss_zone(TIFF *t, const nm_source *src, const page_info *pi, tiff_mem *mem,
                       nm_image *out) {
  nm_image tmp = {0};
  const float *px = out->px;
  if (!px) {
    nm_error ignored;
    nm_error_clear(&ignored);
    if (read_pixels(t, src, pi, mem, &tmp, &ignored) != NM_OK) {
      nm_image_free(&tmp);
      return;
    }
    px = tmp.px;
  }
  int rows = zeiss_zone_rows(px, pi->w, pi->h);
  nm_image_free(&tmp);
  if (rows > 0 && !out->calib.databar_rows) {
    out->calib.databar_rows = rows;
    snprintf(out->calib.databar_rule, sizeof out->calib.databar_rule,
             "Zeiss data zone: framed box found in the pixels");
  }
}

/* Width and height from the first IFD of a classic TIFF, bounds-checked; used
** only to explain why libtiff refused a file (it rejects 0x0 at open). */
static int first_ifd_dims(const uint8_t *b, size_t n, uint32_t *w, uint32_t *h) {
  if (n < 8 || (memcmp(b, "II*", 4) != 0 && memcmp(b, "MM\0*", 4) != 0)) return 0;
  int be = b[0] == 'M';
#define RD16(p) (be ? (uint32_t)((p)[0] << 8 | (p)[1]) : (uint32_t)((p)[1] << 8 | (p)[0]))
#define RD32(p) (be ? ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (p)[3]) \
                    : ((uint32_t)(p)[3] << 24 | (uint32_t)(p)[2] << 16 | (uint32_t)(p)[1] << 8 | (p)[0]))
  uint64_t off = RD32(b + 4);
  if (off + 2 > n) return 0;
  uint32_t count = RD16(b + off);
  int found = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t e = off + 2 + 12 * (uint64_t)i;
    if (e + 12 > n) break;
    uint32_t tag = RD16(b + e), type = RD16(b + e + 2);
    uint32_t v = type == 3 ? RD16(b + e + 8) : RD32(b + e + 8);
    if (tag == 256) *w = v, found |= 1;
    if (tag == 257) *h = v, found |= 2;
  }
#undef RD16
#undef RD32
  return found == 3;
}

/* ---- entry point ---- */

nm_status nm_read_tiff(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                       nm_error *err) {
  tiff_mem mem = {src->buf, src->n, 0, src->name, ""};
  TIFFOpenOptions *topts = TIFFOpenOptionsAlloc();
  if (!topts) return nm_fail(err, NM_ERR_NOMEM, "%s: out of memory", src->name);
  TIFFOpenOptionsSetErrorHandlerExtR(topts, on_tiff_error, &mem);
  TIFFOpenOptionsSetWarningHandlerExtR(topts, on_tiff_warning, &mem);
  /* No single libtiff allocation may exceed what the pixel cap allows (plus
  ** slack for strip tables), so a hostile header cannot ask for gigabytes. */
  uint64_t cap = opts->max_pixels * 16 + ((uint64_t)64 << 20);
  if (cap > (uint64_t)1 << 40) cap = (uint64_t)1 << 40;
  TIFFOpenOptionsSetMaxSingleMemAlloc(topts, (tmsize_t)cap);
  TIFF *t = TIFFClientOpenExt(src->name, "rm", (thandle_t)&mem, mem_read, mem_write, mem_seek,
                              mem_close, mem_size, mem_map, mem_unmap, topts);
  TIFFOpenOptionsFree(topts);
  uint32_t w0 = 1, h0 = 1;
  if (!t && first_ifd_dims(src->buf, src->n, &w0, &h0) && (w0 == 0 || h0 == 0))
    return nm_fail(err, NM_ERR_FORMAT, "%s: image has zero width or height (%ux%u)", src->name,
                   (unsigned)w0, (unsigned)h0);
  if (!t)
    return nm_fail(err, NM_ERR_FORMAT, "%s: not a readable TIFF (libtiff: %s)", src->name,
                   mem.msg[0] ? mem.msg : "cannot open");
  snprintf(out->format, sizeof out->format, "tiff");
  nm_status st = NM_OK;
  int pages = TIFFNumberOfDirectories(t);
  if (pages < 1) pages = 1;
  out->frames = pages;
  if (opts->frame >= pages) {
    st = nm_fail(err, NM_ERR_ARG, "%s: frame %d requested but the TIFF has %d page%s", src->name,
                 opts->frame, pages, pages == 1 ? "" : "s");
    goto done;
  }
  if (!TIFFSetDirectory(t, (tdir_t)opts->frame)) {
    st = nm_fail(err, NM_ERR_FORMAT, "%s: cannot read TIFF page %d%s%s", src->name, opts->frame,
                 mem.msg[0] ? ": " : "", mem.msg);
    goto done;
  }
  page_info pi;
  st = page_header(t, src, opts, &pi, err);
  if (st != NM_OK) goto done;
  out->width = (int)pi.w;
  out->height = (int)pi.h;
  out->channels = pi.spp;
  out->bits = pi.bps;
  out->sample_float = pi.fmt == SAMPLEFORMAT_IEEEFP;
  out->sample_signed = pi.fmt == SAMPLEFORMAT_INT;

  /* Calibration: this page, else the first page (ImageJ and others keep
  ** their description there), else an Olympus SIS block on any page. */
  nm_calib c;
  nm_calib_unknown(&c, NULL);
  sis_seen seen = {0, ""};
  int found = vendor_rules(t, src, pi.w, pi.h, &c, &seen);
  if (!found && opts->frame != 0 && TIFFSetDirectory(t, 0))
    found = vendor_rules(t, src, pi.w, pi.h, &c, &seen);
  for (int p = 0; !found && p < pages && p < 64; p++)
    if (TIFFSetDirectory(t, (tdir_t)p)) found = rule_olympus_page(t, src, &c, &seen);
  if (!found) found = olympus_verdict(&seen, &c);
  if (!TIFFSetDirectory(t, (tdir_t)opts->frame)) {
    st = nm_fail(err, NM_ERR_FORMAT, "%s: cannot re-read TIFF page %d", src->name, opts->frame);
    goto done;
  }
  TIFFDataType ztype;
  uint32_t zcount;
  const void *zdata;
  int zeiss_page = get_private(t, 34118, &ztype, &zcount, &zdata);
  if (!found) found = rule_resolution(t, &c);
  if (!found) nm_calib_unknown(&c, "no calibration in the TIFF (no vendor tag, no physical resolution)");
  out->calib = c;
  /* the page's JPEG colour mode is per directory: set it again */
  if (pi.photometric == PHOTOMETRIC_RGB && pi.compression == COMPRESSION_JPEG) {
    uint16_t photometric = 0;
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photometric);
    if (photometric == PHOTOMETRIC_YCBCR) TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  }
  mem.msg[0] = 0; /* only errors of the pixel decoding from here */
  if (!opts->header_only) st = read_pixels(t, src, &pi, &mem, out, err);
  if (st == NM_OK && zeiss_page) zeiss_zone(t, src, &pi, &mem, out);
done:
  TIFFClose(t);
  return st;
}
