/*
** micrograph.c — open a micrograph and settle its calibration (see
** micrograph.h for the rules and their order).
*/
#include "micrograph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pixels whose x and y sizes differ by less than this (relative) are square:
** files store the same number twice with rounding noise. */
#define SQUARE_TOLERANCE 1e-6
/* Pixels more elongated than this are not a micrograph of particles (a
** spectrum line, a z-stack axis): resampling would blow the image up, so the
** nm size is left unknown instead. */
#define MAX_PIXEL_ASPECT 16.0

void nm_micrograph_opts_default(nm_micrograph_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->max_pixels = NM_DEFAULT_MAX_PIXELS;
  opts->user_nm_per_px = NAN;
  opts->read_scale_bar = 1;
}

int nm_micrograph_opts_owns(const char *key) {
  static const char *const keys[] = {"frame", "page", "max_pixels", "nm_per_px", "scale_bar"};
  if (!key) return 0;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(key, keys[i]) == 0) return 1;
  return 0;
}

static int is_whole(double v) { return isfinite(v) && v == floor(v); }

nm_status nm_micrograph_opts_set(void *target, const char *key, double num, const char *text,
                                 nm_error *err) {
  nm_micrograph_opts *o = target;
  if (!key) return nm_fail(err, NM_ERR_ARG, "option name is missing");
  if (!strcmp(key, "frame") || !strcmp(key, "page")) {
    if (text || !is_whole(num) || num < 0 || num > 1e9)
      return nm_fail(err, NM_ERR_ARG, "option '%s' must be an integer >= 0", key);
    o->frame = (int)num;
    return NM_OK;
  }
  if (!strcmp(key, "max_pixels")) {
    if (text || !is_whole(num) || num < 1 || num > 9.0e18)
      return nm_fail(err, NM_ERR_ARG, "option 'max_pixels' must be an integer >= 1");
    o->max_pixels = (uint64_t)num;
    return NM_OK;
  }
  if (!strcmp(key, "nm_per_px")) {
    if (text || !isfinite(num) || !(num > 0))
      return nm_fail(err, NM_ERR_ARG, "option 'nm_per_px' must be a number > 0");
    o->user_nm_per_px = num;
    return NM_OK;
  }
  if (!strcmp(key, "scale_bar")) {
    if (text || !(num == 0 || num == 1))
      return nm_fail(err, NM_ERR_ARG, "option 'scale_bar' must be true or false");
    o->read_scale_bar = (int)num;
    return NM_OK;
  }
  return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown", key);
}

void nm_micrograph_free(nm_micrograph *m) {
  if (!m) return;
  nm_image_free(&m->img);
  memset(m, 0, sizeof *m);
}

void nm_resample_bilinear(const float *src, int sw, int sh, float *dst, int dw, int dh) {
  double fx = (double)sw / dw, fy = (double)sh / dh;
  for (int y = 0; y < dh; y++) {
    double sy = (y + 0.5) * fy - 0.5;
    if (sy < 0) sy = 0;
    if (sy > sh - 1) sy = sh - 1;
    int y0 = (int)sy;
    int y1 = y0 + 1 < sh ? y0 + 1 : y0;
    double wy = sy - y0;
    const float *r0 = src + (size_t)y0 * sw, *r1 = src + (size_t)y1 * sw;
    float *d = dst + (size_t)y * dw;
    for (int x = 0; x < dw; x++) {
      double sx = (x + 0.5) * fx - 0.5;
      if (sx < 0) sx = 0;
      if (sx > sw - 1) sx = sw - 1;
      int x0 = (int)sx;
      int x1 = x0 + 1 < sw ? x0 + 1 : x0;
      double wx = sx - x0;
      double top = r0[x0] + (r0[x1] - r0[x0]) * wx;
      double bot = r1[x0] + (r1[x1] - r1[x0]) * wx;
      d[x] = (float)(top + (bot - top) * wy);
    }
  }
}

