/*
** plot_overlay.c — the groups on the original micrograph: the image in gray
** (0.5–99.5 % percentile stretch, so faint and dark micrographs both show),
** each particle's mask filled translucent in its group colour, its bounding
** box outlined in that colour and labelled with the group name, and a legend
** strip with the count per group under the image (never on top of it).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_canvas.h"

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Percentiles from a strided sample (at most ~1 M pixels) of the finite values. */
static void stretch_range(const nm_image *img, double *lo, double *hi) {
  size_t np = (size_t)img->width * (size_t)img->height;
  size_t step = np / 1000000 + 1, m = 0;
  float *s = malloc(sizeof *s * (np / step + 1));
  *lo = 0, *hi = 1;
  if (!s) return;
  for (size_t i = 0; i < np; i += step)
    if (isfinite(img->px[i])) s[m++] = img->px[i];
  if (m) {
    qsort(s, m, sizeof *s, cmp_float);
    *lo = s[(size_t)(0.005 * (m - 1))];
    *hi = s[(size_t)(0.995 * (m - 1))];
    if (!(*hi > *lo)) *lo = s[0], *hi = s[m - 1] > s[0] ? s[m - 1] : s[0] + 1;
  }
  free(s);
}

nm_status nm_plot_overlay(const nm_image *img, const nm_plot_box *boxes, size_t n,
                          const nm_plot_groups *groups, const nm_plot_opts *o,
                          unsigned char **png, size_t *png_n, nm_error *err) {
  *png = NULL;
  *png_n = 0;
  if (!img || !img->px || img->width < 1 || img->height < 1)
    return nm_fail(err, NM_ERR_ARG, "no micrograph pixels");
  if (!groups || groups->n < 1) return nm_fail(err, NM_ERR_ARG, "no groups");
  for (size_t i = 0; i < n; i++) {
    const nm_plot_box *b = &boxes[i];
    if (b->grp < 0 || b->grp >= groups->n)
      return nm_fail(err, NM_ERR_ARG, "particle %zu: group index out of range", i);
    if (!isfinite(b->x) || !isfinite(b->y) || !(b->w > 0) || !(b->h > 0) || !isfinite(b->w) ||
        !isfinite(b->h))
      return nm_fail(err, NM_ERR_ARG, "particle %zu: bounding box must be finite with w, h > 0", i);
    if (b->mask && (b->mask_w < 1 || b->mask_h < 1))
      return nm_fail(err, NM_ERR_ARG, "particle %zu: empty mask", i);
  }
  /* Output scale: the image size, or fit inside width × height if given. */
  double s = 1;
  if (o->width > 0) s = (double)o->width / img->width;
  if (o->height > 0) s = fmin(o->width > 0 ? s : INFINITY, (double)o->height / img->height);
  int iw = (int)lround(img->width * s), ih = (int)lround(img->height * s);
  if (iw < 16 || ih < 16) return nm_fail(err, NM_ERR_ARG, "overlay would be smaller than 16 px");
  size_t *count = nm_calloc((size_t)groups->n, sizeof *count, err);
  if (!count) return err->code;
  for (size_t i = 0; i < n; i++) count[boxes[i].grp]++;
  /* legend strip: measured with a scratch canvas, wrapped into rows */
  nm_canvas c = {0};
  nm_status st = nm_canvas_open(&c, iw > 64 ? iw : 64, 64, o, err);
  if (st != NM_OK) {
    free(count);
    return st;
  }
  double f = c.font, lh = nm_canvas_line_h(&c, f), pad = 0.6 * f;
  char buf[256];
  double x = pad, rows = 1;
  for (int g = 0; g < groups->n; g++) {
    snprintf(buf, sizeof buf, "group %s (%zu)", groups->names[g], count[g]);
    double w = 1.4 * f + nm_canvas_text_w(&c, buf, f, 0) + 1.2 * f;
    if (x + w > iw - pad && x > pad) x = pad, rows++;
    x += w;
  }
  const char *title = nm_plot_title(o, "");
  double title_h = title[0] ? nm_canvas_line_h(&c, 1.2 * f) + pad : 0;
  nm_canvas_close(&c);
  double top = title_h > 0 ? pad + title_h : 0;
  int H = (int)ceil(top + ih + pad + rows * (lh + 0.4 * f) + pad);
  double stretch_lo, stretch_hi;
  stretch_range(img, &stretch_lo, &stretch_hi);
  cairo_surface_t *gray = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width, img->height);
  st = nm_canvas_open(&c, iw, H, o, err);
  if (st != NM_OK || cairo_surface_status(gray) != CAIRO_STATUS_SUCCESS) {
    if (st == NM_OK) st = nm_fail(err, NM_ERR_NOMEM, "out of memory for a %d x %d image", img->width, img->height);
    goto done;
  }
  cairo_t *cr = c.cr;
  {
    unsigned char *d = cairo_image_surface_get_data(gray);
    int stride = cairo_image_surface_get_stride(gray);
    double k = 255.0 / (stretch_hi - stretch_lo);
    for (int yy = 0; yy < img->height; yy++) {
      uint32_t *row = (uint32_t *)(d + (size_t)yy * stride);
      const float *src = img->px + (size_t)yy * img->width;
      for (int xx = 0; xx < img->width; xx++) {
        double v = isfinite(src[xx]) ? (src[xx] - stretch_lo) * k : 0;
        uint32_t u = (uint32_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        row[xx] = (u << 16) | (u << 8) | u;
      }
    }
    cairo_surface_mark_dirty(gray);
  }
  cairo_save(cr);
  cairo_translate(cr, 0, top);
  cairo_scale(cr, s, s);
  cairo_set_source_surface(cr, gray, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), s < 1 ? CAIRO_FILTER_GOOD : CAIRO_FILTER_BILINEAR);
  cairo_paint(cr);
  double alpha = o->alpha >= 0 ? o->alpha : 0.35;
  if (o->fill) {
    for (size_t i = 0; i < n; i++) {
      const nm_plot_box *b = &boxes[i];
      int slot = nm_group_slot(groups, b->grp);
      if (!b->mask) {
        cairo_rectangle(cr, b->x, b->y, b->w, b->h);
        nm_canvas_rgb(&c, slot, alpha * 0.6);
        cairo_fill(cr);
        continue;
      }
      /* the mask as an A8 surface stretched over the box, painted through */
      cairo_surface_t *m = cairo_image_surface_create(CAIRO_FORMAT_A8, b->mask_w, b->mask_h);
      if (cairo_surface_status(m) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(m);
        continue;
      }
      unsigned char *md = cairo_image_surface_get_data(m);
      int ms = cairo_image_surface_get_stride(m);
      for (int yy = 0; yy < b->mask_h; yy++)
        for (int xx = 0; xx < b->mask_w; xx++)
          md[(size_t)yy * ms + xx] = b->mask[(size_t)yy * b->mask_w + xx] ? 255 : 0;
      cairo_surface_mark_dirty(m);
      cairo_save(cr);
      cairo_translate(cr, b->x, b->y);
      cairo_scale(cr, b->w / b->mask_w, b->h / b->mask_h);
      nm_canvas_rgb(&c, slot, alpha);
      cairo_mask_surface(cr, m, 0, 0);
      cairo_restore(cr);
      cairo_surface_destroy(m);
    }
  }
  cairo_restore(cr);
  /* outlines and labels in output pixels, so line width is in points */
  double lw = o->line_width * c.pt;
  for (size_t i = 0; i < n; i++) {
    const nm_plot_box *b = &boxes[i];
    int slot = nm_group_slot(groups, b->grp);
    double bx = b->x * s, by = top + b->y * s, bw = b->w * s, bh = b->h * s;
    cairo_rectangle(cr, bx, by, bw, bh);
    nm_canvas_line_style(&c, slot, lw);
    nm_canvas_rgb(&c, slot, 1);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (o->labels) {
      double fs = 0.8 * f, tw = nm_canvas_text_w(&c, groups->names[b->grp], fs, 1);
      double th = nm_canvas_line_h(&c, fs);
      double ly = by - th >= top ? by - th : by;
      cairo_rectangle(cr, bx, ly, tw + 0.4 * fs, th);
      nm_canvas_rgb(&c, slot, 0.9);
      cairo_fill(cr);
      double rgb[3];
      nm_plot_palette(slot, rgb);
      nm_canvas_ink_on(&c, rgb);
      nm_canvas_text(&c, bx + 0.2 * fs, ly, groups->names[b->grp], fs, 1, 0, 0, 0);
      nm_canvas_ink_reset(&c);
    }
  }
  nm_canvas_title(&c, iw / 2.0, pad, title);
  /* legend strip */
  x = pad;
  double ly = top + ih + pad;
  for (int g = 0; g < groups->n; g++) {
    snprintf(buf, sizeof buf, "group %s (%zu)", groups->names[g], count[g]);
    double w = 1.4 * f + nm_canvas_text_w(&c, buf, f, 0) + 1.2 * f;
    if (x + w > iw - pad && x > pad) x = pad, ly += lh + 0.4 * f;
    cairo_rectangle(cr, x, ly + 0.15 * lh, 0.7 * lh, 0.7 * lh);
    nm_canvas_rgb(&c, nm_group_slot(groups, g), 1);
    cairo_fill(cr);
    nm_canvas_text(&c, x + 1.4 * f, ly, buf, f, 0, 0, 0, 0);
    x += w;
  }
  st = nm_canvas_png(&c, png, png_n, err);
done:
  cairo_surface_destroy(gray);
  nm_canvas_close(&c);
  free(count);
  return st;
}
