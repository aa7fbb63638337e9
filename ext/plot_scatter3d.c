/*
** plot_scatter3d.c — the (p, d, Lratio) space coloured by group, as a fixed
** orthographic view of a box (projection in plot.h). The three axes are drawn
** on the box edges nearest the viewer, found from the projection itself, so
** labels stay outside the data for any azimuth/elevation.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

typedef struct view {
  double ca, sa, ce, se;
  double scale, cx, cy;
} view;

/* Unit-cube point (0..1 each) to screen; depth grows towards the viewer. */
static void project(const view *v, const double p[3], double *sx, double *sy, double *depth) {
  double X = p[0] - 0.5, Y = p[1] - 0.5, Z = p[2] - 0.5;
  double xr = X * v->ca - Y * v->sa;
  double yr = X * v->sa + Y * v->ca;
  *sx = v->cx + v->scale * xr;
  *sy = v->cy + v->scale * (-yr * v->se - Z * v->ce);
  if (depth) *depth = -yr * v->ce + Z * v->se;
}

typedef struct ranked {
  double depth;
  size_t i;
} ranked;

static int cmp_depth(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Draws one axis along the cube edge from a to b (unit coordinates, varying
** in dimension `dim`), ticks pointing away from the screen centre `away`. */
typedef struct boxes {
  double b[128][4]; /* x0 y0 x1 y1 of tick labels drawn so far */
  int n;
} boxes;

/* 1 when the box overlaps no label drawn before (then it is remembered). */
static int claim(boxes *bx, double x0, double y0, double x1, double y1) {
  for (int i = 0; i < bx->n; i++)
    if (x0 < bx->b[i][2] && x1 > bx->b[i][0] && y0 < bx->b[i][3] && y1 > bx->b[i][1]) return 0;
  if (bx->n < 128) {
    double *b = bx->b[bx->n++];
    b[0] = x0, b[1] = y0, b[2] = x1, b[3] = y1;
  }
  return 1;
}

static void draw_axis(nm_canvas *c, const view *v, const nm_axis *ax, int dim, const double a[3],
                      const char *label, boxes *bx) {
  cairo_t *cr = c->cr;
  double f = c->font;
  double p0[3] = {a[0], a[1], a[2]}, p1[3] = {a[0], a[1], a[2]};
  p0[dim] = 0;
  p1[dim] = 1;
  double x0, y0, x1, y1;
  project(v, p0, &x0, &y0, NULL);
  project(v, p1, &x1, &y1, NULL);
  /* outward direction: from the projected cube centre towards the edge middle */
  double mx = (x0 + x1) / 2 - v->cx, my = (y0 + y1) / 2 - v->cy;
  double ex = x1 - x0, ey = y1 - y0, el = hypot(ex, ey);
  double nx = -ey / (el > 0 ? el : 1), ny = ex / (el > 0 ? el : 1);
  if (nx * mx + ny * my < 0) nx = -nx, ny = -ny;
  if (dim == 2) nx = -1, ny = 0; /* the vertical axis: labels to the left */
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, fmax(1, 0.6 * c->pt));
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, x1, y1);
  cairo_stroke(cr);
  double maxw = 0;
  char buf[64];
  for (int i = 0; i < ax->nt; i++) {
    double t = (ax->tick[i] - ax->lo) / (ax->hi - ax->lo);
    if (t < -1e-9 || t > 1 + 1e-9) continue;
    double px = x0 + t * ex, py = y0 + t * ey;
    cairo_move_to(cr, px, py);
    cairo_line_to(cr, px + nx * 0.5 * f, py + ny * 0.5 * f);
    cairo_stroke(cr);
    nm_axis_label(ax, ax->tick[i], buf, sizeof buf);
    double tw = nm_canvas_text_w(c, buf, f, 0), th = nm_canvas_line_h(c, f);
    maxw = fmax(maxw, tw);
    /* anchor the label on its side facing the axis; where two axes meet at
    ** a corner, the label that would overlap an earlier one is left out */
    double ha = 0.5 - 0.5 * nx, va = 0.5 - 0.5 * ny;
    double tx = px + nx * 0.8 * f - ha * tw, ty = py + ny * 0.8 * f - va * th;
    if (!claim(bx, tx - 0.2 * f, ty, tx + tw + 0.2 * f, ty + th)) continue;
    nm_canvas_text(c, px + nx * 0.8 * f, py + ny * 0.8 * f, buf, f, 0, ha, va, 0);
  }
  double off = 1.0 * f + (fabs(nx) > 0.7 ? maxw : nm_canvas_line_h(c, f)) + 0.6 * f;
  double lx = (x0 + x1) / 2 + nx * off, ly = (y0 + y1) / 2 + ny * off;
  if (dim == 2) {
    nm_canvas_text(c, lx, ly, label, f, 1, 0.5, 1, M_PI / 2);
  } else {
    nm_canvas_text(c, lx, ly, label, f, 1, 0.5 - 0.5 * nx, 0.5 - 0.5 * ny, 0);
  }
}

