/*
** plot_pareto.c — Pareto chart of the principal components: the share of
** variance each component explains (bars, left axis) and the cumulative
** share (line, right axis), as MATLAB's pareto(explained) draws it.
**
** PCA is the clustering module's (ext/pca.h: cblas_dsyrk + LAPACKE_dsyevd)
** on the z-scored columns (ext/cluster.h), i.e. the eigenvalues of the
** correlation matrix; constant columns become zeros and explain nothing.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "pca.h"
#include "plot_canvas.h"

nm_status nm_plot_pca_explained(const double *x, size_t n, int m, double *explained,
                                nm_error *err) {
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "PCA needs at least 2 rows, got %zu", n);
  nm_status st = nm_cluster_check_data(x, n, m, "PCA", err);
  if (st != NM_OK) return st;
  double *z = nm_malloc(n * (size_t)m, sizeof *z, err);
  if (!z) return err->code;
  memcpy(z, x, n * (size_t)m * sizeof *z);
  nm_standardize sd = {0};
  nm_pca pca = {0};
  st = nm_standardize_fit(z, n, m, &sd, err);
  if (st == NM_OK) {
    nm_standardize_apply(&sd, z, n);
    st = nm_pca_fit(z, n, m, &pca, err);
  }
  if (st == NM_OK) {
    double total = 0;
    for (int j = 0; j < m; j++) total += fmax(0, pca.variance[j]);
    if (!(total > 1e-12))
      st = nm_fail(err, NM_ERR_ARG, "every variable is constant: no variance to explain");
    else if (explained)
      for (int j = 0; j < m; j++) explained[j] = fmax(0, pca.variance[j]) / total;
  }
  nm_pca_free(&pca);
  nm_standardize_free(&sd);
  free(z);
  return st;
}

nm_status nm_plot_pareto(const double *x, size_t n, int m, const nm_plot_opts *o,
                         unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  if (o->n_names && o->n_names != m)
    return nm_fail(err, NM_ERR_ARG, "option 'names' has %d names for %d variables", o->n_names, m);
  double *ex = nm_calloc(m > 0 ? (size_t)m : 1, sizeof *ex, err);
  if (!ex) return err->code;
  nm_status st = nm_plot_pca_explained(x, n, m, ex, err);
  nm_canvas c = {0};
  if (st == NM_OK) st = nm_canvas_open(&c, o->width, o->height, o, err);
  if (st == NM_OK) {
    cairo_t *cr = c.cr;
    double f = c.font;
    int k = m < o->max_components ? m : o->max_components;
    /* Default title: the variables the components mix. */
    char list[256] = "";
    size_t len = 0;
    for (int j = 0; j < o->n_names && len + 8 < sizeof list; j++) {
      int w = snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "PCA of ", o->names[j]);
      if (w < 0 || (size_t)w >= sizeof list - len) {
        snprintf(list + sizeof list - 5, 5, "...");
        break;
      }
      len += (size_t)w;
    }
    const char *title = nm_plot_title(o, list);
    const char *xl = nm_plot_label(o->xlabel, "principal component");
    const char *yl = nm_plot_label(o->ylabel, "variance explained (%)");
    nm_axis ay, ax;
    nm_axis_nice(&ay, 0, 100 * ex[0] * 1.08, 6, 1);
    ay.lo = 0;
    ax.lo = 0.4, ax.hi = k + 0.6, ax.nt = 0, ax.step = 1;
    /* right axis: cumulative %, 0..100 */
    nm_axis ar;
    nm_axis_nice(&ar, 0, 100, 5, 1);
    double rw = nm_canvas_text_w(&c, "100 %", f, 0) + 1.4 * f + nm_canvas_line_h(&c, f);
    nm_rect r = nm_canvas_plot_rect(&c, &ay, title, xl, yl, rw);
    nm_canvas_axes(&c, r, NULL, &ay, title, xl, yl);
    double bw = r.w / (ax.hi - ax.lo) * 0.7;
    double cum = 0, px_prev = 0, py_prev = 0;
    char buf[64];
    for (int j = 0; j < k; j++) {
      double cx = nm_map(&ax, j + 1, r.x, r.x + r.w);
      double top = nm_map(&ay, 100 * ex[j], r.y + r.h, r.y);
      cairo_rectangle(cr, cx - bw / 2, top, bw, r.y + r.h - top);
      nm_canvas_rgb(&c, 0, 0.8);
      cairo_fill(cr);
      snprintf(buf, sizeof buf, "PC%d", j + 1);
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_set_line_width(cr, fmax(1, 0.5 * c.pt));
      cairo_move_to(cr, cx, r.y + r.h);
      cairo_line_to(cr, cx, r.y + r.h + 0.5 * f);
      cairo_stroke(cr);
      nm_canvas_text(&c, cx, r.y + r.h + 0.7 * f, buf, f, 0, 0.5, 0, 0);
      snprintf(buf, sizeof buf, "%.1f", 100 * ex[j]);
      nm_canvas_text(&c, cx, top - 0.2 * f, buf, 0.8 * f, 0, 0.5, 1, 0);
    }
    cairo_set_line_width(cr, 2 * c.pt);
    for (int j = 0; j < k; j++) {
      cum += ex[j];
      double cx = nm_map(&ax, j + 1, r.x, r.x + r.w);
      double cy = nm_map(&ar, 100 * cum, r.y + r.h, r.y);
      if (j > 0) {
        nm_canvas_rgb(&c, 3, 1);
        cairo_move_to(cr, px_prev, py_prev);
        cairo_line_to(cr, cx, cy);
        cairo_stroke(cr);
      }
      px_prev = cx, py_prev = cy;
    }
    cum = 0;
    for (int j = 0; j < k; j++) {
      cum += ex[j];
      nm_canvas_marker(&c, 3, nm_map(&ax, j + 1, r.x, r.x + r.w),
                       nm_map(&ar, 100 * cum, r.y + r.h, r.y), 0.35 * f, 1);
    }
    /* right-hand axis for the cumulative line */
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, fmax(1, 0.5 * c.pt));
    for (int t = 0; t < ar.nt; t++) {
      double py = nm_map(&ar, ar.tick[t], r.y + r.h, r.y);
      cairo_move_to(cr, r.x + r.w, py);
      cairo_line_to(cr, r.x + r.w + 0.5 * f, py);
      cairo_stroke(cr);
      snprintf(buf, sizeof buf, "%.0f %%", ar.tick[t]);
      nm_canvas_text(&c, r.x + r.w + 0.8 * f, py, buf, f, 0, 0, 0.5, 0);
    }
    nm_canvas_text(&c, c.w - 0.4 * f, r.y + r.h / 2, "cumulative variance explained", f, 0, 0.5, 1,
                   M_PI / 2);
    st = nm_canvas_png(&c, png, png_n, err);
  }
  nm_canvas_close(&c);
  free(ex);
  return st;
}
