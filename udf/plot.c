/*
** plot.c — the figures as SQL functions returning PNG BLOBs (ext/plot.h draws).
**
**   SELECT writefile('out/hist_area.png',
**                    hist_png(area, grp, '{"xlabel":"area (px)"}')) FROM particle JOIN grp USING (pid);
**   SELECT writefile('out/pdl.png', scatter3d_png(p, d, lratio, grp)) FROM ...;
**   SELECT parallel_png('{"names":["p","d","Lratio"]}', grp, p, d, lratio) FROM ...;
**   SELECT pareto_png('{"names":["p","d","Lratio","area"]}', p, d, lratio, area) FROM ...;
**   SELECT dendrogram_png('[[0,1,0.5,2],[2,3,1.5,3]]', '{"k":2}');  -- a merge table
**   SELECT linkage_png('{"linkage":"ward","k":4}', p, d, lratio, area) FROM ...; -- rows → tree
**   SELECT confusion_png(true_grp, predicted_grp) FROM ...;       -- aggregate
**   SELECT confusion_json_png('[[40,2],[3,50]]');                   -- a matrix as JSON
**   SELECT montage_png(grp, crop) FROM ...;   montage_all_png(grp, crop)
**   SELECT overlay_png(path, grp, bbox_x, bbox_y, bbox_w, bbox_h, mask) FROM ... GROUP BY path;
**
** Aggregates: a row whose numeric arguments are NULL is skipped (as SQL
** aggregates skip NULLs); a NULL group is a group of its own named "none";
** text or BLOB where a number belongs is an error. Groups: integer values
** sort numerically and use palette slot (value mod 8), so group 3 has the same
** colour in every figure; text values sort as text after the integers. The
** options argument (JSON object text, validated by ext/plot.c) is read from
** the first row. overlay_png reads files, so it is DIRECTONLY; the others are
** pure.
*/
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/plot.h"
#include "bind.h"
#include "register.h"

/* ------------------------------------------------------------ group keys */

typedef struct gkey {
  int is_int; /* 1 integer, 0 text, -1 NULL */
  sqlite3_int64 i;
  char *text;
} gkey;

typedef struct agg {
  int ready, failed;
  nm_plot_kind kind;
  nm_plot_opts opts;
  int ncol;                /* numbers per row */
  size_t n, cap;
  double *x;               /* n × ncol */
  int *grp;                /* key index per row (remapped in final) */
  int *grp2;               /* confusion: predicted key index */
  gkey *keys;
  int nkeys;
  uint8_t **tiles;         /* montage */
  size_t *per_key;         /* montage: rows seen per key */
  int per_key_n;
  uint8_t **masks;         /* overlay */
  int *mask_w, *mask_h;
  sqlite3_value *image;    /* overlay: the first row's image argument */
} agg;

static void agg_free(agg *a) {
  if (!a->ready) return;
  nm_plot_opts_free(&a->opts);
  free(a->x);
  free(a->grp);
  free(a->grp2);
  for (int k = 0; k < a->nkeys; k++) free(a->keys[k].text);
  free(a->keys);
  if (a->tiles)
    for (size_t i = 0; i < a->n; i++) free(a->tiles[i]);
  free(a->tiles);
  free(a->per_key);
  if (a->masks)
    for (size_t i = 0; i < a->n; i++) free(a->masks[i]);
  free(a->masks);
  free(a->mask_w);
  free(a->mask_h);
  sqlite3_value_free(a->image);
  a->ready = 0;
}

