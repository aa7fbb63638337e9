/*
** test_plot.c — every figure is a valid PNG of the requested size (decoded
** with nm_image_read_memory), is not blank, changes with the data, and is
** byte-identical when drawn twice. Colour properties are checked on the RGB
** pixels decoded by Cairo's own PNG reader: a histogram of two separated
** groups has two coloured masses in the right order, a 3D scatter puts the
** groups where the projection says, an overlay colours the right box.
*/
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/plot.h"
#include "check.h"

typedef struct rgbimg {
  int w, h;
  unsigned char *px; /* w*h*3 */
} rgbimg;

typedef struct reader {
  const unsigned char *p;
  size_t n, off;
} reader;

static cairo_status_t read_mem(void *closure, unsigned char *data, unsigned int len) {
  reader *r = closure;
  if (r->off + len > r->n) return CAIRO_STATUS_READ_ERROR;
  memcpy(data, r->p + r->off, len);
  r->off += len;
  return CAIRO_STATUS_SUCCESS;
}

static rgbimg decode_rgb(const unsigned char *png, size_t n) {
  rgbimg out = {0, 0, NULL};
  reader r = {png, n, 0};
  cairo_surface_t *s = cairo_image_surface_create_from_png_stream(read_mem, &r);
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    out.w = cairo_image_surface_get_width(s);
    out.h = cairo_image_surface_get_height(s);
    out.px = malloc((size_t)out.w * out.h * 3);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < out.h; y++)
      for (int x = 0; x < out.w; x++) {
        uint32_t v = ((const uint32_t *)(d + (size_t)y * stride))[x];
        unsigned char *o = out.px + ((size_t)y * out.w + x) * 3;
        o[0] = (unsigned char)(v >> 16), o[1] = (unsigned char)(v >> 8), o[2] = (unsigned char)v;
      }
  }
  cairo_surface_destroy(s);
  return out;
}

/* Valid PNG of w×h (nm_image_read_memory), with more than `min_frac` of
** its pixels not white. */
static void check_png(const unsigned char *png, size_t n, int w, int h, double min_frac) {
  nm_image img = {0};
  nm_error err = {0};
  nm_status st = nm_image_read_memory(png, n, "figure", NULL, &img, &err);
  CHECK_OK(st, err);
  if (st != NM_OK) return;
  if (w > 0) CHECK(img.width == w);
  if (h > 0) CHECK(img.height == h);
  size_t dark = 0, np = (size_t)img.width * img.height;
  for (size_t i = 0; i < np; i++) dark += img.px[i] < 250;
  CHECK((double)dark / np > min_frac);
  nm_image_free(&img);
}

static int is_blue(const unsigned char *p) { return p[2] > p[0] + 60 && p[2] > p[1] + 10; }
static int is_orange(const unsigned char *p) { return p[0] > p[2] + 80 && p[1] > p[2] + 20; }

/* Mean x of the pixels of a colour class in rows y0..y1; -1 if none. */
static double mean_x(const rgbimg *im, int (*is)(const unsigned char *), int y0, int y1,
                     size_t *count) {
  double sx = 0;
  size_t k = 0;
  for (int y = y0; y < y1; y++)
    for (int x = 0; x < im->w; x++)
      if (is(im->px + ((size_t)y * im->w + x) * 3)) sx += x, k++;
  if (count) *count = k;
  return k ? sx / k : -1;
}

static int same_bytes(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
  return an == bn && memcmp(a, b, an) == 0;
}

