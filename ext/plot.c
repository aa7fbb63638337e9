/*
** plot.c — figure options, the palette, and the canvas every figure draws on
** (plot_canvas.h). The figures themselves are in plot_<kind>.c.
*/
#include "plot.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

/* ---------------------------------------------------------------- options */

static const char *const kind_names[NM_PLOT_KIND_COUNT] = {
    "hist_png",       "scatter3d_png", "parallel_png",     "pareto_png", "dendrogram_png",
    "confusion_png",  "montage_png",   "montage_all_png",  "overlay_png",  "linkage_png"};

/* The keys each kind takes besides the common "dpi font_size title" (the
** montages size themselves from cell and columns, so take no width/height). */
static const char *const kind_keys[NM_PLOT_KIND_COUNT] = {
    "width height xlabel ylabel legend bins fit alpha",
    "width height xlabel ylabel zlabel legend azimuth elevation point_size alpha",
    "width height xlabel ylabel legend names alpha",
    "width height xlabel ylabel names max_components",
    "width height xlabel ylabel leaves k",
    "width height xlabel ylabel normalize",
    "cell per_group columns invert",
    "cell per_group columns invert",
    "width height legend line_width fill labels alpha",
    "width height xlabel ylabel leaves k linkage standardize"};

static const char *const common_keys = "dpi font_size title";

const char *nm_plot_kind_name(nm_plot_kind kind) {
  return (unsigned)kind < NM_PLOT_KIND_COUNT ? kind_names[kind] : "plot";
}

void nm_plot_opts_init(nm_plot_opts *o, nm_plot_kind kind) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  o->dpi = 100;
  o->font_size = 10;
  o->legend = 1;
  o->fit = 1;
  o->azimuth = -37.5;
  o->elevation = 30;
  o->point_size = 3;
  o->alpha = -1;
  o->max_components = 10;
  o->leaves = 30;
  o->normalize = 1;
  o->line_width = 1.5;
  o->fill = 1;
  o->labels = 1;
  o->standardize = 1;
  memcpy(o->linkage, "ward", 5);
  switch (kind) {
    case NM_PLOT_HIST: o->width = 800; o->height = 600; break;
    case NM_PLOT_SCATTER3D: o->width = 800; o->height = 700; break;
    case NM_PLOT_PARALLEL: o->width = 1000; o->height = 600; break;
    case NM_PLOT_PARETO: o->width = 800; o->height = 600; break;
    case NM_PLOT_DENDROGRAM:
    case NM_PLOT_LINKAGE: o->width = 1000; o->height = 600; break;
    case NM_PLOT_CONFUSION: o->width = 700; o->height = 650; break;
    case NM_PLOT_MONTAGE: o->cell = 48; o->per_group = 210; o->columns = 15; break;
    case NM_PLOT_MONTAGE_ALL: o->cell = 24; o->per_group = 0; o->columns = 40; break;
    default: break; /* overlay: the image's own size */
  }
}

void nm_plot_opts_free(nm_plot_opts *o) {
  for (int i = 0; i < o->n_names; i++) free(o->names[i]);
  free(o->names);
  o->names = NULL;
  o->n_names = 0;
}

/* 1 when key is one of the space-separated words of list (whole words only:
** an empty key or one holding a space is never a word). */
static int has_word(const char *list, const char *key) {
  size_t n = strlen(key);
  if (n == 0) return 0;
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ' ');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && memcmp(p, key, n) == 0) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

static nm_status need_num(const char *fig, const char *key, double num, double lo,
                          double hi, nm_error *err) {
  if (isnan(num) || num < lo || num > hi)
    return nm_fail(err, NM_ERR_ARG, "option '%s' of %s must be a number in [%g, %g]", key, fig,
                   lo, hi);
  return NM_OK;
}

static nm_status need_int(const char *fig, const char *key, double num, double lo, double hi,
                          int *out, nm_error *err) {
  if (isnan(num) || num < lo || num > hi || num != floor(num))
    return nm_fail(err, NM_ERR_ARG, "option '%s' of %s must be an integer in [%g, %g]", key,
                   fig, lo, hi);
  *out = (int)num;
  return NM_OK;
}

