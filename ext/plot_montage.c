/*
** plot_montage.c — particle montages. NM_PLOT_MONTAGE: per group, a header
** ("group 2 · 57 particles (31 %) · 57 shown") and a grid of the first
** per_group particle tiles (210 in the paper). NM_PLOT_MONTAGE_ALL: every
** particle, so the blocks' areas are the population sizes, with a stacked
** bar of the group shares on top. Tiles are framed in their group colour.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

nm_status nm_plot_tile_make(const nm_image *img, int cell, uint8_t *out, nm_error *err) {
  if (!img || !img->px || img->width < 1 || img->height < 1)
    return nm_fail(err, NM_ERR_ARG, "tile: empty picture");
  if (cell < 1) return nm_fail(err, NM_ERR_ARG, "tile: cell must be >= 1");
  size_t np = (size_t)img->width * (size_t)img->height;
  double lo = 0, hi = 255;
  if (img->sample_float || img->sample_signed || img->bits > 16 || img->bits < 1) {
    lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < np; i++)
      if (isfinite(img->px[i])) lo = fmin(lo, img->px[i]), hi = fmax(hi, img->px[i]);
    if (!(hi > lo)) lo = 0, hi = 1;
  } else {
    hi = (double)((1u << img->bits) - 1);
  }
  /* border value: mean of the outer ring, used to pad the square */
  double ring = 0;
  size_t rn = 0;
  for (int x = 0; x < img->width; x++) {
    ring += img->px[x] + img->px[(size_t)(img->height - 1) * img->width + x];
    rn += 2;
  }
  for (int y = 0; y < img->height; y++) {
    ring += img->px[(size_t)y * img->width] + img->px[(size_t)y * img->width + img->width - 1];
    rn += 2;
  }
  double pad = isfinite(ring) ? ring / rn : lo;
  double scale = (double)cell / (img->width > img->height ? img->width : img->height);
  double ox = (cell - img->width * scale) / 2, oy = (cell - img->height * scale) / 2;
  for (int y = 0; y < cell; y++)
    for (int x = 0; x < cell; x++) {
      /* box-filter the source pixels this cell pixel covers (area average) */
      double sx0 = (x - ox) / scale, sx1 = (x + 1 - ox) / scale;
      double sy0 = (y - oy) / scale, sy1 = (y + 1 - oy) / scale;
      double acc = 0, wsum = 0;
      int ix0 = (int)floor(sx0), ix1 = (int)ceil(sx1), iy0 = (int)floor(sy0), iy1 = (int)ceil(sy1);
      for (int iy = iy0; iy < iy1; iy++)
        for (int ix = ix0; ix < ix1; ix++) {
          double wx = fmin(sx1, ix + 1) - fmax(sx0, ix), wy = fmin(sy1, iy + 1) - fmax(sy0, iy);
          if (wx <= 0 || wy <= 0) continue;
          double v = (ix < 0 || iy < 0 || ix >= img->width || iy >= img->height)
                         ? pad
                         : img->px[(size_t)iy * img->width + ix];
          if (!isfinite(v)) v = pad;
          acc += wx * wy * v;
          wsum += wx * wy;
        }
      double v = wsum > 0 ? acc / wsum : pad;
      double u = (v - lo) / (hi - lo) * 255.0;
      out[(size_t)y * cell + x] = (uint8_t)(u < 0 ? 0 : u > 255 ? 255 : lround(u));
    }
  return NM_OK;
}

