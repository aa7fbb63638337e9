/*
** scalebar_synth.h — a seeded generator of micrographs with a burned-in scale
** bar and label, for testing the scale-bar reader (test_scalebar.c) and
** scoring it on hundreds of cases (tools/eval_scalebar.c).
**
** Each case takes a real micrograph and draws, with Cairo, a bar of a known
** fractional length and a label ("50 nm", "0.2 µm", "100nm", ...) in one of
** several fonts, sizes, corners and styles (dark or bright, on the image or
** in a solid box), then optionally round-trips it through JPEG at a random
** quality. The truth is the label's length in nm over the drawn bar length.
*/
#ifndef NM_TEST_SCALEBAR_SYNTH_H
#define NM_TEST_SCALEBAR_SYNTH_H

#include <stdio.h>
#include <cairo.h>
#include <jpeglib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct synth_case {
  char label[32];
  double label_nm;     /* the label's length in nm */
  double bar_px;       /* drawn bar length, px (fractional) */
  double truth_nm_per_px;
  const char *font;
  int style;           /* 0 dark on image, 1 bright on image, 2 white in black box, 3 black in white box
                          (0 on bright images, 1 on dark ones) */
  int corner;          /* 0 bottom-left, 1 bottom-right, 2 top-left, 3 top-right */
  int label_above;
  int jpeg_quality;    /* 0 = no JPEG */
  int bar_x, bar_y, bar_w, bar_h; /* pixel box the bar touches */
} synth_case;

