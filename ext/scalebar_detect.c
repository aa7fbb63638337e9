/*
** scalebar_detect.c — geometry half of scalebar.h: find a burned-in scale
** bar (a long, thin, uniform, extreme-valued horizontal bar) and the box
** around it and its label. No OCR here; ext/scalebar.c reads the label.
**
** How: every row is cut into runs of near-constant value; runs at least
** min(w,h)/25 long and at an extreme of the intensity range (darkest or
** brightest 15 %) are stacked across consecutive rows into bars. A bar must
** be thin (height <= length/15) and must differ from the rows just above and
** below it over most of its length, which rules out flat vacuum, saturated
** regions and quiet bands of film between a label and its bar. Among the
** survivors the longest wins, ties going to the one nearest an image edge.
** The box is the bar grown by 0.35 x its length above and below (the label
** sits there) and 6 % of it to the sides, and extended to the solid panel
** of the contrasting colour around the bar, if there is one.
*/
#include "scalebar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

typedef struct bar {
  int x0, x1, y0, y1; /* inclusive pixel extents */
  double mean;
  int open;
} bar;

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static double seg_mean(const float *g, int w, int y, int x0, int x1) {
  double s = 0;
  for (int x = x0; x <= x1; x++) s += g[(size_t)y * w + x];
  return s / (x1 - x0 + 1);
}

