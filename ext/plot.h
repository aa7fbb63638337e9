/*
** plot.h — the paper's figures (SPEC §8) drawn with Cairo into PNG bytes.
**
** Every figure function takes plain arrays plus one nm_plot_opts and returns
** a malloc'd PNG (free with free()). Nothing here knows SQL: udf/plot.c
** collects rows, maps group values to indices and calls these.
**
**   histogram + normal fit per group   nm_plot_hist
**   3D scatter (p, d, Lratio)          nm_plot_scatter3d
**   parallel coordinates               nm_plot_parallel
**   Pareto chart of principal comps    nm_plot_pareto      (PCA: LAPACKE_dsyev)
**   linkage dendrogram                 nm_plot_dendrogram  (SciPy-style merge table)
**                                      nm_plot_linkage     (rows → ext/linkage.h → tree)
**   confusion matrix                   nm_plot_confusion
**   montage per group / of everything  nm_plot_montage
**   groups overlaid on a micrograph    nm_plot_overlay
**
** Conventions shared by all figures:
** - Sizes: width/height in pixels; dpi says how many pixels one printed inch
**   is, so text (font_size, in points) and line widths scale by dpi/72.
**   800×600 at dpi 100 is an 8×6-inch figure with 10-pt text ≈ 14 px high.
** - Colours: the Okabe–Ito colour-blind-safe palette, 8 slots. Group i is
**   drawn in slot groups->slot[i]; slots ≥ 8 reuse the colours with another
**   marker shape / dash so that up to 24 groups stay distinguishable.
** - Text: Cairo's toy font API with "DejaVu Sans" (Debian fonts-dejavu-core),
**   so output bytes are the same for the same input on the same system.
** - Deterministic: no randomness, no clock; draw order is fixed.
*/
#ifndef NM_PLOT_H
#define NM_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "nm_common.h"

typedef enum nm_plot_kind {
  NM_PLOT_HIST = 0,
  NM_PLOT_SCATTER3D,
  NM_PLOT_PARALLEL,
  NM_PLOT_PARETO,
  NM_PLOT_DENDROGRAM,
  NM_PLOT_CONFUSION,
  NM_PLOT_MONTAGE,
  NM_PLOT_MONTAGE_ALL,
  NM_PLOT_OVERLAY,
  NM_PLOT_LINKAGE,
  NM_PLOT_KIND_COUNT
} nm_plot_kind;

#define NM_PLOT_PALETTE_SIZE 8
#define NM_PLOT_MAX_SIDE 16384         /* pixels, any figure side */
#define NM_PLOT_MAX_PIXELS (1u << 26)  /* 64 Mpx per figure */

/*
** Options. nm_plot_opts_init() sets the defaults of one figure kind;
** nm_plot_opt_set() (an nm_opt_setter, see udf/bind.h) accepts only the keys
** that kind documents and range-checks each value. Text options are copied.
*/
typedef struct nm_plot_opts {
  nm_plot_kind kind;
  int width, height;     /* px; 0 = automatic where the kind sizes itself */
  double dpi;            /* 100 */
  double font_size;      /* pt, 10 */
  char title[256];       /* "" = the figure's default title */
  char xlabel[128], ylabel[128], zlabel[128];
  int legend;            /* 1: draw the group legend */
  /* hist */
  int bins;              /* 0 = Freedman–Diaconis, clamped to 5..60 */
  int fit;               /* 1: normal curve per group */
  /* scatter3d */
  double azimuth, elevation; /* degrees, -37.5 and 30 (MATLAB's default view) */
  double point_size;     /* pt, 3 */
  /* parallel, scatter3d, hist, overlay */
  double alpha;          /* 0..1; -1 = automatic */
  /* parallel, pareto */
  char **names;          /* axis / variable names (JSON array or comma list) */
  int n_names;
  /* pareto */
  int max_components;    /* 10 */
  /* dendrogram, linkage */
  int leaves;            /* 30: the tree is shown down to this many clusters */
  int k;                 /* 0: no colouring; else branches of k clusters coloured */
  char linkage[16];      /* linkage: "ward" (default), "average", "complete", "single" */
  int standardize;       /* linkage: 1 = z-score the columns first */
  /* confusion */
  int normalize;         /* 1: cell colour is the row fraction (recall) */
  /* montage, montage_all */
  int cell;              /* px per particle tile: 48 (montage), 24 (all) */
  int per_group;         /* 210 (montage), 0 = every particle (all) */
  int columns;           /* tiles per row: 15 (montage), 40 (all) */
  int invert;            /* 0: tiles shown as stored */
  /* overlay */
  double line_width;     /* pt, 1.5 */
  int fill;              /* 1: fill each particle's mask (or box) translucent */
  int labels;            /* 1: group name next to each box */
} nm_plot_opts;

void nm_plot_opts_init(nm_plot_opts *o, nm_plot_kind kind);
/* Error "option 'x' is unknown (<kind> takes: a, b, ...)" for keys this kind
** does not take; range errors name the key. num is NAN for text values. */
nm_status nm_plot_opt_set(void *opts, const char *key, double num,
                          const char *text, nm_error *err);
void nm_plot_opts_free(nm_plot_opts *o);
/* "hist_png", "scatter3d_png", ... — the SQL name of a kind, for messages. */
const char *nm_plot_kind_name(nm_plot_kind kind);

/* Groups: n groups, each with a legend name and a palette slot (>= 0). */
typedef struct nm_plot_groups {
  int n;
  const char *const *names;
  const int *slot;       /* NULL: group i uses slot i */
} nm_plot_groups;