static uint64_t synth_next(uint64_t *state) { /* splitmix64 */
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double synth_uniform(uint64_t *state) {
  return (double)(synth_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static int synth_pick(uint64_t *state, int n) { return (int)(synth_uniform(state) * n); }

/* Draws case number `index` of the set with `seed` onto a copy of base
** (w×h, 0..255 floats) in out. Returns 0, or -1 on a Cairo/JPEG failure. */
static int synth_draw(const float *base, int w, int h, uint64_t seed, int index,
                      synth_case *c, float *out) {
  static const char *fonts[] = {"DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono",
                                "Liberation Sans", "Liberation Serif", "DejaVu Sans Condensed"};
  static const struct { double nm; const char *text[3]; } values[] = {
      {2, {"2 nm", "2nm", "2 nm"}},          {5, {"5 nm", "5nm", "5 nm"}},
      {10, {"10 nm", "10nm", "10 nm"}},      {20, {"20 nm", "20nm", "20 nm"}},
      {50, {"50 nm", "50nm", "50 nm"}},      {100, {"100 nm", "100nm", "100 nm"}},
      {200, {"200 nm", "200nm", "200 nm"}},  {500, {"500 nm", "500nm", "500 nm"}},
      {100, {"0.1 \xc2\xb5m", "0.1 um", "0.1 \xce\xbcm"}},
      {200, {"0.2 \xc2\xb5m", "0.2 um", "0.2 \xce\xbcm"}},
      {500, {"0.5 \xc2\xb5m", "0.5um", "0.5 \xce\xbcm"}},
      {1000, {"1 \xc2\xb5m", "1 um", "1 \xce\xbcm"}},
      {2000, {"2 \xc2\xb5m", "2um", "2 \xc2\xb5m"}},
  };
  uint64_t st = seed * 1000003ULL + (uint64_t)index;
  synth_next(&st);
  memset(c, 0, sizeof *c);
  int v = synth_pick(&st, (int)(sizeof values / sizeof values[0]));
  snprintf(c->label, sizeof c->label, "%s", values[v].text[synth_pick(&st, 3)]);
  c->label_nm = values[v].nm;
  int side = w < h ? w : h;
  c->bar_px = side * (0.08 + 0.22 * synth_uniform(&st)) + synth_uniform(&st);
  c->truth_nm_per_px = c->label_nm / c->bar_px;
  c->font = fonts[synth_pick(&st, (int)(sizeof fonts / sizeof fonts[0]))];
  /* Microscope software draws a bar that contrasts with the field: dark on a
  ** bright (bright-field) image, bright on a dark one, or in a solid box. */
  double mean = 0;
  for (size_t i = 0; i < (size_t)w * h; i++) mean += base[i];
  mean /= (double)w * h;
  c->style = synth_pick(&st, 3) + 1;
  if (c->style == 1) c->style = mean < 110 ? 1 : 0;
  c->corner = synth_pick(&st, 4);
  c->label_above = synth_pick(&st, 4) != 0;
  c->jpeg_quality = synth_pick(&st, 3) == 0 ? 0 : 40 + synth_pick(&st, 56);
  double thick = fmax(2.0, side * (0.005 + 0.01 * synth_uniform(&st)));
  double font_px = fmax(12.0, side * (0.025 + 0.03 * synth_uniform(&st)));

  cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) return -1;
  unsigned char *data = cairo_image_surface_get_data(surface);
  int stride = cairo_image_surface_get_stride(surface);
  cairo_surface_flush(surface);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      float g = base[(size_t)y * w + x];
      uint8_t b = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g + 0.5f);
      uint32_t *p = (uint32_t *)(data + (size_t)y * stride) + x;
      *p = (uint32_t)b << 16 | (uint32_t)b << 8 | b;
    }
  cairo_surface_mark_dirty(surface);
  cairo_t *cr = cairo_create(surface);
  cairo_select_font_face(cr, c->font, CAIRO_FONT_SLANT_NORMAL,
                         synth_pick(&st, 2) ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, font_px);
  cairo_text_extents_t te;
  cairo_text_extents(cr, c->label, &te);
  double gap = font_px * 0.4, margin = side * 0.03;
  double block_w = fmax(c->bar_px, te.width), block_h = thick + gap + te.height;
  double bx = (c->corner % 2 == 0) ? margin : w - margin - block_w;
  double by = (c->corner < 2) ? h - margin - block_h : margin;
  double pad = font_px * 0.5;
  double ink = (c->style == 0 || c->style == 3) ? 0.0 : 1.0;
  if (c->style >= 2) {
    cairo_set_source_rgb(cr, 1 - ink, 1 - ink, 1 - ink);
    cairo_rectangle(cr, floor(bx - pad), floor(by - pad), ceil(block_w + 2 * pad),
                    ceil(block_h + 2 * pad));
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, ink, ink, ink);
  double bar_x = bx + (block_w - c->bar_px) / 2;
  double text_x = bx + (block_w - te.width) / 2 - te.x_bearing;
  double bar_y, text_baseline;
  if (c->label_above) {
    text_baseline = by - te.y_bearing;
    bar_y = by + te.height + gap;
  } else {
    bar_y = by;
    text_baseline = by + thick + gap - te.y_bearing;
  }
  /* Bars are drawn on whole rows (as microscope software does); the length
  ** and the ends stay fractional. */
  cairo_rectangle(cr, bar_x, round(bar_y), c->bar_px, round(thick));
  c->bar_x = (int)floor(bar_x);
  c->bar_y = (int)round(bar_y);
  c->bar_w = (int)ceil(bar_x + c->bar_px) - c->bar_x;
  c->bar_h = (int)round(thick);
  cairo_fill(cr);
  cairo_move_to(cr, text_x, text_baseline);
  cairo_show_text(cr, c->label);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  unsigned char *gray = malloc((size_t)w * h);
  if (!gray) {
    cairo_surface_destroy(surface);
    return -1;
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint32_t p = ((uint32_t *)(data + (size_t)y * stride))[x];
      gray[(size_t)y * w + x] = (uint8_t)((p >> 8) & 0xff);
    }
  cairo_surface_destroy(surface);
  if (c->jpeg_quality) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char *jbuf = NULL;
    unsigned long jlen = 0;
    jpeg_mem_dest(&cinfo, &jbuf, &jlen);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, c->jpeg_quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
      JSAMPROW row = gray + (size_t)cinfo.next_scanline * w;
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    struct jpeg_decompress_struct dinfo;
    dinfo.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&dinfo);
    jpeg_mem_src(&dinfo, jbuf, jlen);
    jpeg_read_header(&dinfo, TRUE);
    jpeg_start_decompress(&dinfo);
    while (dinfo.output_scanline < dinfo.output_height) {
      JSAMPROW row = gray + (size_t)dinfo.output_scanline * w;
      jpeg_read_scanlines(&dinfo, &row, 1);
    }
    jpeg_finish_decompress(&dinfo);
    jpeg_destroy_decompress(&dinfo);
    free(jbuf);
  }
  for (size_t i = 0; i < (size_t)w * h; i++) out[i] = gray[i];
  free(gray);
  return 0;
}

#endif /* NM_TEST_SCALEBAR_SYNTH_H */