/* Fraction of pixels on a horizontal segment within tol of v. */
static double frac_row(const float *g, int w, int y, int x0, int x1, double v, double tol) {
  int c = 0;
  for (int x = x0; x <= x1; x++) c += fabs(g[(size_t)y * w + x] - v) <= tol;
  return (double)c / (x1 - x0 + 1);
}
nm_status nm_scalebar_detect(const float *px, int width, int height,
                             nm_scalebar *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  out->value = NAN;
  out->nm_per_px = NAN;
  snprintf(out->reason, sizeof out->reason, "no scale bar found");
  if (!px || width <= 0 || height <= 0)
    return nm_fail(err, NM_ERR_ARG, "scalebar: empty image");
  int w = width, h = height;
  if (w < 32 || h < 32) return NM_OK;
  size_t n = (size_t)w * h;
  float *g = nm_malloc(n, sizeof(float), err);
  if (!g) return err ? err->code : NM_ERR_NOMEM;
  nm_stretch(px, g, n, 0.1, 99.9);
  const double tol = 0.12;
  int lmin = imax(20, imin(w, h) / 25);
  int cap = 256, nb = 0;
  bar *bars = malloc(sizeof(bar) * cap);
  if (!bars) {
    free(g);
    return nm_fail(err, NM_ERR_NOMEM, "scalebar: out of memory");
  }
  bar best = {0, 0, 0, 0, 0, 0};
  double best_score = -1;
  for (int y = 0; y <= h; y++) {
    /* close bars that did not continue into this row */
    for (int i = 0; i < nb; i++) bars[i].open = bars[i].y1 == y - 1;
    if (y < h) {
      const float *row = g + (size_t)y * w;
      int x = 0;
      while (x < w) {
        float lo = row[x], hi = row[x];
        int x1 = x;
        while (x1 + 1 < w) {
          float v = row[x1 + 1];
          float nlo = v < lo ? v : lo, nhi = v > hi ? v : hi;
          if (nhi - nlo > tol) break;
          lo = nlo;
          hi = nhi;
          x1++;
        }
        if (x1 - x + 1 >= lmin) {
          double m = seg_mean(g, w, y, x, x1);
          if (m <= 0.15 || m >= 0.85) {
            int joined = 0;
            for (int i = 0; i < nb; i++) {
              bar *b = &bars[i];
              if (!b->open || b->y1 != y - 1) continue;
              if (abs(b->x0 - x) <= 3 && abs(b->x1 - x1) <= 3 && fabs(b->mean - m) < tol) {
                b->y1 = y;
                b->x0 = imin(b->x0, x);
                b->x1 = imax(b->x1, x1);
                joined = 1;
                break;
              }
            }
            if (!joined) {
              if (nb == cap) {
                /* drop closed bars to make room */
                int k = 0;
                for (int i = 0; i < nb; i++)
                  if (bars[i].y1 >= y - 1) bars[k++] = bars[i];
                nb = k;
              }
              if (nb < cap) bars[nb++] = (bar){x, x1, y, y, m, 1};
            }
          }
        }
        x = x1 + 1;
      }
    }
    /* judge bars that ended at row y-1 */
    int k = 0;
    for (int i = 0; i < nb; i++) {
      bar *b = &bars[i];
      if (b->y1 >= y) {
        bars[k++] = *b;
        continue;
      }
      int len = b->x1 - b->x0 + 1, bh = b->y1 - b->y0 + 1;
      if (bh > imax(2, len / 15)) continue;
      /* must stand out from the rows just above and below, inside the image
      ** (a flat band along the top or bottom edge is vacuum, not a bar) */
      int ya = b->y0 - 2, yb = b->y1 + 2;
      if (ya < 0 || yb >= h) continue;
      if (len > w * 0.95) continue;
      /* most of the rows just above and below must differ from the bar */
      if (frac_row(g, w, ya, b->x0, b->x1, b->mean, tol) > 0.5 ||
          frac_row(g, w, yb, b->x0, b->x1, b->mean, tol) > 0.5)
        continue;
      double cy = 0.5 * (b->y0 + b->y1);
      double edge = fmin(cy, h - 1 - cy) / h; /* 0 at an edge, 0.5 mid-image */
      double score = len * (1.5 - edge);
      if (score > best_score) {
        best_score = score;
        best = *b;
      }
    }
    nb = k;
  }
  free(bars);
  if (best_score > 0) {
    int len = best.x1 - best.x0 + 1;
    out->found = 1;
    out->bar_x = best.x0;
    out->bar_y = best.y0;
    out->bar_w = len;
    out->bar_h = best.y1 - best.y0 + 1;
    out->bar_length_px = len;
    int bx0 = imax(0, best.x0 - (int)(0.06 * len));
    int bx1 = imin(w - 1, best.x1 + (int)(0.06 * len));
    int by0 = imax(0, best.y0 - (int)(0.35 * len));
    int by1 = imin(h - 1, best.y1 + (int)(0.35 * len));
    /* a solid panel of the contrasting colour around the bar: walk out from
    ** the bar along the rows just above/below it and the columns just left/
    ** right of it while the panel colour continues; text inside the panel
    ** may stop one walk, so each side takes the longer of its two walks */
    double panel = best.mean < 0.5 ? 1.0 : 0.0;
    int ry[2] = {best.y0 - 2, best.y1 + 2}, cx[2] = {best.x0 - 2, best.x1 + 2};
    int px0 = best.x0, px1 = best.x1, py0 = best.y0, py1 = best.y1, ok = 1;
    for (int k = 0; k < 2; k++) {
      if (ry[k] < 0 || ry[k] >= h || cx[k] < 0 || cx[k] >= w) ok = 0;
    }
    if (ok && fabs(g[(size_t)ry[0] * w + best.x0] - panel) <= 0.02 &&
        fabs(g[(size_t)ry[1] * w + best.x0] - panel) <= 0.02) {
      for (int k = 0; k < 2; k++) {
        int x = best.x0;
        while (x > 0 && fabs(g[(size_t)ry[k] * w + x - 1] - panel) <= 0.02) x--;
        px0 = imin(px0, x);
        x = best.x1;
        while (x < w - 1 && fabs(g[(size_t)ry[k] * w + x + 1] - panel) <= 0.02) x++;
        px1 = imax(px1, x);
        int y = best.y0;
        while (y > 0 && fabs(g[(size_t)(y - 1) * w + cx[k]] - panel) <= 0.02) y--;
        py0 = imin(py0, y);
        y = best.y1;
        while (y < h - 1 && fabs(g[(size_t)(y + 1) * w + cx[k]] - panel) <= 0.02) y++;
        py1 = imax(py1, y);
      }
      bx0 = imin(bx0, px0);
      bx1 = imax(bx1, px1);
      by0 = imin(by0, py0);
      by1 = imax(by1, py1);
    }
    out->box_x = bx0;
    out->box_y = by0;
    out->box_w = bx1 - bx0 + 1;
    out->box_h = by1 - by0 + 1;
    snprintf(out->reason, sizeof out->reason, "label not read (geometry only)");
  }
  free(g);
  return NM_OK;
}