static nm_status need_text(const char *fig, const char *key, const char *text, char *dst,
                           size_t cap, nm_error *err) {
  if (!text) return nm_fail(err, NM_ERR_ARG, "option '%s' of %s must be a text", key, fig);
  if (strlen(text) >= cap)
    return nm_fail(err, NM_ERR_ARG, "option '%s' of %s is longer than %zu bytes", key, fig,
                   cap - 1);
  memcpy(dst, text, strlen(text) + 1);
  return NM_OK;
}

static nm_status add_name(nm_plot_opts *o, const char *s, size_t len, nm_error *err) {
  if (o->n_names >= 256) return nm_fail(err, NM_ERR_ARG, "option 'names' has more than 256 names");
  char **grown = realloc(o->names, sizeof(char *) * (size_t)(o->n_names + 1));
  if (!grown) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  o->names = grown;
  char *copy = malloc(len + 1);
  if (!copy) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  memcpy(copy, s, len);
  copy[len] = 0;
  o->names[o->n_names++] = copy;
  return NM_OK;
}

/* names: a JSON array of texts (what json_each hands over for an array) or a
** comma-separated text. */
static nm_status set_names(nm_plot_opts *o, const char *fig, const char *text, nm_error *err) {
  nm_plot_opts_free(o);
  if (!text) return nm_fail(err, NM_ERR_ARG, "option 'names' of %s must be an array of texts", fig);
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  if (*p == '[') {
    cJSON *arr = cJSON_Parse(text);
    if (!arr || !cJSON_IsArray(arr)) {
      cJSON_Delete(arr);
      return nm_fail(err, NM_ERR_ARG, "option 'names' of %s is not a valid JSON array", fig);
    }
    nm_status st = NM_OK;
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr) {
      if (!cJSON_IsString(it)) {
        st = nm_fail(err, NM_ERR_ARG, "option 'names' of %s must hold only texts", fig);
        break;
      }
      st = add_name(o, it->valuestring, strlen(it->valuestring), err);
      if (st != NM_OK) break;
    }
    cJSON_Delete(arr);
    return st;
  }
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    while (len && isspace((unsigned char)*p)) p++, len--;
    while (len && isspace((unsigned char)p[len - 1])) len--;
    nm_status st = add_name(o, p, len, err);
    if (st != NM_OK) return st;
    if (!comma) break;
    p = comma + 1;
  }
  return NM_OK;
}