/* Index of the group key of v, added if new; -1 on out of memory / bad type. */
static int key_of(agg *a, sqlite3_value *v, sqlite3_context *ctx, const char *fname) {
  int t = sqlite3_value_type(v);
  gkey k = {-1, 0, NULL};
  if (t == SQLITE_INTEGER) k.is_int = 1, k.i = sqlite3_value_int64(v);
  else if (t == SQLITE_FLOAT) {
    double d = sqlite3_value_double(v);
    if (d != floor(d) || fabs(d) > 9e15) {
      nm_bind_errorf(ctx, fname, "group must be an integer or a text, got %g", d);
      return -1;
    }
    k.is_int = 1, k.i = (sqlite3_int64)d;
  } else if (t == SQLITE_TEXT) k.is_int = 0;
  else if (t == SQLITE_BLOB) {
    nm_bind_errorf(ctx, fname, "group must be an integer or a text, not a BLOB");
    return -1;
  }
  const char *text = k.is_int == 0 ? (const char *)sqlite3_value_text(v) : NULL;
  for (int i = 0; i < a->nkeys; i++) {
    gkey *g = &a->keys[i];
    if (g->is_int != k.is_int) continue;
    if (k.is_int == 1 && g->i == k.i) return i;
    if (k.is_int == -1) return i;
    if (k.is_int == 0 && text && !strcmp(g->text, text)) return i;
  }
  if (a->nkeys >= 1000) {
    nm_bind_errorf(ctx, fname, "more than 1000 distinct groups");
    return -1;
  }
  gkey *grown = realloc(a->keys, sizeof *grown * (size_t)(a->nkeys + 1));
  if (!grown) return sqlite3_result_error_nomem(ctx), -1;
  a->keys = grown;
  if (text && !(k.text = strdup(text))) return sqlite3_result_error_nomem(ctx), -1;
  a->keys[a->nkeys] = k;
  return a->nkeys++;
}

static int cmp_key(const gkey *x, const gkey *y) {
  int rx = x->is_int == 1 ? 0 : x->is_int == 0 ? 1 : 2, ry = y->is_int == 1 ? 0 : y->is_int == 0 ? 1 : 2;
  if (rx != ry) return rx - ry;
  if (rx == 0) return (x->i > y->i) - (x->i < y->i);
  if (rx == 1) return strcmp(x->text, y->text);
  return 0;
}

/* Sorted groups: names, slots and the old→new index map. */
typedef struct groups_out {
  nm_plot_groups g;
  char **names;
  int *slot;
  int *remap;
} groups_out;

static void groups_free(groups_out *o) {
  if (o->names)
    for (int i = 0; i < o->g.n; i++) free(o->names[i]);
  free(o->names);
  free(o->slot);
  free(o->remap);
}