static double noise(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return ((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

static const char *const names2[] = {"0", "1"};

static void test_options(void) {
  nm_plot_opts o;
  nm_error err = {0};
  nm_plot_opts_init(&o, NM_PLOT_HIST);
  CHECK(o.width == 800 && o.height == 600 && o.dpi == 100);
  CHECK(nm_plot_opt_set(&o, "bins", 12, NULL, &err) == NM_OK && o.bins == 12);
  CHECK(nm_plot_opt_set(&o, "azimuth", 10, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "option 'azimuth' is unknown") != NULL);
  CHECK(nm_plot_opt_set(&o, "width", 10, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "'width'") != NULL);
  CHECK(nm_plot_opt_set(&o, "bins", 2.5, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_plot_opt_set(&o, "title", NAN, NULL, &err) == NM_ERR_ARG);
  /* whole words only: an empty key (once a hang) and two list words are unknown */
  CHECK(nm_plot_opt_set(&o, "", 1, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "option '' is unknown") != NULL);
  CHECK(nm_plot_opt_set(&o, "width height", 2, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "is unknown") != NULL);
  CHECK(nm_plot_opt_set(&o, "widt", 2, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_plot_opt_set(&o, "alpha", 0.5, NULL, &err) == NM_OK && o.alpha == 0.5);
  CHECK(o.line_width == 1.5);
  nm_plot_opts_free(&o);
  nm_plot_opts_init(&o, NM_PLOT_PARALLEL);
  CHECK(nm_plot_opt_set(&o, "names", NAN, "[\"p\", \"d\", \"L ratio\"]", &err) == NM_OK);
  CHECK(o.n_names == 3 && !strcmp(o.names[2], "L ratio"));
  CHECK(nm_plot_opt_set(&o, "names", NAN, "area, p ,d", &err) == NM_OK);
  CHECK(o.n_names == 3 && !strcmp(o.names[1], "p"));
  CHECK(nm_plot_opt_set(&o, "names", NAN, "[1, 2]", &err) == NM_ERR_ARG);
  nm_plot_opts_free(&o);
}

static void test_hist(void) {
  enum { N = 400 };
  double x[N];
  int g[N];
  unsigned s = 7;
  for (int i = 0; i < N; i++) g[i] = i % 2, x[i] = (g[i] ? 10 : 0) + 2 * noise(&s);
  nm_plot_groups G = {2, names2, NULL};
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_HIST);
  o.width = 640, o.height = 480;
  unsigned char *a = NULL, *b = NULL;
  size_t an = 0, bn = 0;
  nm_error err = {0};
  CHECK_OK(nm_plot_hist(x, g, N, &G, &o, &a, &an, &err), err);
  check_png(a, an, 640, 480, 0.05);
  /* two masses: blue (group 0) left of orange (group 1), in the lower half */
  rgbimg im = decode_rgb(a, an);
  size_t nb = 0, no = 0;
  double xb = mean_x(&im, is_blue, im.h / 2, im.h, &nb), xo = mean_x(&im, is_orange, im.h / 2, im.h, &no);
  CHECK(nb > 500 && no > 500);
  CHECK(xb > 0 && xo > 0 && xb < im.w * 0.45 && xo > im.w * 0.55);
  /* the gap between the groups is empty of both colours (above the bottom
  ** 100 px, where the normal curves' tails run along the baseline) */
  size_t gap = 0;
  for (int y = im.h / 2; y < im.h - 100; y++)
    for (int xx = (int)(im.w * 0.47); xx < (int)(im.w * 0.53); xx++)
      gap += is_blue(im.px + ((size_t)y * im.w + xx) * 3) || is_orange(im.px + ((size_t)y * im.w + xx) * 3);
  CHECK(gap == 0);
  free(im.px);
  /* same input, same bytes; other data, other bytes */
  CHECK_OK(nm_plot_hist(x, g, N, &G, &o, &b, &bn, &err), err);
  CHECK(same_bytes(a, an, b, bn));
  free(b);
  x[0] += 5;
  CHECK_OK(nm_plot_hist(x, g, N, &G, &o, &b, &bn, &err), err);
  CHECK(!same_bytes(a, an, b, bn));
  free(a);
  free(b);
  /* errors */
  x[3] = NAN;
  CHECK(nm_plot_hist(x, g, N, &G, &o, &a, &an, &err) == NM_ERR_ARG && a == NULL);
  x[3] = 1;
  g[5] = 2;
  CHECK(nm_plot_hist(x, g, N, &G, &o, &a, &an, &err) == NM_ERR_ARG);
  CHECK(nm_plot_hist(x, g, 0, &G, &o, &a, &an, &err) == NM_ERR_ARG);
}

static void test_scatter3d(void) {
  enum { N = 200 };
  double xyz[3 * N];
  int g[N];
  unsigned s = 3;
  for (int i = 0; i < N; i++) {
    g[i] = i % 2;
    /* group 0 near (p, d, L) minimum corner, group 1 near the maximum */
    for (int k = 0; k < 3; k++) xyz[3 * i + k] = (g[i] ? 9 : 1) + noise(&s);
  }
  nm_plot_groups G = {2, names2, NULL};
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_SCATTER3D);
  unsigned char *a = NULL;
  size_t an = 0;
  nm_error err = {0};
  CHECK_OK(nm_plot_scatter3d(xyz, g, N, &G, &o, &a, &an, &err), err);
  check_png(a, an, 800, 700, 0.02);
  rgbimg im = decode_rgb(a, an);
  /* the maximum corner (1,1,1) projects above the minimum one (0,0,0):
  ** sy(1,1,1) - sy(0,0,0) = -(sin az + cos az) sin el - cos el < 0 */
  double yb = 0, yo = 0;
  size_t nb = 0, no = 0;
  for (int y = 0; y < im.h; y++)
    for (int x = 0; x < im.w * 3 / 4; x++) { /* legend is at the right edge */
      const unsigned char *p = im.px + ((size_t)y * im.w + x) * 3;
      if (is_blue(p)) yb += y, nb++;
      if (is_orange(p)) yo += y, no++;
    }
  CHECK(nb > 100 && no > 100);
  CHECK(nb && no && yo / no < yb / nb - 50);
  free(im.px);
  unsigned char *b = NULL;
  size_t bn = 0;
  xyz[0] = 5;
  CHECK_OK(nm_plot_scatter3d(xyz, g, N, &G, &o, &b, &bn, &err), err);
  CHECK(!same_bytes(a, an, b, bn));
  free(a);
  free(b);
}

static void test_parallel_pareto(void) {
  enum { N = 120, M = 4 };
  double x[N * M];
  int g[N];
  unsigned s = 11;
  for (int i = 0; i < N; i++) {
    g[i] = i % 2;
    for (int j = 0; j < M; j++) x[i * M + j] = j * 10 + (g[i] ? 3 : -3) + noise(&s);
  }
  nm_plot_groups G = {2, names2, NULL};
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_PARALLEL);
  nm_error err = {0};
  CHECK(nm_plot_opt_set(&o, "names", NAN, "a,b,c,d", &err) == NM_OK);
  unsigned char *a = NULL;
  size_t an = 0;
  CHECK_OK(nm_plot_parallel(x, N, M, g, &G, &o, &a, &an, &err), err);
  check_png(a, an, 1000, 600, 0.03);
  rgbimg im = decode_rgb(a, an);
  size_t nb = 0, no = 0;
  mean_x(&im, is_blue, 0, im.h, &nb);
  mean_x(&im, is_orange, 0, im.h, &no);
  CHECK(nb > 1000 && no > 1000);
  free(im.px);
  free(a);
  CHECK(nm_plot_parallel(x, N, 3, g, &G, &o, &a, &an, &err) == NM_ERR_ARG); /* 4 names, 3 vars */
  nm_plot_opts_free(&o);

  /* PCA: x1 = t, x2 = 2t + 1, x3 = u with t ⟂ u (both zero-mean): the
  ** correlation matrix [[1,1,0],[1,1,0],[0,0,1]] has eigenvalues 2, 1, 0. */
  double p[4 * 3];
  const double t[4] = {1, -1, 1, -1}, u[4] = {1, 1, -1, -1};
  for (int i = 0; i < 4; i++) p[3 * i] = t[i], p[3 * i + 1] = 2 * t[i] + 1, p[3 * i + 2] = u[i];
  double ex[3];
  CHECK_OK(nm_plot_pca_explained(p, 4, 3, ex, &err), err);
  CHECK_NEAR(ex[0], 2.0 / 3, 1e-12);
  CHECK_NEAR(ex[1], 1.0 / 3, 1e-12);
  CHECK_NEAR(ex[2], 0, 1e-12);
  CHECK(nm_plot_pca_explained(p, 1, 3, ex, &err) == NM_ERR_ARG);
  nm_plot_opts_init(&o, NM_PLOT_PARETO);
  o.width = 500, o.height = 400;
  CHECK_OK(nm_plot_pareto(x, N, M, &o, &a, &an, &err), err);
  check_png(a, an, 500, 400, 0.03);
  unsigned char *b = NULL;
  size_t bn = 0;
  CHECK_OK(nm_plot_pareto(p, 4, 3, &o, &b, &bn, &err), err);
  CHECK(!same_bytes(a, an, b, bn));
  free(a);
  free(b);
}

static void test_dendrogram(void) {
  /* 4 leaves: (0,1) at 1, (2,3) at 2, then both at 5 */
  double z[] = {0, 1, 1, 2, 2, 3, 2, 2, 4, 5, 5, 4};
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_DENDROGRAM);
  o.k = 2;
  unsigned char *a = NULL;
  size_t an = 0;
  nm_error err = {0};
  CHECK_OK(nm_plot_dendrogram(z, 4, &o, &a, &an, &err), err);
  check_png(a, an, 1000, 600, 0.005);
  rgbimg im = decode_rgb(a, an);
  size_t nb = 0, no = 0;
  double xb = mean_x(&im, is_blue, 0, im.h, &nb), xo = mean_x(&im, is_orange, 0, im.h, &no);
  CHECK(nb > 50 && no > 50 && xb < xo); /* the two clusters coloured, left to right */
  free(im.px);
  free(a);
  double twice[] = {0, 1, 1, 2, 0, 2, 2, 2, 4, 5, 5, 4};
  CHECK(nm_plot_dendrogram(twice, 4, &o, &a, &an, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "merged twice") != NULL);
  double badsize[] = {0, 1, 1, 3, 2, 3, 2, 2, 4, 5, 5, 4};
  CHECK(nm_plot_dendrogram(badsize, 4, &o, &a, &an, &err) == NM_ERR_ARG);
  double future[] = {0, 5, 1, 2, 2, 3, 2, 2, 4, 5, 5, 4};
  CHECK(nm_plot_dendrogram(future, 4, &o, &a, &an, &err) == NM_ERR_ARG);
}

static void test_confusion(void) {
  double cm[] = {50, 0, 0, 2, 40, 8, 0, 1, 30};
  const char *labels[] = {"a", "b", "c"};
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_CONFUSION);
  unsigned char *a = NULL;
  size_t an = 0;
  nm_error err = {0};
  CHECK_OK(nm_plot_confusion(cm, 3, labels, &o, &a, &an, &err), err);
  check_png(a, an, 700, 650, 0.1);
  /* the diagonal cells are dark, the empty off-diagonal cell (0, 2) white:
  ** scan the row through the first cell's upper part (no text there) */
  rgbimg im = decode_rgb(a, an);
  int dark_runs = 0, prev = 0;
  int y = -1;
  for (int yy = 0; yy < im.h && y < 0; yy++) /* first row with a dark cell */
    for (int x = 0; x < im.w; x++)
      if (im.px[((size_t)yy * im.w + x) * 3] < 30 && im.px[((size_t)yy * im.w + x) * 3 + 2] > 60) {
        y = yy + 10;
        break;
      }
  CHECK(y > 0);
  if (y > 0)
    for (int x = 0; x < im.w; x++) {
      int d = im.px[((size_t)y * im.w + x) * 3] < 30;
      if (d && !prev) dark_runs++;
      prev = d;
    }
  CHECK(dark_runs == 1); /* only cell (0,0) is dark in the first row */
  free(im.px);
  free(a);
  cm[4] = -1;
  CHECK(nm_plot_confusion(cm, 3, labels, &o, &a, &an, &err) == NM_ERR_ARG);
}

