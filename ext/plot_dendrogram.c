/*
** plot_dendrogram.c — the linkage tree as U-shaped links, like MATLAB's
** dendrogram(): with thousands of particles the tree is shown only down to
** its top `leaves` clusters (each shown leaf is labelled with its row id or
** its particle count "(n)"), and with k > 1 the links inside each of the k
** clusters of the cut are coloured (the links above the cut stay gray).
** Input: SciPy's linkage matrix, as ext/linkage.h produces it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkage.h"
#include "plot_canvas.h"

typedef struct tree {
  const double *z;
  size_t n;        /* leaves */
  size_t first;    /* merges with index >= first are drawn */
  double *x;       /* x position per node id (2n-1) */
  int *colour;     /* colour slot per node id, -1 gray */
  size_t next_leaf;
  size_t *stack;
} tree;

/* Node ids >= n + first are drawn merges; anything below is a shown leaf. */
static int is_drawn(const tree *t, size_t id) {
  return id >= t->n && id - t->n >= t->first;
}

/* Leaf x positions in dendrogram order (left child first), iteratively. */
static void layout(tree *t, size_t root) {
  size_t sp = 0;
  t->stack[sp++] = root;
  while (sp) {
    size_t id = t->stack[--sp];
    if (!is_drawn(t, id)) {
      t->x[id] = (double)t->next_leaf++;
      continue;
    }
    const double *row = t->z + 4 * (id - t->n);
    /* push right first so the left subtree is laid out first */
    t->stack[sp++] = (size_t)row[1];
    t->stack[sp++] = (size_t)row[0];
  }
  /* merges are ordered: children before parents, so x is ready */
  for (size_t s = t->first; s < t->n - 1; s++) {
    const double *row = t->z + 4 * s;
    t->x[t->n + s] = 0.5 * (t->x[(size_t)row[0]] + t->x[(size_t)row[1]]);
  }
}

static nm_status validate(const double *z, size_t n, double *count, nm_error *err) {
  char *used = calloc(2 * n, 1);
  if (!used) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) count[i] = 1;
  nm_status st = NM_OK;
  for (size_t s = 0; s + 1 < n && st == NM_OK; s++) {
    const double *row = z + 4 * s;
    for (int k = 0; k < 2; k++) {
      double id = row[k];
      if (!(id >= 0) || id != floor(id) || id >= (double)(n + s)) {
        st = nm_fail(err, NM_ERR_ARG,
                     "merge %zu: cluster id %g is not a leaf or an earlier merge (0..%zu)", s, id,
                     n + s - 1);
        break;
      }
      if (used[(size_t)id]) {
        st = nm_fail(err, NM_ERR_ARG, "merge %zu: cluster %g is merged twice", s, id);
        break;
      }
      used[(size_t)id] = 1;
    }
    if (st != NM_OK) break;
    if (row[0] == row[1]) st = nm_fail(err, NM_ERR_ARG, "merge %zu joins a cluster with itself", s);
    else if (!isfinite(row[2]) || row[2] < 0)
      st = nm_fail(err, NM_ERR_ARG, "merge %zu: distance must be finite and >= 0", s);
    else {
      count[n + s] = count[(size_t)row[0]] + count[(size_t)row[1]];
      if (fabs(row[3] - count[n + s]) > 0.5)
        st = nm_fail(err, NM_ERR_ARG, "merge %zu: size %g, but its clusters hold %g rows", s,
                     row[3], count[n + s]);
    }
  }
  free(used);
  return st;
}