static int groups_build(agg *a, groups_out *out) {
  memset(out, 0, sizeof *out);
  int K = a->nkeys;
  int *order = malloc(sizeof *order * (size_t)(K ? K : 1));
  out->names = calloc((size_t)(K ? K : 1), sizeof *out->names);
  out->slot = malloc(sizeof *out->slot * (size_t)(K ? K : 1));
  out->remap = malloc(sizeof *out->remap * (size_t)(K ? K : 1));
  if (!order || !out->names || !out->slot || !out->remap) {
    free(order);
    return 0;
  }
  for (int i = 0; i < K; i++) order[i] = i;
  for (int i = 1; i < K; i++) /* insertion sort: few groups */
    for (int j = i; j > 0 && cmp_key(&a->keys[order[j - 1]], &a->keys[order[j]]) > 0; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  int text_slot = 0;
  for (int r = 0; r < K; r++) {
    const gkey *k = &a->keys[order[r]];
    out->remap[order[r]] = r;
    char buf[32];
    if (k->is_int == 1) {
      sqlite3_snprintf(sizeof buf, buf, "%lld", k->i);
      out->slot[r] = (int)(((k->i % NM_PLOT_PALETTE_SIZE) + NM_PLOT_PALETTE_SIZE) % NM_PLOT_PALETTE_SIZE);
    } else {
      out->slot[r] = text_slot++;
    }
    out->names[r] = strdup(k->is_int == 1 ? buf : k->is_int == 0 ? k->text : "none");
    if (!out->names[r]) {
      free(order);
      return 0;
    }
  }
  free(order);
  out->g.n = K;
  out->g.names = (const char *const *)out->names;
  out->g.slot = out->slot;
  return 1;
}

/* ------------------------------------------------------------ collecting */

static agg *agg_get(sqlite3_context *ctx, nm_plot_kind kind, sqlite3_value *options, int ncol) {
  agg *a = sqlite3_aggregate_context(ctx, sizeof *a);
  if (!a) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  if (a->failed) return NULL;
  if (!a->ready) {
    a->ready = 1;
    a->kind = kind;
    a->ncol = ncol;
    nm_plot_opts_init(&a->opts, kind);
    nm_error err = {0};
    if (nm_bind_options(sqlite3_context_db_handle(ctx), options, nm_plot_kind_name(kind),
                        nm_plot_opt_set, &a->opts, &err) != NM_OK) {
      nm_bind_error(ctx, nm_plot_kind_name(kind), &err);
      a->failed = 1;
      return NULL;
    }
  }
  return a;
}

static int grow(agg *a, sqlite3_context *ctx) {
  if (a->n < a->cap) return 1;
  size_t cap = a->cap ? 2 * a->cap : 256;
  double *x = realloc(a->x, sizeof *x * cap * (size_t)(a->ncol ? a->ncol : 1));
  if (x) a->x = x;
  int *g = realloc(a->grp, sizeof *g * cap);
  if (g) a->grp = g;
  int ok = x && g;
  if (ok && a->kind == NM_PLOT_CONFUSION) {
    int *g2 = realloc(a->grp2, sizeof *g2 * cap);
    if (g2) a->grp2 = g2;
    ok = g2 != NULL;
  }
  if (ok && (a->kind == NM_PLOT_MONTAGE || a->kind == NM_PLOT_MONTAGE_ALL)) {
    uint8_t **t = realloc(a->tiles, sizeof *t * cap);
    if (t) a->tiles = t;
    ok = t != NULL;
  }
  if (ok && a->kind == NM_PLOT_OVERLAY) {
    uint8_t **m = realloc(a->masks, sizeof *m * cap);
    if (m) a->masks = m;
    int *mw = m ? realloc(a->mask_w, sizeof *mw * cap) : NULL;
    if (mw) a->mask_w = mw;
    int *mh = mw ? realloc(a->mask_h, sizeof *mh * cap) : NULL;
    if (mh) a->mask_h = mh;
    ok = m && mw && mh;
  }
  if (!ok) {
    sqlite3_result_error_nomem(ctx);
    a->failed = 1;
    return 0;
  }
  a->cap = cap;
  return 1;
}

/* Reads ncol numbers from argv; 0 = a NULL among them (skip the row),
** -1 = error reported. */
static int read_numbers(agg *a, sqlite3_context *ctx, sqlite3_value **argv, int count,
                        double *dst) {
  const char *fname = nm_plot_kind_name(a->kind);
  for (int j = 0; j < count; j++) {
    int t = sqlite3_value_type(argv[j]);
    if (t == SQLITE_NULL) return 0;
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
      nm_bind_errorf(ctx, fname, "value %d must be a number, got %s", j + 1,
                     t == SQLITE_TEXT ? "a text" : "a BLOB");
      a->failed = 1;
      return -1;
    }
    dst[j] = sqlite3_value_double(argv[j]);
    if (!isfinite(dst[j])) {
      nm_bind_errorf(ctx, fname, "value %d is not finite", j + 1);
      a->failed = 1;
      return -1;
    }
  }
  return 1;
}

/* One row of numbers + group (grp may be NULL for ungrouped figures). */
static void step_numbers(sqlite3_context *ctx, nm_plot_kind kind, sqlite3_value *options,
                         sqlite3_value *grp, sqlite3_value **nums, int ncol) {
  agg *a = agg_get(ctx, kind, options, ncol);
  if (!a) return;
  if (a->ncol != ncol) {
    nm_bind_errorf(ctx, nm_plot_kind_name(kind), "every row must have the same number of values");
    a->failed = 1;
    return;
  }
  if (!grow(a, ctx)) return;
  int r = read_numbers(a, ctx, nums, ncol, a->x + a->n * (size_t)ncol);
  if (r <= 0) return;
  int k = grp ? key_of(a, grp, ctx, nm_plot_kind_name(kind)) : 0;
  if (k < 0) {
    a->failed = 1;
    return;
  }
  if (!grp && a->nkeys == 0) {
    a->keys = calloc(1, sizeof *a->keys);
    if (!a->keys) {
      sqlite3_result_error_nomem(ctx);
      a->failed = 1;
      return;
    }
    a->keys[0].is_int = 0;
    a->keys[0].text = strdup("all");
    a->nkeys = 1;
    if (!a->keys[0].text) {
      sqlite3_result_error_nomem(ctx);
      a->failed = 1;
      return;
    }
  }
  a->grp[a->n++] = k;
}