static void add_note(nm_micrograph *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void add_note(nm_micrograph *m, const char *fmt, ...) {
  size_t len = strlen(m->note);
  if (len + 3 >= sizeof m->note) return;
  if (len) {
    memcpy(m->note + len, "; ", 3);
    len += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->note + len, sizeof m->note - len, fmt, ap);
  va_end(ap);
}

static nm_status read_image(const char *path, const void *buf, size_t n,
                            const nm_read_opts *ro, nm_image *img, nm_error *err) {
  if (buf) return nm_image_read_memory(buf, n, path ? path : "BLOB", ro, img, err);
  if (!path || !path[0]) return nm_fail(err, NM_ERR_ARG, "image path is empty");
  return nm_image_read_file(path, ro, img, err);
}

/* Square pixels of the finer size: the coarse axis is upsampled, so no
** detail is thrown away and every length in pixels scales by one factor. */
static nm_status make_square(nm_micrograph *m, const nm_micrograph_opts *o, const char *name,
                             nm_error *err) {
  nm_image *img = &m->img;
  double sx = img->calib.nm_per_px_x, sy = img->calib.nm_per_px_y;
  double s = sx < sy ? sx : sy;
  double dwf = round(img->width * sx / s), dhf = round(img->height * sy / s);
  if (dwf < 1) dwf = 1;
  if (dhf < 1) dhf = 1;
  if (dwf > 2147483647.0 || dhf > 2147483647.0 || dwf * dhf > (double)o->max_pixels)
    return nm_fail(err, NM_ERR_TOOBIG,
                   "%s: resampling %gx%g nm pixels to square would give %.0fx%.0f pixels, over "
                   "the cap of %llu pixels",
                   name, sx, sy, dwf, dhf, (unsigned long long)o->max_pixels);
  int dw = (int)dwf, dh = (int)dhf;
  if (img->px) {
    float *dst = nm_malloc((size_t)dw * (size_t)dh, sizeof(float), err);
    if (!dst) return err ? err->code : NM_ERR_NOMEM;
    nm_resample_bilinear(img->px, img->width, img->height, dst, dw, dh);
    free(img->px);
    img->px = dst;
  }
  add_note(m, "non-square %.6g x %.6g nm pixels resampled (bilinear) to square %.6g nm: %dx%d -> %dx%d",
           sx, sy, s, img->width, img->height, dw, dh);
  img->width = dw;
  img->height = dh;
  img->calib.nm_per_px_x = s;
  img->calib.nm_per_px_y = s;
  m->resampled = 1;
  return NM_OK;
}

/* A calibration replaced after the crop still says which rows were cropped. */
static void keep_databar(nm_calib *c, const nm_calib *from) {
  c->databar_rows = from->databar_rows;
  memcpy(c->databar_rule, from->databar_rule, sizeof c->databar_rule);
}

/* Clips a box to w x h; an empty result has zero size. */
static void clip_box(int *x, int *y, int *bw, int *bh, int w, int h) {
  int x0 = *x < 0 ? 0 : *x, y0 = *y < 0 ? 0 : *y;
  int x1 = *x + *bw > w ? w : *x + *bw, y1 = *y + *bh > h ? h : *y + *bh;
  if (x1 <= x0 || y1 <= y0) {
    *x = *y = *bw = *bh = 0;
    return;
  }
  *x = x0, *y = y0, *bw = x1 - x0, *bh = y1 - y0;
}

/* A vendor data bar often holds the only scale bar: the reader sees the
** uncropped rows (the cropped image is a prefix of the same buffer), and the
** bar's boxes are then clipped to the cropped image. */
static nm_status try_scale_bar(nm_micrograph *m, const char *path, const void *buf, size_t n,
                               const nm_micrograph_opts *o, nm_error *err) {
  nm_image *img = &m->img;
  nm_image full = {0};
  const float *px = img->px;
  int w = img->width, h = img->height + m->databar_rows;
  if (!px) {
    /* Header-only caller: the bar needs the pixels, read them just for it. */
    nm_read_opts ro;
    nm_read_opts_default(&ro);
    ro.frame = o->frame;
    ro.max_pixels = o->max_pixels;
    nm_status st = read_image(path, buf, n, &ro, &full, err);
    if (st != NM_OK) return st;
    px = full.px;
    w = full.width;
    h = full.height;
  }
  m->scalebar_tried = 1;
  nm_error sberr;
  nm_error_clear(&sberr);
  nm_status st = nm_scalebar_read(px, w, h, &m->scalebar, &sberr);
  nm_image_free(&full);
  if (st == NM_ERR_NOMEM || st == NM_ERR_INTERRUPTED) {
    if (err) *err = sberr;
    return st;
  }
  clip_box(&m->scalebar.box_x, &m->scalebar.box_y, &m->scalebar.box_w, &m->scalebar.box_h,
           img->width, img->height);
  clip_box(&m->scalebar.bar_x, &m->scalebar.bar_y, &m->scalebar.bar_w, &m->scalebar.bar_h,
           img->width, img->height);
  char file_reason[160];
  snprintf(file_reason, sizeof file_reason, "%s", img->calib.reason);
  if (st == NM_OK && m->scalebar.found && isfinite(m->scalebar.nm_per_px) &&
      m->scalebar.nm_per_px > 0) {
    double v = m->scalebar.nm_per_px;
    nm_calib bar = img->calib;
    nm_calib_set(&img->calib, v, v, "nm", "scale_bar");
    keep_databar(&img->calib, &bar);
    add_note(m, "read from a burned-in scale bar (%g %s over %.1f px)", m->scalebar.value,
             m->scalebar.unit, m->scalebar.bar_length_px);
    return NM_OK;
  }
  const char *why = st != NM_OK             ? sberr.msg
                    : m->scalebar.reason[0] ? m->scalebar.reason
                    : m->scalebar.found     ? "label not read"
                                            : "no scale bar found";
  char reason[800];
  if (file_reason[0] && strstr(why, file_reason)) /* the bar's reason already says it */
    snprintf(reason, sizeof reason, "scale bar: %s", why);
  else
    snprintf(reason, sizeof reason, "%s; scale bar: %s", file_reason, why);
  size_t len = strlen(reason);
  if (len >= sizeof img->calib.reason) len = sizeof img->calib.reason - 1;
  memcpy(img->calib.reason, reason, len);
  img->calib.reason[len] = 0;
  return NM_OK;
}

nm_status nm_micrograph_open(const char *path, const void *buf, size_t n,
                             const nm_micrograph_opts *opts, nm_micrograph *out,
                             nm_error *err) {
  nm_micrograph_opts defaults;
  if (!opts) {
    nm_micrograph_opts_default(&defaults);
    opts = &defaults;
  }
  memset(out, 0, sizeof *out);
  const char *name = path ? path : "BLOB";
  if (opts->frame < 0) return nm_fail(err, NM_ERR_ARG, "%s: frame must be >= 0", name);
  if (!isnan(opts->user_nm_per_px) && !(opts->user_nm_per_px > 0 && isfinite(opts->user_nm_per_px)))
    return nm_fail(err, NM_ERR_ARG, "%s: nm_per_px must be a number > 0", name);

  nm_read_opts ro;
  nm_read_opts_default(&ro);
  ro.frame = opts->frame;
  ro.max_pixels = opts->max_pixels ? opts->max_pixels : NM_DEFAULT_MAX_PIXELS;
  ro.header_only = opts->header_only;
  nm_status st = read_image(path, buf, n, &ro, &out->img, err);
  if (st != NM_OK) return st;

  nm_image *img = &out->img;
  out->file_width = img->width;
  out->file_height = img->height;
  out->file_nm_per_px_x = nm_calib_known(&img->calib) ? img->calib.nm_per_px_x : NAN;
  out->file_nm_per_px_y = nm_calib_known(&img->calib) ? img->calib.nm_per_px_y : NAN;

  /* Vendor data bar: the bottom rows are text and a scale bar, not sample. */
  int bar = img->calib.databar_rows;
  if (bar > 0 && bar < img->height) {
    img->height -= bar; /* rows are top first: the buffer's prefix is the image */
    out->databar_rows = bar;
    if (img->calib.databar_rule[0])
      add_note(out, "cropped a %d-row vendor data bar (%s)", bar, img->calib.databar_rule);
    else
      add_note(out, "cropped a %d-row vendor data bar", bar);
  } else {
    img->calib.databar_rows = 0;
    img->calib.databar_rule[0] = 0;
  }

  nm_micrograph_opts eff = *opts;
  if (!eff.max_pixels) eff.max_pixels = NM_DEFAULT_MAX_PIXELS;
  if (!isnan(opts->user_nm_per_px)) {
    char was[120] = "";
    if (nm_calib_known(&img->calib))
      snprintf(was, sizeof was, " (the file said %.6g x %.6g nm from %s)", img->calib.nm_per_px_x,
               img->calib.nm_per_px_y, img->calib.source);
    nm_calib file = img->calib;
    nm_calib_set(&img->calib, opts->user_nm_per_px, opts->user_nm_per_px, "nm", "user");
    keep_databar(&img->calib, &file);
    add_note(out, "nm_per_px given by the user%s", was);
  } else if (nm_calib_known(&img->calib)) {
    double sx = img->calib.nm_per_px_x, sy = img->calib.nm_per_px_y;
    double big = sx > sy ? sx : sy, small = sx > sy ? sy : sx;
    if (big / small > MAX_PIXEL_ASPECT) {
      char why[160];
      snprintf(why, sizeof why,
               "pixels of %.6g x %.6g nm are more than %g:1 from square; no nm size used", sx, sy,
               MAX_PIXEL_ASPECT);
      nm_calib was = img->calib;
      nm_calib_unknown(&img->calib, why);
      keep_databar(&img->calib, &was);
      memcpy(img->calib.source, was.source, sizeof was.source); /* who gave the sizes */
    } else if (fabs(sx - sy) > SQUARE_TOLERANCE * big) {
      st = make_square(out, &eff, name, err);
      if (st != NM_OK) {
        nm_micrograph_free(out);
        return st;
      }
    }
  } else if (img->calib.mode == NM_MODE_IMAGE && opts->read_scale_bar) {
    st = try_scale_bar(out, path, buf, n, &eff, err);
    if (st != NM_OK) {
      nm_micrograph_free(out);
      return st;
    }
  }
  if (!nm_calib_known(&img->calib) && img->calib.reason[0]) add_note(out, "%s", img->calib.reason);
  return NM_OK;
}
