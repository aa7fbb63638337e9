/*
** plot_parallel.c — parallel coordinates: one vertical axis per variable,
** each scaled to its own rounded range and labelled at its ends and ticks;
** one polyline per row in its group's colour. Rows are drawn in a fixed
** interleaved order (not group after group) so the last group does not hide
** the others; a bold line per group marks its median profile.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

nm_status nm_plot_parallel(const double *x, size_t n, int m, const int *grp,
                           const nm_plot_groups *groups, const nm_plot_opts *o,
                           unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  static const char *const one_name[] = {"all"};
  nm_plot_groups single = {1, one_name, NULL};
  if (!groups) groups = &single;
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "no rows to draw");
  if (m < 2 || m > 256) return nm_fail(err, NM_ERR_ARG, "needs 2..256 variables, got %d", m);
  if (o->n_names && o->n_names != m)
    return nm_fail(err, NM_ERR_ARG, "option 'names' has %d names for %d variables", o->n_names, m);
  nm_status st = nm_plot_check_groups(grp, n, groups, err);
  if (st != NM_OK) return st;
  for (size_t i = 0; i < n * (size_t)m; i++)
    if (!isfinite(x[i]))
      return nm_fail(err, NM_ERR_ARG, "row %zu, variable %d: value is not finite", i / m,
                     (int)(i % m) + 1);
  nm_axis *ax = nm_calloc((size_t)m, sizeof *ax, err);
  double *med = nm_calloc((size_t)groups->n * m, sizeof *med, err);
  double *col = nm_malloc(n, sizeof *col, err);
  if (!ax || !med || !col) {
    free(ax);
    free(med);
    free(col);
    return err->code;
  }
  for (int j = 0; j < m; j++) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) lo = fmin(lo, x[i * m + j]), hi = fmax(hi, x[i * m + j]);
    nm_axis_nice(&ax[j], lo, hi, 5, 1);
  }
  for (int g = 0; g < groups->n; g++)
    for (int j = 0; j < m; j++) {
      size_t k = 0;
      for (size_t i = 0; i < n; i++)
        if (!grp || grp[i] == g) col[k++] = x[i * m + j];
      if (k == 0) {
        med[(size_t)g * m + j] = NAN;
        continue;
      }
      qsort(col, k, sizeof *col, cmp_double);
      med[(size_t)g * m + j] = k % 2 ? col[k / 2] : 0.5 * (col[k / 2 - 1] + col[k / 2]);
    }
  nm_canvas c = {0};
  st = nm_canvas_open(&c, o->width, o->height, o, err);
  if (st == NM_OK) {
    cairo_t *cr = c.cr;
    double f = c.font;
    const char *title = nm_plot_title(o, "");
    const char *xl = nm_plot_label(o->xlabel, "");
    const char *yl = nm_plot_label(o->ylabel, "value (each axis scaled to its own range)");
    double lw = 0, lh = 0;
    int legend = o->legend && groups->n > 1;
    if (legend) nm_canvas_legend(&c, 0, 0, groups, groups->names, 1, 0, &lw, &lh);
    char buf[64];
    double tickw = 0;
    for (int j = 0; j < m; j++)
      for (int t = 0; t < ax[j].nt; t++) {
        nm_axis_label(&ax[j], ax[j].tick[t], buf, sizeof buf);
        tickw = fmax(tickw, nm_canvas_text_w(&c, buf, 0.85 * f, 0));
      }
    double lhh = nm_canvas_line_h(&c, f);
    double top = 0.8 * f + (title[0] ? nm_canvas_line_h(&c, 1.2 * f) + 0.6 * f : 0.4 * lhh);
    double bottom = 1.0 * f + lhh + (xl[0] ? lhh + 0.4 * f : 0);
    double left = 0.6 * f + lhh + 0.6 * f + tickw + 0.8 * f;
    double right = (legend ? lw + 1.2 * f : 0) + 0.5 * f + 0.5 * nm_canvas_text_w(&c, o->n_names ? o->names[m - 1] : "x9", f, 0);
    nm_rect r = {left, top, c.w - left - right, c.h - top - bottom};
    if (r.w < 20) r.w = 20;
    if (r.h < 20) r.h = 20;
    double dx = r.w / (m - 1);
    /* rows in a fixed stride order that interleaves groups */
    double alpha = o->alpha >= 0 ? o->alpha : fmin(0.6, fmax(0.04, 12.0 / sqrt((double)n)));
    size_t stride = 1;
    for (size_t cand = (size_t)(n * 0.618) | 1; cand > 1; cand -= 2) {
      size_t a = cand, b = n;
      while (b) { size_t t = a % b; a = b; b = t; }
      if (a == 1) { stride = cand; break; }
    }
    cairo_set_line_width(cr, fmax(0.8, 0.7 * c.pt));
    cairo_save(cr);
    cairo_rectangle(cr, r.x - 1, r.y - 1, r.w + 2, r.h + 2);
    cairo_clip(cr);
    for (size_t k = 0, i = 0; k < n; k++, i = (i + stride) % n) {
      int slot = nm_group_slot(groups, grp ? grp[i] : 0);
      for (int j = 0; j < m; j++) {
        double px = r.x + j * dx, py = nm_map(&ax[j], x[i * m + j], r.y + r.h, r.y);
        if (j == 0) cairo_move_to(cr, px, py);
        else cairo_line_to(cr, px, py);
      }
      nm_canvas_line_style(&c, slot, fmax(0.8, 0.7 * c.pt));
      nm_canvas_rgb(&c, slot, alpha);
      cairo_stroke(cr);
    }
    for (int g = 0; g < groups->n && groups->n > 1; g++) {
      if (isnan(med[(size_t)g * m])) continue;
      for (int j = 0; j < m; j++) {
        double px = r.x + j * dx, py = nm_map(&ax[j], med[(size_t)g * m + j], r.y + r.h, r.y);
        if (j == 0) cairo_move_to(cr, px, py);
        else cairo_line_to(cr, px, py);
      }
      cairo_set_dash(cr, NULL, 0, 0);
      cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
      cairo_set_line_width(cr, 5 * c.pt);
      cairo_stroke_preserve(cr);
      nm_canvas_line_style(&c, nm_group_slot(groups, g), 2.5 * c.pt);
      nm_canvas_rgb(&c, nm_group_slot(groups, g), 1);
      cairo_stroke(cr);
    }
    cairo_restore(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    for (int j = 0; j < m; j++) {
      double px = r.x + j * dx;
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_set_line_width(cr, fmax(1, 0.6 * c.pt));
      cairo_move_to(cr, px, r.y);
      cairo_line_to(cr, px, r.y + r.h);
      cairo_stroke(cr);
      for (int t = 0; t < ax[j].nt; t++) {
        double py = nm_map(&ax[j], ax[j].tick[t], r.y + r.h, r.y);
        cairo_move_to(cr, px - 0.3 * f, py);
        cairo_line_to(cr, px, py);
        cairo_stroke(cr);
        nm_axis_label(&ax[j], ax[j].tick[t], buf, sizeof buf);
        nm_canvas_text(&c, px - 0.4 * f, py, buf, 0.85 * f, 0, 1, 0.5, 0);
      }
      char def[32];
      snprintf(def, sizeof def, "x%d", j + 1);
      nm_canvas_text(&c, px, r.y + r.h + 0.5 * f, o->n_names ? o->names[j] : def, f, 1, 0.5, 0, 0);
    }
    if (xl[0]) nm_canvas_text(&c, r.x + r.w / 2, c.h - 0.5 * f, xl, f, 0, 0.5, 1, 0);
    nm_canvas_text(&c, 0.6 * f, r.y + r.h / 2, yl, f, 0, 0.5, 0, M_PI / 2);
    nm_canvas_title(&c, c.w / 2.0, 0.6 * f, title);
    if (legend) nm_canvas_legend(&c, c.w - lw - 0.5 * f, r.y, groups, groups->names, 1, 1, &lw, &lh);
    st = nm_canvas_png(&c, png, png_n, err);
  }
  nm_canvas_close(&c);
  free(ax);
  free(med);
  free(col);
  return st;
}