static void result_png(sqlite3_context *ctx, nm_status st, unsigned char *png, size_t n,
                       const char *fname, const nm_error *err) {
  if (st != NM_OK) {
    free(png);
    nm_bind_error(ctx, fname, err);
    return;
  }
  sqlite3_result_blob64(ctx, png, n, free);
}

/* Final: nothing collected → NULL (as SQL aggregates over no rows). */
static agg *agg_final_get(sqlite3_context *ctx) {
  agg *a = sqlite3_aggregate_context(ctx, 0);
  if (!a || !a->ready) {
    sqlite3_result_null(ctx);
    return NULL;
  }
  if (a->failed) {
    agg_free(a);
    return NULL;
  }
  if (a->n == 0) {
    sqlite3_result_null(ctx);
    agg_free(a);
    return NULL;
  }
  return a;
}

static void final_grouped(sqlite3_context *ctx) {
  agg *a = agg_final_get(ctx);
  if (!a) return;
  const char *fname = nm_plot_kind_name(a->kind);
  groups_out go;
  nm_error err = {0};
  unsigned char *png = NULL;
  size_t pn = 0;
  nm_status st = NM_OK;
  if (!groups_build(a, &go)) {
    groups_free(&go);
    agg_free(a);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  for (size_t i = 0; i < a->n; i++) a->grp[i] = go.remap[a->grp[i]];
  switch (a->kind) {
    case NM_PLOT_HIST:
      st = nm_plot_hist(a->x, a->grp, a->n, &go.g, &a->opts, &png, &pn, &err);
      break;
    case NM_PLOT_SCATTER3D:
      st = nm_plot_scatter3d(a->x, a->grp, a->n, &go.g, &a->opts, &png, &pn, &err);
      break;
    case NM_PLOT_PARALLEL:
      st = nm_plot_parallel(a->x, a->n, a->ncol, a->grp, &go.g, &a->opts, &png, &pn, &err);
      break;
    case NM_PLOT_PARETO:
      st = nm_plot_pareto(a->x, a->n, a->ncol, &a->opts, &png, &pn, &err);
      break;
    case NM_PLOT_LINKAGE: {
      nm_bind_progress bp;
      nm_bind_progress_begin(&bp, sqlite3_context_db_handle(ctx), "linkage_png");
      st = nm_plot_linkage(a->x, a->n, a->ncol, &a->opts, &bp.progress, &png, &pn, &err);
      nm_bind_progress_end(&bp);
      break;
    }
    case NM_PLOT_MONTAGE:
    case NM_PLOT_MONTAGE_ALL:
      st = nm_plot_montage((const uint8_t *const *)a->tiles, a->grp, a->n, &go.g, &a->opts, &png,
                           &pn, &err);
      break;
    default:
      st = nm_fail(&err, NM_ERR_ARG, "internal: not a grouped figure");
  }
  result_png(ctx, st, png, pn, fname, &err);
  groups_free(&go);
  agg_free(a);
}

/* ------------------------------------------------------------ the figures */

static void hist_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  step_numbers(ctx, NM_PLOT_HIST, argc > 2 ? argv[2] : NULL, argv[1], argv, 1);
}

static void scatter3d_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  step_numbers(ctx, NM_PLOT_SCATTER3D, argc > 4 ? argv[4] : NULL, argv[3], argv, 3);
}

static void parallel_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 4) {
    nm_bind_errorf(ctx, "parallel_png", "needs (options, grp, x1, x2, ...): at least 2 variables");
    return;
  }
  step_numbers(ctx, NM_PLOT_PARALLEL, argv[0], argv[1], argv + 2, argc - 2);
}

static void pareto_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 3) {
    nm_bind_errorf(ctx, "pareto_png", "needs (options, x1, x2, ...): at least 2 variables");
    return;
  }
  step_numbers(ctx, NM_PLOT_PARETO, argv[0], NULL, argv + 1, argc - 1);
}

static void linkage_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc < 2) {
    nm_bind_errorf(ctx, "linkage_png", "needs (options, x1, ...): at least 1 variable");
    return;
  }
  step_numbers(ctx, NM_PLOT_LINKAGE, argv[0], NULL, argv + 1, argc - 1);
}