nm_status nm_plot_opt_set(void *target, const char *key, double num, const char *text,
                          nm_error *err) {
  nm_plot_opts *o = target;
  const char *fig = nm_plot_kind_name(o->kind);
  if (!has_word(common_keys, key) && !has_word(kind_keys[o->kind], key))
    return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown (%s takes: %s %s)", key, fig,
                   common_keys, kind_keys[o->kind]);
  if (!strcmp(key, "width")) return need_int(fig, key, num, 64, NM_PLOT_MAX_SIDE, &o->width, err);
  if (!strcmp(key, "height")) return need_int(fig, key, num, 64, NM_PLOT_MAX_SIDE, &o->height, err);
  if (!strcmp(key, "dpi")) {
    nm_status st = need_num(fig, key, num, 36, 1200, err);
    if (st == NM_OK) o->dpi = num;
    return st;
  }
  if (!strcmp(key, "font_size")) {
    nm_status st = need_num(fig, key, num, 4, 72, err);
    if (st == NM_OK) o->font_size = num;
    return st;
  }
  if (!strcmp(key, "title")) return need_text(fig, key, text, o->title, sizeof o->title, err);
  if (!strcmp(key, "xlabel")) return need_text(fig, key, text, o->xlabel, sizeof o->xlabel, err);
  if (!strcmp(key, "ylabel")) return need_text(fig, key, text, o->ylabel, sizeof o->ylabel, err);
  if (!strcmp(key, "zlabel")) return need_text(fig, key, text, o->zlabel, sizeof o->zlabel, err);
  if (!strcmp(key, "legend")) return need_int(fig, key, num, 0, 1, &o->legend, err);
  if (!strcmp(key, "fit")) return need_int(fig, key, num, 0, 1, &o->fit, err);
  if (!strcmp(key, "fill")) return need_int(fig, key, num, 0, 1, &o->fill, err);
  if (!strcmp(key, "labels")) return need_int(fig, key, num, 0, 1, &o->labels, err);
  if (!strcmp(key, "invert")) return need_int(fig, key, num, 0, 1, &o->invert, err);
  if (!strcmp(key, "normalize")) return need_int(fig, key, num, 0, 1, &o->normalize, err);
  if (!strcmp(key, "standardize")) return need_int(fig, key, num, 0, 1, &o->standardize, err);
  if (!strcmp(key, "linkage")) {
    if (!text || (strcmp(text, "ward") && strcmp(text, "average") && strcmp(text, "complete") &&
                  strcmp(text, "single")))
      return nm_fail(err, NM_ERR_ARG,
                     "option 'linkage' of %s must be \"ward\", \"average\", \"complete\" or \"single\"",
                     fig);
    memcpy(o->linkage, text, strlen(text) + 1);
    return NM_OK;
  }
  if (!strcmp(key, "bins")) return need_int(fig, key, num, 1, 1000, &o->bins, err);
  if (!strcmp(key, "max_components"))
    return need_int(fig, key, num, 1, 100, &o->max_components, err);
  if (!strcmp(key, "leaves")) return need_int(fig, key, num, 2, 500, &o->leaves, err);
  if (!strcmp(key, "k")) return need_int(fig, key, num, 0, 100, &o->k, err);
  if (!strcmp(key, "cell")) return need_int(fig, key, num, 8, 512, &o->cell, err);
  if (!strcmp(key, "per_group")) return need_int(fig, key, num, 0, 100000, &o->per_group, err);
  if (!strcmp(key, "columns")) return need_int(fig, key, num, 1, 500, &o->columns, err);
  if (!strcmp(key, "names")) return set_names(o, fig, text, err);
  double *dst = !strcmp(key, "azimuth")      ? &o->azimuth
                : !strcmp(key, "elevation")  ? &o->elevation
                : !strcmp(key, "point_size") ? &o->point_size
                : !strcmp(key, "alpha")      ? &o->alpha
                : !strcmp(key, "line_width") ? &o->line_width
                                             : NULL;
  if (!dst) /* a key in a kind's list without a branch here: a bug, not input */
    return nm_fail(err, NM_ERR_ARG, "option '%s' of %s is not handled", key, fig);
  double lo = 0, hi = 1;
  if (dst == &o->azimuth) lo = -360, hi = 360;
  if (dst == &o->elevation) lo = -90, hi = 90;
  if (dst == &o->point_size) lo = 0.5, hi = 50;
  if (dst == &o->line_width) lo = 0.1, hi = 20;
  nm_status st = need_num(fig, key, num, lo, hi, err);
  if (st == NM_OK) *dst = num;
  return st;
}

/* ---------------------------------------------------------------- palette */

/* Okabe & Ito (2008), ordered so that the first colours are the most distinct
** from each other and from gray micrographs; black last. */
static const unsigned char okabe_ito[NM_PLOT_PALETTE_SIZE][3] = {
    {0, 114, 178},   /* blue */
    {230, 159, 0},   /* orange */
    {0, 158, 115},   /* bluish green */
    {213, 94, 0},    /* vermillion */
    {204, 121, 167}, /* reddish purple */
    {86, 180, 233},  /* sky blue */
    {240, 228, 66},  /* yellow */
    {0, 0, 0}};      /* black */

void nm_plot_palette(int slot, double rgb[3]) {
  int s = ((slot % NM_PLOT_PALETTE_SIZE) + NM_PLOT_PALETTE_SIZE) % NM_PLOT_PALETTE_SIZE;
  for (int i = 0; i < 3; i++) rgb[i] = okabe_ito[s][i] / 255.0;
}

