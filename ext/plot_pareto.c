/*
** plot_pareto.c — Pareto chart of the principal components: the share of
** variance each component explains (bars, left axis) and the cumulative
** share (line, right axis), as MATLAB's pareto(explained) draws it.
**
** PCA here is the eigen-decomposition of the correlation matrix of the
** z-scored columns (cblas_dsyrk + LAPACKE_dsyev); the clustering module had no
** PCA entry point when this was written, so the figure does its own, through
** LAPACK rather than hand-written eigen code.
*/
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

nm_status nm_plot_pca_explained(const double *x, size_t n, int m, double *explained,
                                nm_error *err) {
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "PCA needs at least 2 rows, got %zu", n);
  if (m < 1 || m > 1000) return nm_fail(err, NM_ERR_ARG, "PCA needs 1..1000 variables, got %d", m);
  double *z = nm_malloc(n * (size_t)m, sizeof *z, err);
  double *cov = nm_calloc((size_t)m * m, sizeof *cov, err);
  double *w = nm_calloc((size_t)m, sizeof *w, err);
  nm_status st = NM_OK;
  if (!z || !cov || !w) {
    st = err->code;
    goto done;
  }
  for (int j = 0; j < m; j++) {
    double mean = 0, m2 = 0;
    for (size_t i = 0; i < n; i++) {
      double v = x[i * m + j];
      if (!isfinite(v)) {
        st = nm_fail(err, NM_ERR_ARG, "row %zu, variable %d: value is not finite", i, j + 1);
        goto done;
      }
      double d = v - mean;
      mean += d / (double)(i + 1);
      m2 += d * (v - mean);
    }
    double sd = sqrt(m2 / (double)(n - 1));
    for (size_t i = 0; i < n; i++) z[i * m + j] = sd > 1e-12 * fmax(1, fabs(mean)) ? (x[i * m + j] - mean) / sd : 0;
  }
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, m, (int)n, 1.0 / (double)(n - 1), z, m, 0.0,
              cov, m);
  lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', m, cov, m, w);
  if (info != 0) {
    st = nm_fail(err, NM_ERR_ARG, "eigen-decomposition failed (LAPACKE_dsyev info %d)", (int)info);
    goto done;
  }
  double total = 0;
  for (int j = 0; j < m; j++) total += fmax(0, w[j]);
  if (total <= 0) {
    st = nm_fail(err, NM_ERR_ARG, "every variable is constant: no variance to explain");
    goto done;
  }
  if (explained)
    for (int j = 0; j < m; j++) explained[j] = fmax(0, w[m - 1 - j]) / total; /* dsyev: ascending */
done:
  free(z);
  free(cov);
  free(w);
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