/* The palette colour of a slot as 0..1 RGB (slot mod 8). */
void nm_plot_palette(int slot, double rgb[3]);

/*
** Histogram of x (n values, group index grp[i] in 0..groups->n-1; grp may be
** NULL = one group) with one translucent histogram and one fitted normal
** curve (sample mean and SD, scaled to counts) per group.
*/
nm_status nm_plot_hist(const double *x, const int *grp, size_t n,
                       const nm_plot_groups *groups, const nm_plot_opts *o,
                       unsigned char **png, size_t *png_n, nm_error *err);

/*
** 3D scatter of xyz (n rows of 3: p, d, Lratio). Each axis is scaled to its
** rounded data range, the unit cube is rotated by azimuth about the vertical
** axis and tilted by elevation, then projected orthographically:
**   sx = X cos(az) − Y sin(az)
**   sy = −(X sin(az) + Y cos(az)) sin(el) − Z cos(el)      (screen y down)
** with X, Y, Z the unit-cube coordinates centred on 0 (x = p, y = d,
** z = Lratio); points are painted back to front.
*/
nm_status nm_plot_scatter3d(const double *xyz, const int *grp, size_t n,
                            const nm_plot_groups *groups, const nm_plot_opts *o,
                            unsigned char **png, size_t *png_n, nm_error *err);

/* Parallel coordinates: x is n rows × m columns (row-major), each column on
** its own vertical axis scaled to its range; one line per row, group colour. */
nm_status nm_plot_parallel(const double *x, size_t n, int m, const int *grp,
                           const nm_plot_groups *groups, const nm_plot_opts *o,
                           unsigned char **png, size_t *png_n, nm_error *err);

/* Principal components of the z-scored columns of x (n × m): eigenvalues of
** the correlation matrix (ext/pca.h: cblas_dsyrk + LAPACKE_dsyevd). explained (m values, may be NULL)
** receives the fraction of variance per component, largest first. Constant
** columns contribute nothing. Needs n >= 2, m >= 1. */
nm_status nm_plot_pca_explained(const double *x, size_t n, int m,
                                double *explained, nm_error *err);
/* Pareto chart: bars = % variance per component, line = cumulative %. */
nm_status nm_plot_pareto(const double *x, size_t n, int m,
                         const nm_plot_opts *o, unsigned char **png,
                         size_t *png_n, nm_error *err);

/*
** Dendrogram of a linkage in SciPy's layout: n_leaves−1 rows of
** (a, b, distance, count), leaves are 0..n_leaves−1 and row i creates cluster
** n_leaves+i. Validated (ids in range, each merged once, counts add up,
** distances finite and >= 0). Shows the top `leaves` clusters.
*/
nm_status nm_plot_dendrogram(const double *z, size_t n_leaves,
                             const nm_plot_opts *o, unsigned char **png,
                             size_t *png_n, nm_error *err);

/* Dendrogram of the rows of x (n × d): z-scored (o->standardize), linked
** with ext/linkage.h's o->linkage method (at most NM_LINKAGE_MAX_ROWS rows for
** ward/average/complete), drawn as nm_plot_dendrogram. */
nm_status nm_plot_linkage(const double *x, size_t n, int d, const nm_plot_opts *o,
                          const nm_progress *progress, unsigned char **png,
                          size_t *png_n, nm_error *err);

/* Confusion matrix: counts is k×k row-major, rows = true class, columns =
** predicted; labels has k names. */
nm_status nm_plot_confusion(const double *counts, int k,
                            const char *const *labels, const nm_plot_opts *o,
                            unsigned char **png, size_t *png_n, nm_error *err);

/*
** Montage tiles: one particle picture resampled into a cell×cell gray square
** (aspect kept, centred, padded with the picture's border value).
** nm_plot_tile_make scales by the image's bit depth (floats: min–max).
*/
nm_status nm_plot_tile_make(const nm_image *img, int cell, uint8_t *out,
                            nm_error *err);

/* tiles[i]: particle i as o->cell² bytes (NULL: counted, drawn as a blank
** cell), in group grp[i]. Groups are drawn in order, each with a header
** (name, count, share); the first per_group particles of a group are shown
** (0 = all). NM_PLOT_MONTAGE_ALL adds a bar of the population shares. */
nm_status nm_plot_montage(const uint8_t *const *tiles, const int *grp, size_t n,
                          const nm_plot_groups *groups, const nm_plot_opts *o,
                          unsigned char **png, size_t *png_n, nm_error *err);

/* One particle on the micrograph: bounding box in image pixels (x, y = top
** left pixel edge), its group and optionally its mask (mask_w × mask_h bytes,
** nonzero = particle, stretched over the box). */
typedef struct nm_plot_box {
  double x, y, w, h;
  int grp;
  const uint8_t *mask;
  int mask_w, mask_h;
} nm_plot_box;

/* The micrograph (contrast-stretched 0.5–99.5 %) with each particle's mask
** filled translucent and its box outlined in its group's colour, plus a
** legend strip under the image. Output is the image size unless width /
** height ask for a smaller or larger one (aspect kept). */
nm_status nm_plot_overlay(const nm_image *img, const nm_plot_box *boxes,
                          size_t n, const nm_plot_groups *groups,
                          const nm_plot_opts *o, unsigned char **png,
                          size_t *png_n, nm_error *err);

#endif /* NM_PLOT_H */