int nm_group_slot(const nm_plot_groups *g, int i) {
  return g && g->slot ? g->slot[i] : i;
}

const char *nm_plot_title(const nm_plot_opts *o, const char *fallback) {
  return o->title[0] ? o->title : fallback;
}

const char *nm_plot_label(const char *opt, const char *fallback) {
  return opt && opt[0] ? opt : fallback;
}

nm_status nm_plot_check_groups(const int *grp, size_t n, const nm_plot_groups *g,
                               nm_error *err) {
  if (!g || g->n < 1) return nm_fail(err, NM_ERR_ARG, "no groups");
  if (g->n > 1000) return nm_fail(err, NM_ERR_ARG, "%d groups; at most 1000 can be drawn", g->n);
  if (!grp) return NM_OK;
  for (size_t i = 0; i < n; i++)
    if (grp[i] < 0 || grp[i] >= g->n)
      return nm_fail(err, NM_ERR_ARG, "row %zu: group index %d out of range", i, grp[i]);
  return NM_OK;
}

/* ----------------------------------------------------------------- canvas */

nm_status nm_canvas_open(nm_canvas *c, int w, int h, const nm_plot_opts *o, nm_error *err) {
  memset(c, 0, sizeof *c);
  if (w < 16 || h < 16 || w > NM_PLOT_MAX_SIDE || h > NM_PLOT_MAX_SIDE ||
      (uint64_t)w * (uint64_t)h > NM_PLOT_MAX_PIXELS)
    return nm_fail(err, NM_ERR_TOOBIG,
                   "figure of %d x %d px is outside 16..%d px per side / %u px in all", w, h,
                   NM_PLOT_MAX_SIDE, NM_PLOT_MAX_PIXELS);
  c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(c->surface);
    c->surface = NULL;
    return nm_fail(err, NM_ERR_NOMEM, "cannot create a %d x %d canvas", w, h);
  }
  c->cr = cairo_create(c->surface);
  c->w = w;
  c->h = h;
  c->pt = o->dpi / 72.0;
  c->font = o->font_size * c->pt;
  nm_canvas_ink_reset(c);
  cairo_set_source_rgb(c->cr, 1, 1, 1);
  cairo_paint(c->cr);
  cairo_set_line_join(c->cr, CAIRO_LINE_JOIN_ROUND);
  /* Hinting and subpixel order left at defaults would depend on the host's
  ** fontconfig; fix them so output is the same everywhere the font is. */
  cairo_font_options_t *fo = cairo_font_options_create();
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(c->cr, fo);
  cairo_font_options_destroy(fo);
  return NM_OK;
}

void nm_canvas_close(nm_canvas *c) {
  if (c->cr) cairo_destroy(c->cr);
  if (c->surface) cairo_surface_destroy(c->surface);
  memset(c, 0, sizeof *c);
}

nm_status nm_canvas_png(nm_canvas *c, unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  cairo_status_t cs = cairo_status(c->cr);
  if (cs != CAIRO_STATUS_SUCCESS)
    return nm_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? NM_ERR_NOMEM : NM_ERR_ARG,
                   "drawing failed: %s", cairo_status_to_string(cs));
  cairo_surface_flush(c->surface);
  const unsigned char *data = cairo_image_surface_get_data(c->surface);
  int stride = cairo_image_surface_get_stride(c->surface);
  uint8_t *rgb = nm_malloc((size_t)c->w * (size_t)c->h, 3, err);
  if (!rgb) return err ? err->code : NM_ERR_NOMEM;
  for (int y = 0; y < c->h; y++) {
    const uint32_t *row = (const uint32_t *)(data + (size_t)y * (size_t)stride);
    uint8_t *dst = rgb + (size_t)y * (size_t)c->w * 3;
    for (int x = 0; x < c->w; x++) {
      uint32_t v = row[x];
      dst[3 * x] = (uint8_t)(v >> 16);
      dst[3 * x + 1] = (uint8_t)(v >> 8);
      dst[3 * x + 2] = (uint8_t)v;
    }
  }
  nm_status st = nm_png_encode(rgb, c->w, c->h, 8, 3, png, png_n, err);
  free(rgb);
  return st;
}