nm_status nm_plot_dendrogram(const double *z, size_t n, const nm_plot_opts *o,
                             unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "a linkage needs at least 2 leaves (1 merge)");
  if (n > 100000000) return nm_fail(err, NM_ERR_TOOBIG, "linkage of %zu leaves is too large", n);
  tree t = {z, n, 0, NULL, NULL, 0, NULL};
  double *count = nm_calloc(2 * n, sizeof *count, err);
  t.x = nm_calloc(2 * n, sizeof *t.x, err);
  t.colour = nm_malloc(2 * n, sizeof *t.colour, err);
  t.stack = nm_malloc(2 * n, sizeof *t.stack, err);
  nm_canvas c = {0};
  nm_status st = (!count || !t.x || !t.colour || !t.stack) ? err->code : validate(z, n, count, err);
  if (st != NM_OK) goto done;
  /* at least k leaves, so that every cluster of the cut is on screen */
  size_t want = (size_t)(o->leaves > o->k ? o->leaves : o->k);
  size_t shown = want < n ? want : n;
  t.first = n - shown; /* the last shown-1 merges are drawn */
  layout(&t, 2 * n - 2);
  /* colour: the k clusters of the cut are the children of the last k-1 merges */
  for (size_t i = 0; i < 2 * n - 1; i++) t.colour[i] = -1;
  if (o->k > 1 && (size_t)o->k <= n) {
    size_t cut = n - (size_t)o->k; /* merges >= cut are above the cut */
    int next = 0;
    /* roots of the k clusters, in left-to-right order of their x */
    for (size_t s = 2 * n - 2; s >= n + cut; s--) {
      const double *row = z + 4 * (s - n);
      for (int k = 0; k < 2; k++) {
        size_t ch = (size_t)row[k];
        if (ch < n + cut) t.colour[ch] = 0; /* a cluster root: slot set below */
      }
      if (s == n + cut) break;
    }
    /* slots by x order so colours run left to right */
    for (;;) {
      double best = INFINITY;
      size_t bi = 0;
      for (size_t i = 0; i < 2 * n - 1; i++)
        if (t.colour[i] == 0 && t.x[i] < best) best = t.x[i], bi = i;
      if (!isfinite(best)) break;
      t.colour[bi] = 1000 + next++;
    }
    for (size_t i = 0; i < 2 * n - 1; i++)
      if (t.colour[i] >= 1000) t.colour[i] -= 1000;
    /* propagate down: a child of a coloured merge shares its colour */
    for (size_t s = n - 1; s-- > 0;) {
      int col = t.colour[n + s];
      if (col < 0) continue;
      t.colour[(size_t)z[4 * s]] = col;
      t.colour[(size_t)z[4 * s + 1]] = col;
    }
  }
  st = nm_canvas_open(&c, o->width, o->height, o, err);
  if (st != NM_OK) goto done;
  cairo_t *cr = c.cr;
  double f = c.font;
  double hmax = 0;
  for (size_t s = t.first; s < n - 1; s++) hmax = fmax(hmax, z[4 * s + 2]);
  nm_axis ay;
  nm_axis_nice(&ay, 0, hmax > 0 ? hmax : 1, 6, 1);
  ay.lo = 0;
  const char *title = nm_plot_title(o, "");
  char xdef[96];
  if (shown < n)
    snprintf(xdef, sizeof xdef, "clusters (top %zu of the tree of %zu rows; (n) = rows inside)",
             shown, n);
  else
    snprintf(xdef, sizeof xdef, "rows");
  const char *xl = nm_plot_label(o->xlabel, xdef);
  const char *yl = nm_plot_label(o->ylabel, "linkage distance");
  /* leaf labels are written vertically: reserve their height */
  double lab_h = 0;
  char buf[64];
  for (size_t s = t.first; s < n - 1; s++)
    for (int k = 0; k < 2; k++) {
      size_t ch = (size_t)z[4 * s + k];
      if (is_drawn(&t, ch)) continue;
      if (ch < n) snprintf(buf, sizeof buf, "%zu", ch);
      else snprintf(buf, sizeof buf, "(%.0f)", count[ch]);
      lab_h = fmax(lab_h, nm_canvas_text_w(&c, buf, 0.85 * f, 0));
    }
  nm_rect r = nm_canvas_plot_rect(&c, &ay, title, xl, yl, 0);
  r.h -= lab_h;
  nm_canvas_axes(&c, r, NULL, &ay, title, NULL, yl);
  nm_canvas_text(&c, r.x + r.w / 2, r.y + r.h + lab_h + 1.2 * f, xl, f, 0, 0.5, 0, 0);
  double dx = r.w / (double)shown;
  cairo_set_line_width(cr, fmax(1, 1.2 * c.pt));
  for (size_t s = t.first; s < n - 1; s++) {
    size_t id = n + s;
    double h = z[4 * s + 2];
    double py = nm_map(&ay, h, r.y + r.h, r.y);
    for (int k = 0; k < 2; k++) {
      size_t ch = (size_t)z[4 * s + k];
      double ch_h = is_drawn(&t, ch) ? z[4 * (ch - n) + 2] : 0;
      double cx = r.x + (t.x[ch] + 0.5) * dx;
      double cy = nm_map(&ay, ch_h, r.y + r.h, r.y);
      int col = t.colour[ch] >= 0 && t.colour[id] >= 0 ? t.colour[ch] : -1;
      if (col >= 0) nm_canvas_rgb(&c, col, 1);
      else cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
      cairo_move_to(cr, cx, cy);
      cairo_line_to(cr, cx, py);
      cairo_line_to(cr, r.x + (t.x[id] + 0.5) * dx, py);
      cairo_stroke(cr);
      if (!is_drawn(&t, ch)) {
        if (ch < n) snprintf(buf, sizeof buf, "%zu", ch);
        else snprintf(buf, sizeof buf, "(%.0f)", count[ch]);
        nm_canvas_text(&c, cx, r.y + r.h + 0.3 * f, buf, 0.85 * f, 0, 1, 0.5, M_PI / 2);
      }
    }
  }
  if (o->k > 1) {
    double cut_h = 0;
    size_t cut = n - (size_t)o->k;
    if ((size_t)o->k <= n && cut >= 1) cut_h = 0.5 * (z[4 * (cut - 1) + 2] + z[4 * cut + 2]);
    double py = nm_map(&ay, cut_h, r.y + r.h, r.y);
    double dash[2] = {4 * c.pt, 3 * c.pt};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_source_rgba(cr, 0.3, 0.3, 0.3, 0.8);
    cairo_set_line_width(cr, fmax(1, 0.7 * c.pt));
    cairo_move_to(cr, r.x, py);
    cairo_line_to(cr, r.x + r.w, py);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    snprintf(buf, sizeof buf, "cut: %d clusters", o->k);
    nm_canvas_text(&c, r.x + r.w - 0.3 * f, py - 0.2 * f, buf, 0.85 * f, 0, 1, 1, 0);
  }
  st = nm_canvas_png(&c, png, png_n, err);
