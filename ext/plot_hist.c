/*
** plot_hist.c — histogram of one feature with a normal fit per group. All
** groups share the bins (so their masses compare); each is drawn as a
** translucent step histogram and its normal density, scaled to counts
** (n_g · bin width · pdf), as a line in the same colour.
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

/* Freedman–Diaconis bin width of each group (a pooled IQR would be widened by
** the gaps between groups), the narrowest one wins; count clamped to 5..60. */
static int auto_bins(const double *x, const int *grp, size_t n, int G, double lo, double hi,
                     nm_error *err) {
  double *s = nm_malloc(n, sizeof *s, err);
  if (!s) return -1;
  double h = INFINITY;
  for (int g = 0; g < G; g++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (!grp || grp[i] == g) s[m++] = x[i];
    if (m < 4) continue;
    qsort(s, m, sizeof *s, cmp_double);
    double iqr = s[(3 * (m - 1)) / 4] - s[(m - 1) / 4];
    if (iqr > 0) h = fmin(h, 2 * iqr / cbrt((double)m));
  }
  free(s);
  int bins = isfinite(h) && hi > lo ? (int)ceil((hi - lo) / h) : (int)ceil(sqrt((double)n));
  return bins < 5 ? 5 : bins > 60 ? 60 : bins;
}

