/*
** plot_confusion.c — confusion matrix: rows the true group, columns the
** predicted one; each cell shows its count and, shaded on a single-hue blue
** ramp (readable in gray and by colour-blind readers), its share of the row
** (recall) — or of the largest cell with normalize = 0. The title carries the
** accuracy.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

nm_status nm_plot_confusion(const double *counts, int k, const char *const *labels,
                            const nm_plot_opts *o, unsigned char **png, size_t *png_n,
                            nm_error *err) {
  *png = NULL;
  *png_n = 0;
  if (k < 1 || k > 200) return nm_fail(err, NM_ERR_ARG, "needs 1..200 classes, got %d", k);
  double total = 0, diag = 0, cmax = 0;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) {
      double v = counts[i * k + j];
      if (!isfinite(v) || v < 0)
        return nm_fail(err, NM_ERR_ARG, "cell (%d, %d): count must be finite and >= 0", i + 1, j + 1);
      total += v;
      if (i == j) diag += v;
      cmax = fmax(cmax, v);
    }
  nm_canvas c = {0};
  nm_status st = nm_canvas_open(&c, o->width, o->height, o, err);
  if (st != NM_OK) return st;
  cairo_t *cr = c.cr;
  double f = c.font;
  char title_buf[160];
  if (total > 0)
    snprintf(title_buf, sizeof title_buf, "accuracy %.1f %% (%.0f of %.0f)", 100 * diag / total,
             diag, total);
  else
    snprintf(title_buf, sizeof title_buf, "no predictions");
  const char *title = nm_plot_title(o, title_buf);
  const char *xl = nm_plot_label(o->xlabel, "predicted group");
  const char *yl = nm_plot_label(o->ylabel, "true group");
  double lw = 0;
  for (int i = 0; i < k; i++) lw = fmax(lw, nm_canvas_text_w(&c, labels[i], f, 0));
  double lh = nm_canvas_line_h(&c, f);
  double top = 0.8 * f + nm_canvas_line_h(&c, 1.2 * f) + 0.8 * f;
  double left = 0.6 * f + lh + 0.6 * f + lw + 0.6 * f;
  double bottom = 0.6 * f + lh + 0.6 * f + lh + 0.6 * f;
  double side = fmin(c.w - left - 1.2 * f, c.h - top - bottom);
  if (side < 10) side = 10;
  double x0 = left + (c.w - left - 1.2 * f - side) / 2, y0 = top;
  double cell = side / k;
  char buf[64];
  for (int i = 0; i < k; i++) {
    double rowsum = 0;
    for (int j = 0; j < k; j++) rowsum += counts[i * k + j];
    for (int j = 0; j < k; j++) {
      double v = counts[i * k + j];
      double share = o->normalize ? (rowsum > 0 ? v / rowsum : 0) : (cmax > 0 ? v / cmax : 0);
      /* white → Okabe–Ito blue (0, 114, 178), then darker towards (0, 45, 90) */
      double rr, gg, bb;
      if (share < 0.7) {
        double t = share / 0.7;
        rr = 1 - t, gg = 1 - t * (1 - 114 / 255.0), bb = 1 - t * (1 - 178 / 255.0);
      } else {
        double t = (share - 0.7) / 0.3;
        rr = 0, gg = (114 - t * 69) / 255.0, bb = (178 - t * 88) / 255.0;
      }
      cairo_rectangle(cr, x0 + j * cell, y0 + i * cell, cell, cell);
      cairo_set_source_rgb(cr, rr, gg, bb);
      cairo_fill(cr);
      double fs = fmin(f, cell * 0.28);
      if (fs >= 4) {
        snprintf(buf, sizeof buf, "%.0f", v);
        const double bg[3] = {rr, gg, bb};
        nm_canvas_ink_on(&c, bg);
        double cx = x0 + (j + 0.5) * cell, cy = y0 + (i + 0.5) * cell;
        if (o->normalize && rowsum > 0) {
          nm_canvas_text(&c, cx, cy, buf, fs, 1, 0.5, 1, 0);
          snprintf(buf, sizeof buf, "%.0f %%", 100 * share);
          nm_canvas_text(&c, cx, cy, buf, 0.8 * fs, 0, 0.5, 0, 0);
        } else {
          nm_canvas_text(&c, cx, cy, buf, fs, 1, 0.5, 0.5, 0);
        }
        nm_canvas_ink_reset(&c);
      }
    }
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, fmax(1, 0.5 * c.pt));
  cairo_rectangle(cr, x0, y0, side, side);
  cairo_stroke(cr);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
  for (int i = 1; i < k; i++) {
    cairo_move_to(cr, x0 + i * cell, y0);
    cairo_line_to(cr, x0 + i * cell, y0 + side);
    cairo_move_to(cr, x0, y0 + i * cell);
    cairo_line_to(cr, x0 + side, y0 + i * cell);
  }
  cairo_stroke(cr);
  for (int i = 0; i < k; i++) {
    nm_canvas_text(&c, x0 - 0.4 * f, y0 + (i + 0.5) * cell, labels[i], f, 0, 1, 0.5, 0);
    nm_canvas_text(&c, x0 + (i + 0.5) * cell, y0 + side + 0.4 * f, labels[i], f, 0, 0.5, 0, 0);
  }
  nm_canvas_text(&c, x0 + side / 2, y0 + side + 0.4 * f + lh + 0.5 * f, xl, f, 0, 0.5, 0, 0);
  nm_canvas_text(&c, x0 - 0.4 * f - lw - 0.6 * f, y0 + side / 2, yl, f, 0, 0.5, 1, M_PI / 2);
  nm_canvas_title(&c, c.w / 2.0, 0.6 * f, title);
  st = nm_canvas_png(&c, png, png_n, err);
  nm_canvas_close(&c);
  return st;
}