/* confusion_png(actual, predicted [, options]) */
static void confusion_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  agg *a = agg_get(ctx, NM_PLOT_CONFUSION, argc > 2 ? argv[2] : NULL, 0);
  if (!a) return;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return;
  if (!grow(a, ctx)) return;
  int k1 = key_of(a, argv[0], ctx, "confusion_png");
  int k2 = k1 < 0 ? -1 : key_of(a, argv[1], ctx, "confusion_png");
  if (k1 < 0 || k2 < 0) {
    a->failed = 1;
    return;
  }
  a->grp[a->n] = k1;
  a->grp2[a->n++] = k2;
}

static void confusion_final(sqlite3_context *ctx) {
  agg *a = agg_final_get(ctx);
  if (!a) return;
  groups_out go;
  if (!groups_build(a, &go)) {
    groups_free(&go);
    agg_free(a);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  int K = go.g.n;
  nm_error err = {0};
  unsigned char *png = NULL;
  size_t pn = 0;
  nm_status st;
  double *cm = calloc((size_t)K * (size_t)K, sizeof *cm);
  if (!cm) {
    st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
  } else {
    for (size_t i = 0; i < a->n; i++) cm[go.remap[a->grp[i]] * K + go.remap[a->grp2[i]]] += 1;
    st = nm_plot_confusion(cm, K, go.g.names, &a->opts, &png, &pn, &err);
  }
  result_png(ctx, st, png, pn, "confusion_png", &err);
  free(cm);
  groups_free(&go);
  agg_free(a);
}

/* montage_png / montage_all_png (grp, picture [, options]) */
static void montage_step_kind(sqlite3_context *ctx, int argc, sqlite3_value **argv,
                              nm_plot_kind kind) {
  const char *fname = nm_plot_kind_name(kind);
  agg *a = agg_get(ctx, kind, argc > 2 ? argv[2] : NULL, 0);
  if (!a) return;
  int t = sqlite3_value_type(argv[1]);
  if (t == SQLITE_NULL) return;
  if (t != SQLITE_BLOB) {
    nm_bind_errorf(ctx, fname, "picture must be an image BLOB (a crop or mask PNG)");
    a->failed = 1;
    return;
  }
  if (!grow(a, ctx)) return;
  int k = key_of(a, argv[0], ctx, fname);
  if (k < 0) {
    a->failed = 1;
    return;
  }
  if (k >= a->per_key_n) { /* a new group: its count starts at 0 */
    size_t *pk = realloc(a->per_key, sizeof *pk * (size_t)a->nkeys);
    if (!pk) {
      sqlite3_result_error_nomem(ctx);
      a->failed = 1;
      return;
    }
    a->per_key = pk;
    for (int i = a->per_key_n; i < a->nkeys; i++) pk[i] = 0;
    a->per_key_n = a->nkeys;
  }
  size_t seen = a->per_key[k]++;
  /* Only pictures that will be shown are decoded and kept (per_group cap). */
  uint8_t *tile = NULL;
  if (a->opts.per_group == 0 || seen < (size_t)a->opts.per_group) {
    nm_image img = {0};
    nm_error err = {0};
    nm_read_opts ro;
    nm_read_opts_default(&ro);
    ro.max_pixels = (uint64_t)1 << 24;
    nm_status st = nm_bind_read_image(argv[1], fname, &ro, &img, &err);
    if (st == NM_OK) {
      tile = malloc((size_t)a->opts.cell * (size_t)a->opts.cell);
      st = tile ? nm_plot_tile_make(&img, a->opts.cell, tile, &err)
                : nm_fail(&err, NM_ERR_NOMEM, "out of memory");
    }
    nm_image_free(&img);
    if (st != NM_OK) {
      free(tile);
      nm_bind_error(ctx, fname, &err);
      a->failed = 1;
      return;
    }
  }
  a->tiles[a->n] = tile;
  a->grp[a->n++] = k;
}

static void montage_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  montage_step_kind(ctx, argc, argv, NM_PLOT_MONTAGE);
}

static void montage_all_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  montage_step_kind(ctx, argc, argv, NM_PLOT_MONTAGE_ALL);
}