static void set_font(nm_canvas *c, double size, int bold) {
  cairo_select_font_face(c->cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(c->cr, size);
}

double nm_canvas_text_w(nm_canvas *c, const char *text, double size, int bold) {
  set_font(c, size, bold);
  cairo_text_extents_t te;
  cairo_text_extents(c->cr, text, &te);
  return te.x_advance;
}

double nm_canvas_line_h(nm_canvas *c, double size) {
  set_font(c, size, 0);
  cairo_font_extents_t fe;
  cairo_font_extents(c->cr, &fe);
  return fe.ascent + fe.descent;
}

void nm_canvas_text(nm_canvas *c, double x, double y, const char *text, double size, int bold,
                    double ha, double va, double angle) {
  if (!text || !text[0]) return;
  set_font(c, size, bold);
  cairo_font_extents_t fe;
  cairo_font_extents(c->cr, &fe);
  cairo_text_extents_t te;
  cairo_text_extents(c->cr, text, &te);
  cairo_save(c->cr);
  cairo_translate(c->cr, x, y);
  cairo_rotate(c->cr, -angle);
  double box = fe.ascent + fe.descent;
  cairo_move_to(c->cr, -ha * te.x_advance, -va * box + fe.ascent);
  cairo_set_source_rgb(c->cr, c->ink[0], c->ink[1], c->ink[2]);
  cairo_show_text(c->cr, text);
  cairo_restore(c->cr);
}

void nm_canvas_title(nm_canvas *c, double x, double y, const char *title) {
  if (!title || !title[0]) return;
  double size = 1.2 * c->font, room = c->w - c->font;
  double w = nm_canvas_text_w(c, title, size, 1);
  if (w > room) size = fmax(c->font * 0.8, size * room / w);
  nm_canvas_text(c, x, y, title, size, 1, 0.5, 0, 0);
}

void nm_canvas_ink_on(nm_canvas *c, const double rgb[3]) {
  double lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  c->ink[0] = c->ink[1] = c->ink[2] = lum < 0.45 ? 1 : 0.1;
}

void nm_canvas_ink_reset(nm_canvas *c) { c->ink[0] = c->ink[1] = c->ink[2] = 0.1; }

void nm_canvas_rgb(nm_canvas *c, int slot, double alpha) {
  double rgb[3];
  nm_plot_palette(slot, rgb);
  cairo_set_source_rgba(c->cr, rgb[0], rgb[1], rgb[2], alpha);
}

void nm_canvas_marker(nm_canvas *c, int slot, double x, double y, double r, double alpha) {
  cairo_t *cr = c->cr;
  int shape = (slot / NM_PLOT_PALETTE_SIZE) % 3;
  if (shape == 0) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * M_PI);
  } else if (shape == 1) {
    cairo_rectangle(cr, x - r * 0.9, y - r * 0.9, 1.8 * r, 1.8 * r);
  } else {
    cairo_move_to(cr, x, y - 1.2 * r);
    cairo_line_to(cr, x + 1.05 * r, y + 0.65 * r);
    cairo_line_to(cr, x - 1.05 * r, y + 0.65 * r);
    cairo_close_path(cr);
  }
  nm_canvas_rgb(c, slot, alpha);
  cairo_fill_preserve(cr);
  cairo_set_line_width(cr, 0.35 * c->pt);
  cairo_set_source_rgba(cr, 0, 0, 0, 0.6 * alpha);
  cairo_stroke(cr);
}

void nm_canvas_line_style(nm_canvas *c, int slot, double w) {
  int style = (slot / NM_PLOT_PALETTE_SIZE) % 3;
  double d[2] = {4 * w, 2.5 * w};
  double dot[2] = {1 * w, 2 * w};
  cairo_set_line_width(c->cr, w);
  if (style == 0) cairo_set_dash(c->cr, NULL, 0, 0);
  else if (style == 1) cairo_set_dash(c->cr, d, 2, 0);
  else cairo_set_dash(c->cr, dot, 2, 0);
}