nm_status nm_plot_scatter3d(const double *xyz, const int *grp, size_t n,
                            const nm_plot_groups *groups, const nm_plot_opts *o,
                            unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  static const char *const one_name[] = {"all"};
  nm_plot_groups single = {1, one_name, NULL};
  if (!groups) groups = &single;
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "no points to draw");
  nm_status st = nm_plot_check_groups(grp, n, groups, err);
  if (st != NM_OK) return st;
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 3; k++) {
      double v = xyz[3 * i + k];
      if (!isfinite(v)) return nm_fail(err, NM_ERR_ARG, "row %zu: coordinate %d is not finite", i, k + 1);
      lo[k] = fmin(lo[k], v);
      hi[k] = fmax(hi[k], v);
    }
  nm_axis ax[3];
  for (int k = 0; k < 3; k++) nm_axis_nice(&ax[k], lo[k], hi[k], 5, 1);
  ranked *order = nm_malloc(n, sizeof *order, err);
  if (!order) return err->code;
  nm_canvas c = {0};
  st = nm_canvas_open(&c, o->width, o->height, o, err);
  if (st != NM_OK) {
    free(order);
    return st;
  }
  cairo_t *cr = c.cr;
  double f = c.font;
  const char *title = nm_plot_title(o, "");
  const char *lab[3] = {nm_plot_label(o->xlabel, "p"), nm_plot_label(o->ylabel, "d"),
                        nm_plot_label(o->zlabel, "Lratio")};
  view v;
  double az = o->azimuth * M_PI / 180, el = o->elevation * M_PI / 180;
  v.ca = cos(az), v.sa = sin(az), v.ce = cos(el), v.se = sin(el);
  /* Fit the projected cube into the area left after title, legend and a
  ** margin for tick and axis labels (measured, not guessed). */
  double top = 0.8 * f + (title[0] ? nm_canvas_line_h(&c, 1.2 * f) + 0.6 * f : 0);
  double lw = 0, lh = 0;
  int legend = o->legend && groups->n > 1;
  if (legend) {
    nm_canvas_legend(&c, 0, 0, groups, groups->names, 2, 0, &lw, &lh);
  }
  double margin = 3.2 * f + nm_canvas_line_h(&c, f) + nm_canvas_text_w(&c, "0.000", f, 0);
  double area_w = c.w - 2 * margin - (lw > 0 ? lw + f : 0), area_h = c.h - top - 2 * margin;
  v.scale = 1, v.cx = 0, v.cy = 0;
  double bx0 = INFINITY, bx1 = -INFINITY, by0 = INFINITY, by1 = -INFINITY;
  for (int corner = 0; corner < 8; corner++) {
    double p[3] = {corner & 1, (corner >> 1) & 1, (corner >> 2) & 1}, sx, sy;
    project(&v, p, &sx, &sy, NULL);
    bx0 = fmin(bx0, sx), bx1 = fmax(bx1, sx), by0 = fmin(by0, sy), by1 = fmax(by1, sy);
  }
  v.scale = fmax(10, fmin(area_w / (bx1 - bx0), area_h / (by1 - by0)));
  v.cx = margin + area_w / 2 - v.scale * (bx0 + bx1) / 2;
  v.cy = top + margin + area_h / 2 - v.scale * (by0 + by1) / 2;
  /* back edges first (light), then the data, then front edges and axes */
  double cdepth = 0;
  int front_corner = 0;
  for (int corner = 0; corner < 8; corner++) {
    double p[3] = {corner & 1, (corner >> 1) & 1, (corner >> 2) & 1}, sx, sy, d;
    project(&v, p, &sx, &sy, &d);
    if (corner == 0 || d > cdepth) cdepth = d, front_corner = corner;
  }
  int back_corner = 7 ^ front_corner;
  cairo_set_line_width(cr, fmax(1, 0.5 * c.pt));
  for (int pass = 0; pass < 2; pass++) {
    for (int a = 0; a < 8; a++)
      for (int k = 0; k < 3; k++) {
        int b = a | (1 << k);
        if (b == a) continue;
        int touches_back = a == back_corner || b == back_corner;
        if (pass == 0 && !touches_back) continue;
        if (pass == 1 && touches_back) continue;
        double pa[3] = {a & 1, (a >> 1) & 1, (a >> 2) & 1};
        double pb[3] = {b & 1, (b >> 1) & 1, (b >> 2) & 1};
        double x0, y0, x1, y1;
        project(&v, pa, &x0, &y0, NULL);
        project(&v, pb, &x1, &y1, NULL);
        cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
        cairo_move_to(cr, x0, y0);
        cairo_line_to(cr, x1, y1);
        cairo_stroke(cr);
      }
    if (pass == 0) {
      /* grid on the floor (z = 0) at the x and y ticks */
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      for (int k = 0; k < 2; k++)
        for (int i = 0; i < ax[k].nt; i++) {
          double t = (ax[k].tick[i] - ax[k].lo) / (ax[k].hi - ax[k].lo);
          double p0[3] = {0, 0, 0}, p1[3] = {1, 1, 0};
          p0[k] = p1[k] = t;
          double x0, y0, x1, y1;
          project(&v, p0, &x0, &y0, NULL);
          project(&v, p1, &x1, &y1, NULL);
          cairo_move_to(cr, x0, y0);
          cairo_line_to(cr, x1, y1);
          cairo_stroke(cr);
        }
      for (size_t i = 0; i < n; i++) {
        double p[3], sx, sy;
        for (int k = 0; k < 3; k++) p[k] = (xyz[3 * i + k] - ax[k].lo) / (ax[k].hi - ax[k].lo);
        project(&v, p, &sx, &sy, &order[i].depth);
        order[i].i = i;
      }
      qsort(order, n, sizeof *order, cmp_depth);
      double alpha = o->alpha >= 0 ? o->alpha : 0.85;
      double r = o->point_size * c.pt;
      for (size_t j = 0; j < n; j++) {
        size_t i = order[j].i;
        double p[3], sx, sy;
        for (int k = 0; k < 3; k++) p[k] = (xyz[3 * i + k] - ax[k].lo) / (ax[k].hi - ax[k].lo);
        project(&v, p, &sx, &sy, NULL);
        nm_canvas_marker(&c, nm_group_slot(groups, grp ? grp[i] : 0), sx, sy, r, alpha);
      }
    }
  }
  /* Axes on the lowest (screen) bottom edges: for x the bottom edge along x
  ** that projects lowest; likewise y; z on the leftmost vertical edge. */
  boxes bx = {.n = 0};
  for (int dim = 0; dim < 3; dim++) {
    double best[3] = {0, 0, 0}, best_score = -INFINITY;
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++) {
        double p[3];
        int o1 = (dim + 1) % 3, o2 = (dim + 2) % 3;
        p[dim] = 0.5;
        p[o1] = a;
        p[o2] = b;
        if (dim != 2 && p[2] != 0) continue;
        double sx, sy;
        project(&v, p, &sx, &sy, NULL);
        double score = dim == 2 ? -sx : sy;
        if (score > best_score) best_score = score, memcpy(best, p, sizeof best);
      }
    draw_axis(&c, &v, &ax[dim], dim, best, lab[dim], &bx);
  }
  nm_canvas_title(&c, c.w / 2.0, 0.6 * f, title);
  if (legend) nm_canvas_legend(&c, c.w - lw - 0.6 * f, top + margin / 2, groups, groups->names, 2, 1, &lw, &lh);
  st = nm_canvas_png(&c, png, png_n, err);
  nm_canvas_close(&c);
  free(order);
  return st;
}