/* overlay_png(image, grp, x, y, w, h [, mask [, options]]) */
static void overlay_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  agg *a = agg_get(ctx, NM_PLOT_OVERLAY, argc > 7 ? argv[7] : NULL, 4);
  if (!a) return;
  if (!a->image) {
    a->image = sqlite3_value_dup(argv[0]);
    if (!a->image) {
      sqlite3_result_error_nomem(ctx);
      a->failed = 1;
      return;
    }
  } else if (sqlite3_value_type(argv[0]) != sqlite3_value_type(a->image) ||
             sqlite3_value_bytes(argv[0]) != sqlite3_value_bytes(a->image) ||
             (sqlite3_value_type(argv[0]) == SQLITE_TEXT &&
              strcmp((const char *)sqlite3_value_text(argv[0]),
                     (const char *)sqlite3_value_text(a->image)) != 0)) {
    nm_bind_errorf(ctx, "overlay_png", "every row must name the same image (GROUP BY the image)");
    a->failed = 1;
    return;
  }
  if (!grow(a, ctx)) return;
  int r = read_numbers(a, ctx, argv + 2, 4, a->x + a->n * 4);
  if (r <= 0) return;
  int k = key_of(a, argv[1], ctx, "overlay_png");
  if (k < 0) {
    a->failed = 1;
    return;
  }
  uint8_t *mask = NULL;
  int mw = 0, mh = 0;
  if (argc > 6 && sqlite3_value_type(argv[6]) != SQLITE_NULL) {
    nm_image img = {0};
    nm_error err = {0};
    nm_read_opts ro;
    nm_read_opts_default(&ro);
    ro.max_pixels = (uint64_t)1 << 24;
    nm_status st = sqlite3_value_type(argv[6]) == SQLITE_BLOB
                       ? nm_bind_read_image(argv[6], "overlay_png", &ro, &img, &err)
                       : nm_fail(&err, NM_ERR_ARG, "mask must be an image BLOB or NULL");
    if (st == NM_OK) {
      size_t np = (size_t)img.width * (size_t)img.height;
      mask = malloc(np);
      if (!mask) st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
      else
        for (size_t i = 0; i < np; i++) mask[i] = img.px[i] > 0;
      mw = img.width, mh = img.height;
    }
    nm_image_free(&img);
    if (st != NM_OK) {
      nm_bind_error(ctx, "overlay_png", &err);
      a->failed = 1;
      return;
    }
  }
  a->masks[a->n] = mask;
  a->mask_w[a->n] = mw;
  a->mask_h[a->n] = mh;
  a->grp[a->n++] = k;
}

static void overlay_final(sqlite3_context *ctx) {
  agg *a = agg_final_get(ctx);
  if (!a) return;
  groups_out go;
  nm_error err = {0};
  unsigned char *png = NULL;
  size_t pn = 0;
  nm_status st = NM_OK;
  nm_image img = {0};
  nm_plot_box *boxes = calloc(a->n, sizeof *boxes);
  if (!groups_build(a, &go) || !boxes) {
    st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
  } else {
    for (size_t i = 0; i < a->n; i++) {
      nm_plot_box *b = &boxes[i];
      b->x = a->x[4 * i], b->y = a->x[4 * i + 1], b->w = a->x[4 * i + 2], b->h = a->x[4 * i + 3];
      b->grp = go.remap[a->grp[i]];
      b->mask = a->masks[i], b->mask_w = a->mask_w[i], b->mask_h = a->mask_h[i];
    }
    nm_read_opts ro;
    nm_read_opts_default(&ro);
    st = nm_bind_read_image(a->image, "overlay_png", &ro, &img, &err);
    if (st == NM_OK) st = nm_plot_overlay(&img, boxes, a->n, &go.g, &a->opts, &png, &pn, &err);
  }
  result_png(ctx, st, png, pn, "overlay_png", &err);
  nm_image_free(&img);
  free(boxes);
  groups_free(&go);
  agg_free(a);
}

/* ------------------------------------------------------------ scalars */