done:
  nm_canvas_close(&c);
  free(count);
  free(t.x);
  free(t.colour);
  free(t.stack);
  return st;
}

nm_status nm_plot_linkage(const double *x, size_t n, int d, const nm_plot_opts *o,
                          const nm_progress *progress, unsigned char **png, size_t *png_n,
                          nm_error *err) {
  *png = NULL;
  *png_n = 0;
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "a dendrogram needs at least 2 rows, got %zu", n);
  nm_status st = nm_cluster_check_data(x, n, d, "linkage", err);
  if (st != NM_OK) return st;
  int method = nm_linkage_parse(o->linkage);
  if (method < 0) return nm_fail(err, NM_ERR_ARG, "unknown linkage '%s'", o->linkage);
  double *z = nm_malloc(n * (size_t)d, sizeof *z, err);
  nm_merge *merges = nm_malloc(n - 1, sizeof *merges, err);
  double *table = nm_malloc(4 * (n - 1), sizeof *table, err);
  nm_standardize sd = {0};
  if (!z || !merges || !table) {
    st = err->code;
    goto done;
  }
  memcpy(z, x, n * (size_t)d * sizeof *z);
  if (o->standardize) {
    st = nm_standardize_fit(z, n, d, &sd, err);
    if (st != NM_OK) goto done;
    nm_standardize_apply(&sd, z, n);
  }
  st = nm_linkage(z, n, d, (nm_linkage_method)method, 0, merges, progress, err);
  if (st != NM_OK) goto done;
  for (size_t s = 0; s + 1 < n; s++) {
    table[4 * s] = merges[s].a;
    table[4 * s + 1] = merges[s].b;
    table[4 * s + 2] = merges[s].height;
    table[4 * s + 3] = merges[s].size;
  }
  nm_plot_opts shown = *o; /* shallow: only the default y label differs */
  if (!shown.ylabel[0])
    snprintf(shown.ylabel, sizeof shown.ylabel, "%s linkage distance%s", o->linkage,
             o->standardize ? " (z-scored variables)" : "");
  st = nm_plot_dendrogram(table, n, &shown, png, png_n, err);
done:
  nm_standardize_free(&sd);
  free(z);
  free(merges);
  free(table);
  return st;
}
