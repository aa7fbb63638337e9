/*
** plot_canvas.h — what the figure files (plot_*.c) share: a Cairo image
** surface sized from nm_plot_opts, text in DejaVu Sans, "nice" axis ticks, a
** framed 2-D axes box with ticks and labels, a legend, and the PNG encoder.
** Private to ext/plot*.c; the public contract is plot.h.
**
** Layout rule that keeps labels from being clipped: margins are measured from
** the actual text extents (tick labels, axis labels, title) before the plot
** rectangle is placed, never fixed pixel counts.
*/
#ifndef NM_PLOT_CANVAS_H
#define NM_PLOT_CANVAS_H

#include <cairo.h>

#include "plot.h"

typedef struct nm_canvas {
  cairo_surface_t *surface;
  cairo_t *cr;
  int w, h;
  double pt;        /* pixels per point: dpi / 72 */
  double font;      /* body text size in px */
  double ink[3];    /* text colour, dark gray unless a figure changes it */
} nm_canvas;

/* A white canvas of w×h px (checked against NM_PLOT_MAX_SIDE / _PIXELS). */
nm_status nm_canvas_open(nm_canvas *c, int w, int h, const nm_plot_opts *o,
                         nm_error *err);
void nm_canvas_close(nm_canvas *c);
/* Encodes the canvas as an 8-bit RGB PNG (malloc'd) and reports Cairo errors. */
nm_status nm_canvas_png(nm_canvas *c, unsigned char **png, size_t *png_n,
                        nm_error *err);

/* Text anchored at (x, y): ha 0 left / 0.5 centre / 1 right, va 0 top /
** 0.5 middle / 1 bottom of the font's ascent+descent box; angle in radians
** (counter-clockwise, e.g. M_PI/2 for a y-axis label). */
void nm_canvas_text(nm_canvas *c, double x, double y, const char *text,
                    double size, int bold, double ha, double va, double angle);
double nm_canvas_text_w(nm_canvas *c, const char *text, double size, int bold);
/* The figure title, bold, centred at x, top at y; its size shrinks (down to
** body size) when it would be wider than the canvas, so it is never clipped
** unless it cannot fit at all. */
void nm_canvas_title(nm_canvas *c, double x, double y, const char *title);
/* Height of one line of text (ascent + descent) at size px. */
double nm_canvas_line_h(nm_canvas *c, double size);

void nm_canvas_rgb(nm_canvas *c, int slot, double alpha);
/* Sets the text colour for text on a background of this colour: white on
** dark backgrounds, dark gray on light ones (by relative luminance).
** nm_canvas_ink_reset() restores the default. */
void nm_canvas_ink_on(nm_canvas *c, const double rgb[3]);
void nm_canvas_ink_reset(nm_canvas *c);
/* A marker for palette slot (shape varies with slot / 8: circle, square,
** triangle), radius r px, filled in the slot colour with alpha. */
void nm_canvas_marker(nm_canvas *c, int slot, double x, double y, double r,
                      double alpha);
/* Dash pattern for slot / 8 (solid, dashed, dotted), width w px. */
void nm_canvas_line_style(nm_canvas *c, int slot, double w);

/* An axis: data range lo..hi with nice tick positions. */
typedef struct nm_axis {
  double lo, hi;
  double tick[40];
  int nt;
  double step;
} nm_axis;

/* Ticks at 1, 2, 5 × 10^k covering [lo, hi]; extend=1 widens lo/hi to the
** outer ticks. A zero-width range is widened first. */
void nm_axis_nice(nm_axis *a, double lo, double hi, int target, int extend);
/* A tick label: integers plainly, else %.3g-style with the step's precision. */
void nm_axis_label(const nm_axis *a, double v, char *buf, size_t n);

typedef struct nm_rect {
  double x, y, w, h;
} nm_rect;

/* The plot rectangle left after the title (top), the x tick labels and x
** label (bottom), the y tick labels and y label (left), and `right` extra
** px. y may be NULL (no y ticks). */
nm_rect nm_canvas_plot_rect(nm_canvas *c, const nm_axis *y, const char *title,
                            const char *xlabel, const char *ylabel,
                            double right);
/* Frame, ticks and tick labels of x (may be NULL) and y (may be NULL), the
** axis labels and the title. */
void nm_canvas_axes(nm_canvas *c, nm_rect r, const nm_axis *x, const nm_axis *y,
                    const char *title, const char *xlabel, const char *ylabel);
double nm_map(const nm_axis *a, double v, double p0, double p1);

/* Legend entries: text per group, drawn as a boxed list with a swatch
** (kind 0 filled box, 1 line, 2 marker). Returns its size in *w, *h;
** draw=0 only measures. */
void nm_canvas_legend(nm_canvas *c, double x, double y, const nm_plot_groups *g,
                      const char *const *text, int kind, int draw, double *w,
                      double *h);
int nm_group_slot(const nm_plot_groups *g, int i);
/* The figure's title: the user's option if set, else `fallback`. */
const char *nm_plot_title(const nm_plot_opts *o, const char *fallback);
const char *nm_plot_label(const char *opt, const char *fallback);
/* Validates grp[i] against groups->n (NULL grp allowed) and x finite. */
nm_status nm_plot_check_groups(const int *grp, size_t n,
                               const nm_plot_groups *g, nm_error *err);

#endif /* NM_PLOT_CANVAS_H */