/* dendrogram_png(linkage_json [, options]): rows [a, b, distance, size] or
** objects {"a","b","height"|"distance","size"} (ext/linkage.h's nm_merge). */
static void dendrogram_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fname = "dendrogram_png";
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    nm_bind_errorf(ctx, fname, "linkage must be a JSON array text of merges [a, b, distance, size]");
    return;
  }
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_DENDROGRAM);
  nm_error err = {0};
  cJSON *root = NULL;
  double *z = NULL;
  unsigned char *png = NULL;
  size_t pn = 0;
  nm_status st = nm_bind_options(sqlite3_context_db_handle(ctx), argc > 1 ? argv[1] : NULL, fname,
                                 nm_plot_opt_set, &o, &err);
  if (st == NM_OK) {
    root = cJSON_Parse((const char *)sqlite3_value_text(argv[0]));
    if (!root || !cJSON_IsArray(root) || cJSON_GetArraySize(root) < 1)
      st = nm_fail(&err, NM_ERR_ARG, "linkage must be a non-empty JSON array of merges");
  }
  size_t m = st == NM_OK ? (size_t)cJSON_GetArraySize(root) : 0;
  if (st == NM_OK && !(z = calloc(4 * m, sizeof *z))) st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
  size_t i = 0;
  const cJSON *row = NULL;
  if (st == NM_OK) cJSON_ArrayForEach(row, root) {
      static const char *const names[4][2] = {{"a", "a"}, {"b", "b"}, {"height", "distance"}, {"size", "count"}};
      for (int k = 0; k < 4 && st == NM_OK; k++) {
        const cJSON *v = cJSON_IsArray(row) ? cJSON_GetArrayItem(row, k)
                         : cJSON_IsObject(row)
                             ? (cJSON_GetObjectItemCaseSensitive(row, names[k][0])
                                    ? cJSON_GetObjectItemCaseSensitive(row, names[k][0])
                                    : cJSON_GetObjectItemCaseSensitive(row, names[k][1]))
                             : NULL;
        if (!cJSON_IsNumber(v))
          st = nm_fail(&err, NM_ERR_ARG, "merge %zu: needs 4 numbers [a, b, distance, size]", i);
        else
          z[4 * i + k] = v->valuedouble;
      }
      if (st != NM_OK) break;
      i++;
    }
  if (st == NM_OK) st = nm_plot_dendrogram(z, m + 1, &o, &png, &pn, &err);
  result_png(ctx, st, png, pn, fname, &err);
  cJSON_Delete(root);
  free(z);
  nm_plot_opts_free(&o);
}