static void test_montage_overlay(void) {
  /* a dark disc on a bright square, as a particle picture */
  nm_image disc = {0};
  disc.width = 40, disc.height = 30, disc.bits = 8;
  disc.px = malloc(sizeof(float) * 40 * 30);
  for (int y = 0; y < 30; y++)
    for (int x = 0; x < 40; x++) disc.px[y * 40 + x] = (x - 20) * (x - 20) + (y - 15) * (y - 15) < 100 ? 20 : 230;
  nm_error err = {0};
  uint8_t tile[32 * 32];
  CHECK_OK(nm_plot_tile_make(&disc, 32, tile, &err), err);
  CHECK(tile[16 * 32 + 16] < 40);                 /* centre dark */
  CHECK(tile[0] > 200 && tile[31 * 32 + 31] > 200); /* padded with the border value */

  enum { N = 30 };
  uint8_t *tiles[N];
  int g[N];
  for (int i = 0; i < N; i++) tiles[i] = tile, g[i] = i < 20 ? 0 : 1;
  nm_plot_groups G = {2, names2, NULL};
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_MONTAGE);
  o.cell = 32, o.columns = 10, o.per_group = 5;
  unsigned char *a = NULL, *b = NULL;
  size_t an = 0, bn = 0;
  CHECK_OK(nm_plot_montage((const uint8_t *const *)tiles, g, N, &G, &o, &a, &an, &err), err);
  check_png(a, an, 0, 0, 0.05);
  nm_image img = {0};
  CHECK_OK(nm_image_read_memory(a, an, "montage", NULL, &img, &err), err);
  int h1 = img.height;
  CHECK(img.width >= 10 * 32);
  nm_image_free(&img);
  o.per_group = 0; /* all 20 of group 0: one more row of tiles */
  CHECK_OK(nm_plot_montage((const uint8_t *const *)tiles, g, N, &G, &o, &b, &bn, &err), err);
  CHECK_OK(nm_image_read_memory(b, bn, "montage", NULL, &img, &err), err);
  CHECK(img.height >= h1 + 32);
  nm_image_free(&img);
  free(a);
  free(b);
  nm_plot_opts_init(&o, NM_PLOT_MONTAGE_ALL);
  o.cell = 16;
  CHECK_OK(nm_plot_montage((const uint8_t *const *)tiles, g, N, &G, &o, &a, &an, &err), err);
  /* the share bar: blue (20 of 30) is twice as wide as orange (10 of 30) */
  rgbimg im = decode_rgb(a, an);
  size_t nb = 0, no = 0;
  int bar_y = -1;
  for (int y = 0; y < im.h && bar_y < 0; y++)
    if (is_blue(im.px + ((size_t)y * im.w + im.w / 4) * 3)) bar_y = y + 3;
  CHECK(bar_y > 0);
  if (bar_y > 0) {
    mean_x(&im, is_blue, bar_y, bar_y + 1, &nb);
    mean_x(&im, is_orange, bar_y, bar_y + 1, &no);
    CHECK(no > 0 && fabs((double)nb / no - 2.0) < 0.15);
  }
  free(im.px);
  free(a);
  /* 40 tiles of 512 px in one column: over the side cap, refused before drawing */
  static uint8_t big[512 * 512];
  const uint8_t *bigs[40];
  int bg[40] = {0};
  for (int i = 0; i < 40; i++) bigs[i] = big;
  o.cell = 512, o.columns = 1;
  CHECK(nm_plot_montage(bigs, bg, 40, &G, &o, &a, &an, &err) == NM_ERR_TOOBIG);

  /* overlay: a 200×100 gray micrograph, one group-1 box on the right */
  nm_image mic = {0};
  mic.width = 200, mic.height = 100, mic.bits = 8;
  mic.px = malloc(sizeof(float) * 200 * 100);
  for (int i = 0; i < 200 * 100; i++) mic.px[i] = (float)(100 + (i * 37) % 50);
  uint8_t mask[10 * 10];
  for (int i = 0; i < 100; i++) mask[i] = 1;
  nm_plot_box box = {150, 40, 20, 20, 1, mask, 10, 10};
  nm_plot_opts_init(&o, NM_PLOT_OVERLAY);
  CHECK_OK(nm_plot_overlay(&mic, &box, 1, &G, &o, &a, &an, &err), err);
  CHECK_OK(nm_image_read_memory(a, an, "overlay", NULL, &img, &err), err);
  CHECK(img.width == 200 && img.height > 100); /* image + legend strip */
  nm_image_free(&img);
  im = decode_rgb(a, an);
  double xo = mean_x(&im, is_orange, 0, 100, &no);
  CHECK(no > 100 && xo > 145 && xo < 175);
  free(im.px);
  free(a);
  o.width = 400;
  CHECK_OK(nm_plot_overlay(&mic, &box, 1, &G, &o, &a, &an, &err), err);
  check_png(a, an, 400, 0, 0.5);
  free(a);
  box.w = -1;
  CHECK(nm_plot_overlay(&mic, &box, 1, &G, &o, &a, &an, &err) == NM_ERR_ARG);
  free(mic.px);
  free(disc.px);
}

/* LeakSanitizer reads this when the test runs under ASan: fontconfig's
** process-wide configuration (loaded by Cairo's toy font API) is never freed
** by design. Nothing else is suppressed. */
/* (default visibility: the build hides symbols, and the runtime looks it up) */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

int main(void) {
  test_options();
  test_hist();
  test_scatter3d();
  test_parallel_pareto();
  test_dendrogram();
  test_confusion();
  test_montage_overlay();
  /* Cairo keeps its font-face cache (and fontconfig patterns inside it) for
  ** the life of the process; release it so the leak checker sees only ours. */
  cairo_debug_reset_static_data();
  return check_summary("test_plot");
}