nm_status nm_plot_montage(const uint8_t *const *tiles, const int *grp, size_t n,
                          const nm_plot_groups *groups, const nm_plot_opts *o,
                          unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "no particles to draw");
  nm_status st = nm_plot_check_groups(grp, n, groups, err);
  if (st != NM_OK) return st;
  int G = groups->n, all = o->kind == NM_PLOT_MONTAGE_ALL;
  size_t *count = nm_calloc((size_t)G, sizeof *count, err);
  if (!count) return err->code;
  for (size_t i = 0; i < n; i++) count[grp[i]]++;
  int cell = o->cell, gap = cell >= 32 ? 2 : 1, cols = o->columns;
  /* Measure on a scratch canvas so that header text sizes are exact. */
  nm_canvas m = {0};
  st = nm_canvas_open(&m, 64, 64, o, err);
  if (st != NM_OK) {
    free(count);
    return st;
  }
  double f = m.font, lh = nm_canvas_line_h(&m, f);
  double pad = 0.8 * f;
  const char *title = nm_plot_title(o, "");
  double title_h = title[0] ? nm_canvas_line_h(&m, 1.2 * f) + 0.6 * f : 0;
  double bar_h = all ? 2.2 * f + lh + 0.6 * f : 0;
  double grid_w = (double)cols * (cell + gap) - gap;
  /* wide enough for the grid, the title, the caption and every header */
  char buf[256];
  double text_w = title[0] ? nm_canvas_text_w(&m, title, 1.2 * f, 1) : 0;
  snprintf(buf, sizeof buf, "%zu particles in %d groups (bar widths and block areas = shares)", n, G);
  if (all) text_w = fmax(text_w, nm_canvas_text_w(&m, buf, f, 0));
  for (int g = 0; g < G; g++) {
    snprintf(buf, sizeof buf, "group %s \xc2\xb7 %zu particles (100.0 %%) \xc2\xb7 first %d shown",
             groups->names[g], count[g], o->per_group);
    text_w = fmax(text_w, lh + nm_canvas_text_w(&m, buf, f, 1));
  }
  nm_canvas_close(&m);
  int W = (int)ceil(fmax(grid_w, text_w) + 2 * pad);
  double H = pad + title_h + bar_h;
  for (int g = 0; g < G; g++) {
    size_t shown = o->per_group > 0 && count[g] > (size_t)o->per_group ? (size_t)o->per_group : count[g];
    size_t rows = (shown + cols - 1) / cols;
    H += lh + 0.5 * f + (double)rows * (cell + gap) + pad;
  }
  if (H > NM_PLOT_MAX_SIDE || (double)W * H > NM_PLOT_MAX_PIXELS) {
    free(count);
    return nm_fail(err, NM_ERR_TOOBIG,
                   "montage would be %d x %.0f px; lower 'cell' or 'per_group', or raise 'columns'",
                   W, H);
  }
  nm_canvas c = {0};
  st = nm_canvas_open(&c, W, (int)ceil(H), o, err);
  if (st != NM_OK) {
    free(count);
    return st;
  }
  cairo_t *cr = c.cr;
  cairo_surface_t *tile = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cell, cell);
  double y = pad;
  if (title[0]) {
    nm_canvas_title(&c, W / 2.0, y, title);
    y += title_h;
  }
  if (all) {
    /* stacked bar of group shares */
    double x = pad, bw = W - 2 * pad, bh = 1.6 * f;
    for (int g = 0; g < G; g++) {
      double w = bw * (double)count[g] / (double)n;
      cairo_rectangle(cr, x, y, w, bh);
      nm_canvas_rgb(&c, nm_group_slot(groups, g), 1);
      cairo_fill(cr);
      snprintf(buf, sizeof buf, "%s", groups->names[g]);
      if (nm_canvas_text_w(&c, buf, 0.85 * f, 1) < w - 0.3 * f) {
        double rgb[3];
        nm_plot_palette(nm_group_slot(groups, g), rgb);
        nm_canvas_ink_on(&c, rgb);
        nm_canvas_text(&c, x + w / 2, y + bh / 2, buf, 0.85 * f, 1, 0.5, 0.5, 0);
        nm_canvas_ink_reset(&c);
      }
      x += w;
    }
    snprintf(buf, sizeof buf, "%zu particles in %d groups (bar widths and block areas = shares)", n, G);
    nm_canvas_text(&c, pad, y + bh + 0.4 * f, buf, f, 0, 0, 0, 0);
    y += bar_h;
  }
  size_t *next = nm_calloc((size_t)G, sizeof *next, err); /* tiles drawn per group */
  size_t *start = nm_calloc((size_t)G, sizeof *start, err);
  if (!next || !start || cairo_surface_status(tile) != CAIRO_STATUS_SUCCESS) {
    st = next && start ? nm_fail(err, NM_ERR_NOMEM, "out of memory") : err->code;
    goto done;
  }
  for (int g = 0; g < G; g++) {
    size_t shown = o->per_group > 0 && count[g] > (size_t)o->per_group ? (size_t)o->per_group : count[g];
    int slot = nm_group_slot(groups, g);
    cairo_rectangle(cr, pad, y + 0.1 * lh, 0.8 * lh, 0.8 * lh);
    nm_canvas_rgb(&c, slot, 1);
    cairo_fill(cr);
    if (shown < count[g])
      snprintf(buf, sizeof buf, "group %s \xc2\xb7 %zu particles (%.1f %%) \xc2\xb7 first %zu shown",
               groups->names[g], count[g], 100.0 * count[g] / n, shown);
    else
      snprintf(buf, sizeof buf, "group %s \xc2\xb7 %zu particles (%.1f %%)", groups->names[g],
               count[g], 100.0 * count[g] / n);
    nm_canvas_text(&c, pad + lh, y, buf, f, 1, 0, 0, 0);
    start[g] = (size_t)(y + lh + 0.5 * f);
    size_t rows = (shown + cols - 1) / cols;
    y += lh + 0.5 * f + (double)rows * (cell + gap) + pad;
  }
  unsigned char *td = cairo_image_surface_get_data(tile);
  int ts = cairo_image_surface_get_stride(tile);
  for (size_t i = 0; i < n; i++) {
    int g = grp[i];
    size_t shown = o->per_group > 0 && count[g] > (size_t)o->per_group ? (size_t)o->per_group : count[g];
    if (next[g] >= shown) continue;
    size_t k = next[g]++;
    double tx = pad + (double)(k % cols) * (cell + gap);
    double ty = (double)start[g] + (double)(k / cols) * (cell + gap);
    cairo_surface_flush(tile);
    const uint8_t *src = tiles[i];
    for (int yy = 0; yy < cell; yy++) {
      uint32_t *row = (uint32_t *)(td + (size_t)yy * ts);
      for (int xx = 0; xx < cell; xx++) {
        uint32_t v = src ? src[(size_t)yy * cell + xx] : 160;
        if (o->invert) v = 255 - v;
        row[xx] = (v << 16) | (v << 8) | v;
      }
    }
    cairo_surface_mark_dirty(tile);
    cairo_set_source_surface(cr, tile, tx, ty);
    cairo_paint(cr);
    cairo_rectangle(cr, tx + 0.5, ty + 0.5, cell - 1, cell - 1);
    nm_canvas_rgb(&c, nm_group_slot(groups, g), 1);
    cairo_set_line_width(cr, cell >= 32 ? 2 : 1);
    cairo_stroke(cr);
  }
  st = nm_canvas_png(&c, png, png_n, err);
done:
  cairo_surface_destroy(tile);
  nm_canvas_close(&c);
  free(next);
  free(start);
  free(count);
  return st;
}