/* confusion_json_png(matrix_json [, options]): [[...],...] rows = true class,
** or {"labels":[...], "matrix":[[...]]}; "confusion" and "classes" are read
** too, so svm_report()'s JSON can be passed as it is. */
static void confusion_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fname = "confusion_json_png";
  nm_plot_opts o;
  nm_plot_opts_init(&o, NM_PLOT_CONFUSION);
  nm_error err = {0};
  cJSON *root = NULL;
  double *cm = NULL;
  char **labels = NULL;
  int k = 0;
  unsigned char *png = NULL;
  size_t pn = 0;
  nm_status st = nm_bind_options(sqlite3_context_db_handle(ctx), argc > 1 ? argv[1] : NULL, fname,
                                 nm_plot_opt_set, &o, &err);
  const cJSON *mat = NULL, *lab = NULL;
  if (st == NM_OK) {
    root = sqlite3_value_type(argv[0]) == SQLITE_TEXT
               ? cJSON_Parse((const char *)sqlite3_value_text(argv[0]))
               : NULL;
    mat = root;
    if (cJSON_IsObject(root)) {
      mat = cJSON_GetObjectItemCaseSensitive(root, "matrix");
      if (!mat) mat = cJSON_GetObjectItemCaseSensitive(root, "confusion");
      lab = cJSON_GetObjectItemCaseSensitive(root, "labels");
      if (!lab) lab = cJSON_GetObjectItemCaseSensitive(root, "classes");
    }
    if (!cJSON_IsArray(mat) || (k = cJSON_GetArraySize(mat)) < 1 || k > 200)
      st = nm_fail(&err, NM_ERR_ARG, "expected a square JSON matrix [[...], ...] of 1..200 rows");
  }
  if (st == NM_OK && (!(cm = calloc((size_t)k * k, sizeof *cm)) ||
                      !(labels = calloc((size_t)k, sizeof *labels))))
    st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < k && st == NM_OK; i++) {
    const cJSON *r = cJSON_GetArrayItem(mat, i);
    if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != k) {
      st = nm_fail(&err, NM_ERR_ARG, "row %d of the matrix must hold %d numbers", i + 1, k);
      break;
    }
    for (int j = 0; j < k; j++) {
      const cJSON *v = cJSON_GetArrayItem(r, j);
      if (!cJSON_IsNumber(v)) {
        st = nm_fail(&err, NM_ERR_ARG, "cell (%d, %d) is not a number", i + 1, j + 1);
        break;
      }
      cm[i * k + j] = v->valuedouble;
    }
    const cJSON *l = lab ? cJSON_GetArrayItem(lab, i) : NULL;
    char buf[32];
    if (cJSON_IsString(l)) labels[i] = strdup(l->valuestring);
    else if (cJSON_IsNumber(l)) sqlite3_snprintf(sizeof buf, buf, "%g", l->valuedouble), labels[i] = strdup(buf);
    else sqlite3_snprintf(sizeof buf, buf, "%d", i), labels[i] = strdup(buf);
    if (!labels[i]) st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
  }
  if (st == NM_OK && lab && (!cJSON_IsArray(lab) || cJSON_GetArraySize(lab) != k))
    st = nm_fail(&err, NM_ERR_ARG, "'labels' / 'classes' must be an array of %d names", k);
  if (st == NM_OK) st = nm_plot_confusion(cm, k, (const char *const *)labels, &o, &png, &pn, &err);
  result_png(ctx, st, png, pn, fname, &err);
  for (int i = 0; labels && i < k; i++) free(labels[i]);
  free(labels);
  free(cm);
  cJSON_Delete(root);
  nm_plot_opts_free(&o);
}

/* ------------------------------------------------------------ registration */

typedef struct aggdef {
  const char *name;
  int nargs;
  int flags;
  void (*step)(sqlite3_context *, int, sqlite3_value **);
  void (*final)(sqlite3_context *);
} aggdef;

int nm_register_plot(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  static const aggdef aggs[] = {
      {"hist_png", 2, NM_PURE, hist_step, final_grouped},
      {"hist_png", 3, NM_PURE, hist_step, final_grouped},
      {"scatter3d_png", 4, NM_PURE, scatter3d_step, final_grouped},
      {"scatter3d_png", 5, NM_PURE, scatter3d_step, final_grouped},
      {"parallel_png", -1, NM_PURE, parallel_step, final_grouped},
      {"pareto_png", -1, NM_PURE, pareto_step, final_grouped},
      {"linkage_png", -1, NM_PURE, linkage_step, final_grouped},
      {"confusion_png", 2, NM_PURE, confusion_step, confusion_final},
      {"confusion_png", 3, NM_PURE, confusion_step, confusion_final},
      {"montage_png", 2, NM_PURE, montage_step, final_grouped},
      {"montage_png", 3, NM_PURE, montage_step, final_grouped},
      {"montage_all_png", 2, NM_PURE, montage_all_step, final_grouped},
      {"montage_all_png", 3, NM_PURE, montage_all_step, final_grouped},
      /* reads the micrograph from a path: DIRECTONLY */
      {"overlay_png", 6, NM_FILES, overlay_step, overlay_final},
      {"overlay_png", 7, NM_FILES, overlay_step, overlay_final},
      {"overlay_png", 8, NM_FILES, overlay_step, overlay_final},
  };
  for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++) {
    int rc = sqlite3_create_function(db, aggs[i].name, aggs[i].nargs, aggs[i].flags, NULL, NULL,
                                     aggs[i].step, aggs[i].final);
    if (rc != SQLITE_OK) return rc;
  }
  int rc = sqlite3_create_function(db, "dendrogram_png", 1, NM_PURE, NULL, dendrogram_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "dendrogram_png", 2, NM_PURE, NULL, dendrogram_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "confusion_json_png", 1, NM_PURE, NULL, confusion_json_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "confusion_json_png", 2, NM_PURE, NULL, confusion_json_func, NULL, NULL);
  return rc;
}