nm_status nm_plot_hist(const double *x, const int *grp, size_t n, const nm_plot_groups *groups,
                       const nm_plot_opts *o, unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  static const char *const one_name[] = {"all"};
  nm_plot_groups single = {1, one_name, NULL};
  if (!groups) groups = &single;
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "no values to draw");
  nm_status st = nm_plot_check_groups(grp, n, groups, err);
  if (st != NM_OK) return st;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) return nm_fail(err, NM_ERR_ARG, "row %zu: value is not finite", i);
    lo = fmin(lo, x[i]);
    hi = fmax(hi, x[i]);
  }
  int bins = o->bins > 0 ? o->bins : auto_bins(x, grp, n, groups->n, lo, hi, err);
  if (bins < 0) return err->code;
  if (hi <= lo) {
    double pad = lo == 0 ? 0.5 : fabs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  double bw = (hi - lo) / bins;
  int G = groups->n;
  double *count = nm_calloc((size_t)G * (size_t)bins, sizeof *count, err);
  double *sum = nm_calloc((size_t)G * 3, sizeof *sum, err); /* n, mean, M2 (Welford) */
  char **legend = nm_calloc((size_t)G, sizeof *legend, err);
  if (!count || !sum || !legend) {
    free(count);
    free(sum);
    free(legend);
    return err->code;
  }
  for (size_t i = 0; i < n; i++) {
    int g = grp ? grp[i] : 0;
    int b = (int)floor((x[i] - lo) / bw);
    if (b >= bins) b = bins - 1;
    if (b < 0) b = 0;
    count[(size_t)g * bins + b] += 1;
    double *s = sum + 3 * g;
    s[0] += 1;
    double d = x[i] - s[1];
    s[1] += d / s[0];
    s[2] += d * (x[i] - s[1]);
  }
  double ymax = 0;
  for (int g = 0; g < G; g++) {
    for (int b = 0; b < bins; b++) ymax = fmax(ymax, count[(size_t)g * bins + b]);
    double *s = sum + 3 * g;
    double sd = s[0] > 1 ? sqrt(s[2] / (s[0] - 1)) : 0;
    if (o->fit && sd > 0) ymax = fmax(ymax, s[0] * bw / (sd * sqrt(2 * M_PI)));
    char buf[256];
    snprintf(buf, sizeof buf, "%s (n = %.0f, \xce\xbc = %.4g, \xcf\x83 = %.3g)", groups->names[g],
             s[0], s[1], sd);
    legend[g] = strdup(buf);
    if (!legend[g]) st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
  }
  nm_canvas c = {0};
  if (st == NM_OK) st = nm_canvas_open(&c, o->width, o->height, o, err);
  if (st == NM_OK) {
    cairo_t *cr = c.cr;
    const char *title = nm_plot_title(o, "");
    const char *xl = nm_plot_label(o->xlabel, "value");
    const char *yl = nm_plot_label(o->ylabel, "count");
    nm_axis ax, ay;
    nm_axis_nice(&ax, lo, hi, 8, 0);
    ax.lo = lo;
    ax.hi = hi;
    nm_axis_nice(&ay, 0, ymax * 1.05, 6, 1);
    ay.lo = 0;
    nm_rect r = nm_canvas_plot_rect(&c, &ay, title, xl, yl, 0);
    cairo_save(cr);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_clip(cr);
    double alpha = o->alpha >= 0 ? o->alpha : (G > 1 ? 0.35 : 0.6);
    /* Fills from the largest group to the smallest, so a small group is not
    ** buried under a big one; then every outline on top of all fills. */
    int *order = malloc(sizeof *order * (size_t)G);
    if (!order) {
      st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
      cairo_restore(cr);
      goto out;
    }
    for (int g = 0; g < G; g++) order[g] = g;
    for (int i = 1; i < G; i++)
      for (int j = i; j > 0 && sum[3 * order[j - 1]] < sum[3 * order[j]]; j--) {
        int t = order[j];
        order[j] = order[j - 1];
        order[j - 1] = t;
      }
    for (int pass = 0; pass < 2; pass++)
      for (int oi = 0; oi < G; oi++) {
        int g = order[oi];
        int slot = nm_group_slot(groups, g);
        double base = nm_map(&ay, 0, r.y + r.h, r.y);
        cairo_move_to(cr, nm_map(&ax, lo, r.x, r.x + r.w), base);
        for (int b = 0; b < bins; b++) {
          double y = nm_map(&ay, count[(size_t)g * bins + b], r.y + r.h, r.y);
          cairo_line_to(cr, nm_map(&ax, lo + b * bw, r.x, r.x + r.w), y);
          cairo_line_to(cr, nm_map(&ax, lo + (b + 1) * bw, r.x, r.x + r.w), y);
        }
        cairo_line_to(cr, nm_map(&ax, hi, r.x, r.x + r.w), base);
        cairo_close_path(cr);
        if (pass == 0) {
          nm_canvas_rgb(&c, slot, alpha);
          cairo_fill(cr);
        } else {
          nm_canvas_rgb(&c, slot, 0.9);
          cairo_set_line_width(cr, fmax(1, 0.8 * c.pt));
          cairo_stroke(cr);
        }
      }
    free(order);
    if (o->fit) {
      for (int g = 0; g < G; g++) {
        double *s = sum + 3 * g;
        double sd = s[0] > 1 ? sqrt(s[2] / (s[0] - 1)) : 0;
        if (sd <= 0) continue;
        int slot = nm_group_slot(groups, g);
        int steps = (int)fmax(100, r.w / 2);
        for (int k = 0; k <= steps; k++) {
          double v = lo + (hi - lo) * k / steps;
          double z = (v - s[1]) / sd;
          double y = s[0] * bw * exp(-0.5 * z * z) / (sd * sqrt(2 * M_PI));
          double px = nm_map(&ax, v, r.x, r.x + r.w), py = nm_map(&ay, y, r.y + r.h, r.y);
          if (k == 0) cairo_move_to(cr, px, py);
          else cairo_line_to(cr, px, py);
        }
        /* A white halo keeps the curve visible over bars of its own colour. */
        cairo_set_dash(cr, NULL, 0, 0);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
        cairo_set_line_width(cr, 3.6 * c.pt);
        cairo_stroke_preserve(cr);
        nm_canvas_line_style(&c, slot, 1.8 * c.pt);
        nm_canvas_rgb(&c, slot, 1);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
      }
    }
    cairo_restore(cr);
    nm_canvas_axes(&c, r, &ax, &ay, title, xl, yl);
    if (o->legend) {
      double lw, lh;
      nm_canvas_legend(&c, 0, 0, groups, (const char *const *)legend, 0, 0, &lw, &lh);
      nm_canvas_legend(&c, r.x + r.w - lw - 0.5 * c.font, r.y + 0.5 * c.font, groups,
                       (const char *const *)legend, 0, 1, &lw, &lh);
    }
    st = nm_canvas_png(&c, png, png_n, err);
  }
out:
  nm_canvas_close(&c);
  for (int g = 0; g < G; g++) free(legend[g]);
  free(legend);
  free(count);
  free(sum);
  return st;
}