/* ------------------------------------------------------------------- axes */

void nm_axis_nice(nm_axis *a, double lo, double hi, int target, int extend) {
  if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) {
    double t = lo;
    lo = hi;
    hi = t;
  }
  if (hi - lo <= 1e-12 * fmax(1.0, fabs(hi))) {
    double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  if (target < 2) target = 2;
  double raw = (hi - lo) / target;
  double mag = pow(10, floor(log10(raw)));
  double f = raw / mag;
  double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  double t0 = extend ? floor(lo / step + 1e-9) * step : ceil(lo / step - 1e-9) * step;
  double t1 = extend ? ceil(hi / step - 1e-9) * step : floor(hi / step + 1e-9) * step;
  a->step = step;
  a->nt = 0;
  for (double t = t0; t <= t1 + step * 1e-6 && a->nt < 40; t += step) {
    double v = fabs(t) < step * 1e-9 ? 0 : t;
    a->tick[a->nt++] = v;
  }
  a->lo = extend ? fmin(lo, t0) : lo;
  a->hi = extend ? fmax(hi, t1) : hi;
}

void nm_axis_label(const nm_axis *a, double v, char *buf, size_t n) {
  double s = a->step > 0 ? a->step : 1;
  if (fabs(v) >= 1e6 || (fabs(v) > 0 && fabs(v) < 1e-4)) {
    snprintf(buf, n, "%.2g", v);
    return;
  }
  int decimals = s >= 1 ? 0 : (int)ceil(-log10(s) - 1e-9);
  if (decimals > 6) decimals = 6;
  snprintf(buf, n, "%.*f", decimals, v);
  if (!strcmp(buf, "-0")) snprintf(buf, n, "0");
}

double nm_map(const nm_axis *a, double v, double p0, double p1) {
  double span = a->hi - a->lo;
  if (span == 0) return (p0 + p1) / 2;
  return p0 + (v - a->lo) / span * (p1 - p0);
}

nm_rect nm_canvas_plot_rect(nm_canvas *c, const nm_axis *y, const char *title,
                            const char *xlabel, const char *ylabel, double right) {
  double f = c->font, gap = 0.6 * f;
  double lh = nm_canvas_line_h(c, f);
  double left = gap, top = gap, bottom = gap;
  if (title && title[0]) top += nm_canvas_line_h(c, 1.2 * f) + gap;
  else top += 0.5 * lh; /* room for the top tick label */
  bottom += lh + 0.4 * f + 0.5 * f; /* tick labels + tick marks */
  if (xlabel && xlabel[0]) bottom += lh + 0.4 * f;
  if (ylabel && ylabel[0]) left += lh + 0.5 * f;
  double wmax = 0;
  if (y) {
    char buf[64];
    for (int i = 0; i < y->nt; i++) {
      nm_axis_label(y, y->tick[i], buf, sizeof buf);
      wmax = fmax(wmax, nm_canvas_text_w(c, buf, f, 0));
    }
    left += wmax + 0.4 * f + 0.5 * f;
  }
  nm_rect r = {left, top, c->w - left - right - gap - 0.5 * f, c->h - top - bottom};
  if (r.w < 10) r.w = 10;
  if (r.h < 10) r.h = 10;
  return r;
}

void nm_canvas_axes(nm_canvas *c, nm_rect r, const nm_axis *x, const nm_axis *y,
                    const char *title, const char *xlabel, const char *ylabel) {
  cairo_t *cr = c->cr;
  double f = c->font, tick = 0.5 * f;
  char buf[64];
  cairo_set_dash(cr, NULL, 0, 0);
  cairo_set_line_width(cr, fmax(1, 0.5 * c->pt));
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, r.x, r.y, r.w, r.h);
  cairo_stroke(cr);
  double wmax = 0;
  if (x) {
    for (int i = 0; i < x->nt; i++) {
      double px = nm_map(x, x->tick[i], r.x, r.x + r.w);
      if (px < r.x - 0.5 || px > r.x + r.w + 0.5) continue;
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_move_to(cr, px, r.y + r.h);
      cairo_line_to(cr, px, r.y + r.h + tick);
      cairo_stroke(cr);
      nm_axis_label(x, x->tick[i], buf, sizeof buf);
      nm_canvas_text(c, px, r.y + r.h + tick + 0.2 * f, buf, f, 0, 0.5, 0, 0);
    }
  }
  if (y) {
    for (int i = 0; i < y->nt; i++) {
      double py = nm_map(y, y->tick[i], r.y + r.h, r.y);
      if (py < r.y - 0.5 || py > r.y + r.h + 0.5) continue;
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_move_to(cr, r.x, py);
      cairo_line_to(cr, r.x - tick, py);
      cairo_stroke(cr);
      nm_axis_label(y, y->tick[i], buf, sizeof buf);
      wmax = fmax(wmax, nm_canvas_text_w(c, buf, f, 0));
      nm_canvas_text(c, r.x - tick - 0.3 * f, py, buf, f, 0, 1, 0.5, 0);
    }
  }
  double lh = nm_canvas_line_h(c, f);
  if (xlabel && xlabel[0])
    nm_canvas_text(c, r.x + r.w / 2, r.y + r.h + tick + 0.2 * f + lh + 0.4 * f, xlabel, f, 0,
                   0.5, 0, 0);
  if (ylabel && ylabel[0])
    nm_canvas_text(c, r.x - tick - 0.4 * f - wmax - 0.5 * f, r.y + r.h / 2, ylabel, f, 0, 0.5,
                   1, M_PI / 2);
  if (title && title[0])
    nm_canvas_title(c, c->w / 2.0, 0.6 * f, title);
}

void nm_canvas_legend(nm_canvas *c, double x, double y, const nm_plot_groups *g,
                      const char *const *text, int kind, int draw, double *w, double *h) {
  cairo_t *cr = c->cr;
  double f = 0.9 * c->font, lh = nm_canvas_line_h(c, f) * 1.15, sw = 1.6 * f, pad = 0.5 * f;
  double tw = 0;
  for (int i = 0; i < g->n; i++) tw = fmax(tw, nm_canvas_text_w(c, text[i], f, 0));
  *w = pad + sw + 0.5 * f + tw + pad;
  *h = pad + lh * g->n + pad;
  if (!draw) return;
  cairo_set_dash(cr, NULL, 0, 0);
  cairo_rectangle(cr, x, y, *w, *h);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
  cairo_set_line_width(cr, fmax(1, 0.5 * c->pt));
  cairo_stroke(cr);
  for (int i = 0; i < g->n; i++) {
    int slot = nm_group_slot(g, i);
    double cy = y + pad + lh * (i + 0.5);
    double sx = x + pad;
    if (kind == 0) {
      cairo_rectangle(cr, sx, cy - 0.35 * f, sw, 0.7 * f);
      nm_canvas_rgb(c, slot, 0.55);
      cairo_fill_preserve(cr);
      nm_canvas_rgb(c, slot, 1);
      cairo_set_line_width(cr, fmax(1, 0.7 * c->pt));
      cairo_stroke(cr);
    } else if (kind == 1) {
      nm_canvas_line_style(c, slot, 1.6 * c->pt);
      nm_canvas_rgb(c, slot, 1);
      cairo_move_to(cr, sx, cy);
      cairo_line_to(cr, sx + sw, cy);
      cairo_stroke(cr);
      cairo_set_dash(cr, NULL, 0, 0);
    } else {
      nm_canvas_marker(c, slot, sx + sw / 2, cy, 0.35 * f, 1);
    }
    nm_canvas_text(c, sx + sw + 0.5 * f, cy, text[i], f, 0, 0, 0.5, 0);
  }
}
