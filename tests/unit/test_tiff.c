/*
** test_tiff.c — the TIFF reader on files written at test time with libtiff
** into /tmp: every sample type, strips and tiles (partial edge tiles),
** separate planes, palette, min-is-white, bilevel, multi-page; pixel values
** must come back exactly. Then calibration from ImageJ descriptions and
** resolution tags (a bare dpi must NOT calibrate), and every error path on
** hand-made broken files: truncated, 0x0, over the pixel cap, unsupported
** sample format, frame past the last page. Errors must name the file.
** Vendor tags written with libtiff (TIFFMergeFieldInfo): the Zeiss data zone
** found in the pixels only on CZ_SEM pages and only when it is a framed white
** box at the bottom; Olympus SIS 33560 blocks on another page than the one
** read, every kind of truncated or unusable block (no size, a reason, never
** the page's 72 dpi), and an INI-only (33471) file.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "../../ext/image.h"
#include "check.h"

static char dir[256];

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

/* Deterministic test value of pixel (x, y) on page p, kept within the type. */
static double value_at(int x, int y, int p, int bps, int fmt) {
  long v = (long)x * 7 + (long)y * 13 + p * 101;
  if (fmt == SAMPLEFORMAT_IEEEFP) return (double)v * 0.25 - 100.5;
  if (fmt == SAMPLEFORMAT_INT) {
    long range = 1L << (bps - 1);
    return (double)(v % range) - (double)(range / 2);
  }
  return (double)(v % (1L << (bps < 16 ? bps : 16)));
}

static void put_sample(uint8_t *buf, size_t k, double v, int bps, int fmt) {
  switch (bps) {
    case 8:
      if (fmt == SAMPLEFORMAT_INT) ((int8_t *)buf)[k] = (int8_t)v;
      else buf[k] = (uint8_t)v;
      break;
    case 16:
      if (fmt == SAMPLEFORMAT_INT) ((int16_t *)buf)[k] = (int16_t)v;
      else ((uint16_t *)buf)[k] = (uint16_t)v;
      break;
    case 32:
      if (fmt == SAMPLEFORMAT_IEEEFP) ((float *)buf)[k] = (float)v;
      else if (fmt == SAMPLEFORMAT_INT) ((int32_t *)buf)[k] = (int32_t)v;
      else ((uint32_t *)buf)[k] = (uint32_t)v;
      break;
    case 64: ((double *)buf)[k] = v; break;
  }
}

typedef struct spec {
  int w, h, bps, fmt, pages;
  int tile;            /* 0: strips of 3 rows; else tile size */
  uint16_t compression;
} spec;

static int write_gray(const char *path, const spec *s) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return 0;
  size_t bytes = (size_t)s->bps / 8;
  for (int p = 0; p < s->pages; p++) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, s->w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, s->h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, s->bps);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, s->fmt);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, s->compression ? s->compression : COMPRESSION_NONE);
    if (s->pages > 1) {
      TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
      TIFFSetField(t, TIFFTAG_PAGENUMBER, p, s->pages);
    }
    if (s->tile) {
      TIFFSetField(t, TIFFTAG_TILEWIDTH, s->tile);
      TIFFSetField(t, TIFFTAG_TILELENGTH, s->tile);
      uint8_t *tb = calloc((size_t)s->tile * s->tile, bytes);
      for (int y0 = 0; y0 < s->h; y0 += s->tile)
        for (int x0 = 0; x0 < s->w; x0 += s->tile) {
          memset(tb, 0, (size_t)s->tile * s->tile * bytes);
          for (int y = 0; y < s->tile; y++)
            for (int x = 0; x < s->tile; x++)
              if (x0 + x < s->w && y0 + y < s->h)
                put_sample(tb, (size_t)y * s->tile + x, value_at(x0 + x, y0 + y, p, s->bps, s->fmt),
                           s->bps, s->fmt);
          TIFFWriteTile(t, tb, (uint32_t)x0, (uint32_t)y0, 0, 0);
        }
      free(tb);
    } else {
      TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
      uint8_t *row = calloc((size_t)s->w, bytes);
      for (int y = 0; y < s->h; y++) {
        for (int x = 0; x < s->w; x++)
          put_sample(row, (size_t)x, value_at(x, y, p, s->bps, s->fmt), s->bps, s->fmt);
        TIFFWriteScanline(t, row, (uint32_t)y, 0);
      }
      free(row);
    }
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  return 1;
}

static void check_gray(const char *name, const spec *s) {
  const char *path = tmp_path(name);
  CHECK(write_gray(path, s));
  for (int p = 0; p < s->pages; p++) {
    nm_read_opts o;
    nm_read_opts_default(&o);
    o.frame = p;
    nm_image im;
    nm_error err = {0};
    nm_status st = nm_image_read_file(path, &o, &im, &err);
    CHECK_OK(st, err);
    if (st != NM_OK) return;
    CHECK(!strcmp(im.format, "tiff"));
    CHECK(im.width == s->w && im.height == s->h);
    CHECK(im.bits == s->bps && im.channels == 1 && im.frames == s->pages);
    CHECK(im.sample_float == (s->fmt == SAMPLEFORMAT_IEEEFP));
    CHECK(im.sample_signed == (s->fmt == SAMPLEFORMAT_INT));
    int bad = 0;
    for (int y = 0; y < s->h; y++)
      for (int x = 0; x < s->w; x++) {
        double want = value_at(x, y, p, s->bps, s->fmt);
        if (s->bps == 32 && s->fmt == SAMPLEFORMAT_IEEEFP) want = (float)want;
        if (im.px[(size_t)y * s->w + x] != (float)want) bad++;
      }
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "  %s page %d: %d pixels differ\n", name, p, bad);
    CHECK(!nm_calib_known(&im.calib) && im.calib.reason[0]);
    nm_image_free(&im);
  }
}

static void sample_types(void) {
  check_gray("u8.tif", &(spec){37, 21, 8, SAMPLEFORMAT_UINT, 1, 0, 0});
  check_gray("u16.tif", &(spec){37, 21, 16, SAMPLEFORMAT_UINT, 1, 0, 0});
  check_gray("u32.tif", &(spec){37, 21, 32, SAMPLEFORMAT_UINT, 1, 0, 0});
  check_gray("s8.tif", &(spec){37, 21, 8, SAMPLEFORMAT_INT, 1, 0, 0});
  check_gray("s16.tif", &(spec){37, 21, 16, SAMPLEFORMAT_INT, 1, 0, 0});
  check_gray("s32.tif", &(spec){37, 21, 32, SAMPLEFORMAT_INT, 1, 0, 0});
  check_gray("f32.tif", &(spec){37, 21, 32, SAMPLEFORMAT_IEEEFP, 1, 0, 0});
  check_gray("f64.tif", &(spec){37, 21, 64, SAMPLEFORMAT_IEEEFP, 1, 0, 0});
  check_gray("u16_lzw.tif", &(spec){37, 21, 16, SAMPLEFORMAT_UINT, 1, 0, COMPRESSION_LZW});
  check_gray("f32_deflate.tif",
             &(spec){37, 21, 32, SAMPLEFORMAT_IEEEFP, 1, 0, COMPRESSION_ADOBE_DEFLATE});
  /* tiles with partial edge tiles */
  check_gray("u8_tiled.tif", &(spec){37, 21, 8, SAMPLEFORMAT_UINT, 1, 16, 0});
  check_gray("u16_tiled.tif", &(spec){37, 21, 16, SAMPLEFORMAT_UINT, 1, 16, 0});
  check_gray("f32_tiled.tif", &(spec){40, 33, 32, SAMPLEFORMAT_IEEEFP, 1, 16, COMPRESSION_LZW});
  /* pages */
  check_gray("u16_pages.tif", &(spec){20, 11, 16, SAMPLEFORMAT_UINT, 3, 0, 0});
  check_gray("f32_tiled_pages.tif", &(spec){20, 11, 32, SAMPLEFORMAT_IEEEFP, 2, 16, 0});
}

/* Colour and odd photometrics, written scanline by scanline. */
static void colour(void) {
  const char *path = tmp_path("rgb.tif");
  TIFF *t = TIFFOpen(path, "w");
  int w = 5, h = 4;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  uint8_t row[15];
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      row[3 * x] = (uint8_t)(10 * x);
      row[3 * x + 1] = (uint8_t)(20 * y);
      row[3 * x + 2] = 200;
    }
    TIFFWriteScanline(t, row, (uint32_t)y, 0);
  }
  TIFFClose(t);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_file(path, NULL, &im, &err), err);
  if (im.px) {
    CHECK(im.channels == 3 && im.bits == 8);
    CHECK_NEAR(im.px[2 * w + 3], 0.299 * 30 + 0.587 * 40 + 0.114 * 200, 1e-4);
  }
  nm_image_free(&im);

  /* separate planes */
  path = tmp_path("rgb_planar.tif");
  t = TIFFOpen(path, "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_SEPARATE);
  uint16_t prow[5];
  for (int s = 0; s < 3; s++)
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) prow[x] = (uint16_t)(1000 * s + 10 * x + y);
      TIFFWriteScanline(t, prow, (uint32_t)y, (uint16_t)s);
    }
  TIFFClose(t);
  CHECK_OK(nm_image_read_file(path, NULL, &im, &err), err);
  if (im.px) {
    double r = 10 * 3 + 2, g = 1000 + r, b = 2000 + r;
    CHECK_NEAR(im.px[2 * w + 3], 0.299 * r + 0.587 * g + 0.114 * b, 1e-2);
  }
  nm_image_free(&im);

  /* palette: luma of the 16-bit map, in the 8-bit scale */
  path = tmp_path("palette.tif");
  t = TIFFOpen(path, "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 4);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_PALETTE);
  uint16_t rmap[256], gmap[256], bmap[256];
  for (int i = 0; i < 256; i++) {
    rmap[i] = gmap[i] = bmap[i] = (uint16_t)(257 * (255 - i)); /* inverted gray */
  }
  rmap[3] = 65535, gmap[3] = 0, bmap[3] = 0; /* one red entry */
  TIFFSetField(t, TIFFTAG_COLORMAP, rmap, gmap, bmap);
  uint8_t idx[4] = {0, 1, 255, 3};
  TIFFWriteScanline(t, idx, 0, 0);
  TIFFClose(t);
  CHECK_OK(nm_image_read_file(path, NULL, &im, &err), err);
  if (im.px) {
    CHECK_NEAR(im.px[0], 255, 1e-3);
    CHECK_NEAR(im.px[1], 254, 1e-3);
    CHECK_NEAR(im.px[2], 0, 1e-3);
    CHECK_NEAR(im.px[3], 0.299 * 255, 1e-3);
  }
  nm_image_free(&im);

  /* min-is-white 8-bit is inverted; bilevel 1-bit unpacked */
  path = tmp_path("miniswhite.tif");
  t = TIFFOpen(path, "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 3);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  uint8_t mw[3] = {0, 100, 255};
  TIFFWriteScanline(t, mw, 0, 0);
  TIFFClose(t);
  CHECK_OK(nm_image_read_file(path, NULL, &im, &err), err);
  if (im.px) CHECK(im.px[0] == 255 && im.px[1] == 155 && im.px[2] == 0);
  nm_image_free(&im);

  path = tmp_path("bilevel.tif");
  t = TIFFOpen(path, "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 10);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 2);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  uint8_t bits[2][2] = {{0xA5, 0xC0}, {0x0F, 0x40}};
  TIFFWriteScanline(t, bits[0], 0, 0);
  TIFFWriteScanline(t, bits[1], 1, 0);
  TIFFClose(t);
  CHECK_OK(nm_image_read_file(path, NULL, &im, &err), err);
  if (im.px) {
    const float want[20] = {1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1};
    CHECK(memcmp(im.px, want, sizeof want) == 0);
    CHECK(im.bits == 1);
  }
  nm_image_free(&im);
}

/* One 8-bit page with resolution tags and an optional description. */
static const char *write_calibrated(const char *name, float xres, float yres, uint16_t unit,
                                    const char *description) {
  const char *path = tmp_path(name);
  TIFF *t = TIFFOpen(path, "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 4);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 4);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  if (xres > 0) {
    TIFFSetField(t, TIFFTAG_XRESOLUTION, xres);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, yres);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, unit);
  }
  if (description) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, description);
  uint8_t row[4] = {1, 2, 3, 4};
  for (int y = 0; y < 4; y++) TIFFWriteScanline(t, row, (uint32_t)y, 0);
  TIFFClose(t);
  return path;
}

static void calibration(void) {
  nm_image im;
  nm_error err = {0};
  nm_read_opts o;
  nm_read_opts_default(&o);
  o.header_only = 1;
  /* ImageJ: 1/XResolution in the description's unit */
  const char *p = write_calibrated("ij_nm.tif", 4.0f, 4.0f, RESUNIT_NONE,
                                   "ImageJ=1.53t\nunit=nm\nspacing=2.5\n");
  CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
  CHECK(im.px == NULL);
  CHECK(!strcmp(im.calib.source, "tiff:imagej"));
  CHECK_NEAR(im.calib.nm_per_px_x, 0.25, 1e-9);
  nm_image_free(&im);
  p = write_calibrated("ij_micron.tif", 2.0f, 0.5f, RESUNIT_NONE, "ImageJ=1.51\nunit=micron\n");
  CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
  CHECK_NEAR(im.calib.nm_per_px_x, 500, 1e-6);
  CHECK_NEAR(im.calib.nm_per_px_y, 2000, 1e-6);
  nm_image_free(&im);
  p = write_calibrated("ij_escaped.tif", 2.0f, 2.0f, RESUNIT_NONE, "ImageJ=1.51\nunit=\\u00B5m\n");
  CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
  CHECK_NEAR(im.calib.nm_per_px_x, 500, 1e-6);
  nm_image_free(&im);
  p = write_calibrated("ij_pixel.tif", 1.0f, 1.0f, RESUNIT_NONE, "ImageJ=1.51\nunit=pixel\n");
  CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
  CHECK(!nm_calib_known(&im.calib) && im.calib.reason[0]);
  nm_image_free(&im);
  /* a physical resolution: 1e7 px/cm = 1 nm */
  p = write_calibrated("res_cm.tif", 1e7f, 5e6f, RESUNIT_CENTIMETER, NULL);
  CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
  CHECK(!strcmp(im.calib.source, "tiff:resolution"));
  CHECK_NEAR(im.calib.nm_per_px_x, 1.0, 1e-6);
  CHECK_NEAR(im.calib.nm_per_px_y, 2.0, 1e-6);
  nm_image_free(&im);
  /* bare dpi values are NOT a calibration */
  const float dpis[] = {72, 96, 150, 300, 600, 2400, 4800};
  for (size_t i = 0; i < sizeof dpis / sizeof dpis[0]; i++) {
    p = write_calibrated("dpi.tif", dpis[i], dpis[i], RESUNIT_INCH, NULL);
    CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
    CHECK(!nm_calib_known(&im.calib));
    CHECK(strstr(im.calib.reason, "not a physical") != NULL);
    nm_image_free(&im);
  }
  /* no resolution at all */
  p = write_calibrated("plain.tif", 0, 0, 0, NULL);
  CHECK_OK(nm_image_read_file(p, &o, &im, &err), err);
  CHECK(!nm_calib_known(&im.calib) && im.calib.reason[0] && !im.calib.source[0]);
  nm_image_free(&im);
}

/* ---- vendor private tags written with libtiff ---- */

static void put16le(uint8_t *b, uint16_t v) { b[0] = (uint8_t)v, b[1] = (uint8_t)(v >> 8); }
static void put32le(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* The private tags these tests write; libtiff must know a tag to write it. */
static const TIFFFieldInfo vendor_fields[] = {
    {34118, TIFF_VARIABLE, TIFF_VARIABLE, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "CZ_SEM"},
    {33471, TIFF_VARIABLE, TIFF_VARIABLE, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "OlympusINI"},
    {33560, 1, 1, TIFF_LONG, FIELD_CUSTOM, 1, 0, "OlympusSIS"},
};

typedef struct vendor_page {
  const uint8_t *px;    /* w*h 8-bit gray */
  int w, h;
  const char *cz_sem;   /* tag 34118 text or NULL */
  const char *sis_ini;  /* tag 33471 text or NULL */
  int sis_block;        /* 1: tag 33560 = sis_offset */
} vendor_page;

static size_t file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n > 0 ? (size_t)n : 0;
}

/* Writes the pages (72 dpi on each, which must never calibrate) with tag
** 33560 = sis_offset where asked; returns the file size. */
static size_t write_vendor(const char *path, const vendor_page *pages, int npages,
                           uint32_t sis_offset) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return 0;
  for (int p = 0; p < npages; p++) {
    const vendor_page *pg = &pages[p];
    /* each new directory starts from libtiff's own field list */
    if (!TIFFFindField(t, 33471, TIFF_ANY))
      TIFFMergeFieldInfo(t, vendor_fields, sizeof vendor_fields / sizeof vendor_fields[0]);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, pg->w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, pg->h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 72.0f);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, 72.0f);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    if (npages > 1) TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    if (pg->cz_sem) TIFFSetField(t, 34118, pg->cz_sem);
    if (pg->sis_ini) TIFFSetField(t, 33471, pg->sis_ini);
    if (pg->sis_block) TIFFSetField(t, 33560, sis_offset);
    for (int y = 0; y < pg->h; y++)
      TIFFWriteScanline(t, (void *)(pg->px + (size_t)y * pg->w), (uint32_t)y, 0);
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  return file_size(path);
}

/* The file's bytes followed by `extra`, in a fresh buffer of *n bytes. */
static uint8_t *bytes_plus(const char *path, const uint8_t *extra, size_t nextra, size_t *n) {
  size_t len = file_size(path);
  uint8_t *buf = malloc(len + nextra + 1);
  FILE *f = fopen(path, "rb");
  if (!buf || !f || fread(buf, 1, len, f) != len) {
    if (f) fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f);
  if (nextra) memcpy(buf + len, extra, nextra);
  *n = len + nextra;
  return buf;
}

/* Textured "sample" (never flat, never black or white) of w x h. */
static uint8_t *sample_texture(int w, int h) {
  uint8_t *px = malloc((size_t)w * h);
  uint32_t r = 12345;
  for (size_t i = 0; i < (size_t)w * h; i++) {
    r = r * 1103515245u + 12345u;
    px[i] = (uint8_t)(60 + (r >> 16) % 140);
  }
  return px;
}

/* A Zeiss-style data zone: black frame rows y0 and y1 and columns x0 and x1,
** a white panel inside with a few black "text" blocks (about 10 %). */
static void draw_zone(uint8_t *px, int w, int y0, int y1, int x0, int x1) {
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) {
      int border = y == y0 || y == y1 || x == x0 || x == x1;
      int text = y > y0 + 3 && y < y1 - 3 && (x / 6) % 4 == 1 && (x / 60) % 2 == 0;
      px[(size_t)y * w + x] = border || text ? 0 : 255;
    }
}

static const char *CZ_SEM_TEXT =
    "0\r\n0\r\n0\r\n1.0e-008\r\n5.0e+004\r\nAP_PIXEL_SIZE\r\nPixel Size = 10.00 nm\r\n";

/* Reads the file (pixels and header only) and returns the data bar rows,
** -1 when the two reads disagree or fail. */
static int zone_rows(const char *path) {
  int got[2] = {-2, -3};
  for (int header_only = 0; header_only < 2; header_only++) {
    nm_read_opts o;
    nm_read_opts_default(&o);
    o.header_only = header_only;
    nm_image im;
    nm_error err = {0};
    if (nm_image_read_file(path, &o, &im, &err) != NM_OK) return -1;
    got[header_only] = im.calib.databar_rows;
    if (im.calib.databar_rows && !strstr(im.calib.databar_rule, "Zeiss data zone")) got[0] = -4;
    if (!im.calib.databar_rows && im.calib.databar_rule[0]) got[0] = -5;
    nm_image_free(&im);
  }
  return got[0] == got[1] ? got[0] : -1;
}

static void zeiss_zone(void) {
  const int w = 256, h = 192;
  const char *path = tmp_path("zeiss.tif");
  uint8_t *px = sample_texture(w, h);
  vendor_page pg = {px, w, h, CZ_SEM_TEXT, NULL, 0};
  /* the corpus geometry: frame from row 170 to 190 (one image row below),
  ** columns 1..254 (image columns beside it) -> 22 rows cropped */
  draw_zone(px, w, 170, 190, 1, 254);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 22);
  nm_image im;
  nm_error err = {0};
  nm_read_opts o;
  nm_read_opts_default(&o);
  CHECK_OK(nm_image_read_file(path, &o, &im, &err), err);
  CHECK(!strcmp(im.calib.source, "tiff:zeiss"));
  CHECK_NEAR(im.calib.nm_per_px_x, 10.0 * 1024 / w, 1e-9);
  nm_image_free(&im);
  /* the same pixels without the CZ_SEM tag: not a Zeiss file, nothing cropped */
  pg.cz_sem = NULL;
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  pg.cz_sem = CZ_SEM_TEXT;
  /* a box reaching the last row and the side columns: 22 rows */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  draw_zone(px, w, 170, 191, 0, 255);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 22);
  /* no box */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  /* taller than a quarter of the height */
  draw_zone(px, w, 130, 190, 1, 254);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  /* too narrow: the border runs over 70 % of the width */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  draw_zone(px, w, 170, 190, 40, 220);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  /* floating 11 rows above the bottom */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  draw_zone(px, w, 160, 180, 1, 254);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  /* a frame around sample texture, not a white panel */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  for (int x = 1; x <= 254; x++) px[170 * w + x] = px[190 * w + x] = 0;
  for (int y = 170; y <= 190; y++) px[y * w + 1] = px[y * w + 254] = 0;
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  /* a full-width dark scan line above the box is not its top border */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  memset(px + 150 * w, 0, (size_t)w);
  draw_zone(px, w, 170, 190, 1, 254);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 22);
  /* a bottom quarter of rows dark over 96 % of the width with no bottom
  ** border (a scan down from every row would be quadratic here): no zone */
  {
    const int bw = 1024, bh = 1024;
    uint8_t *big = sample_texture(bw, bh);
    for (int y = bh - bh / 4; y < bh; y++)
      for (int x = 0; x < bw; x++)
        big[(size_t)y * bw + x] = x < bw * 96 / 100 && y < bh - 5 ? 0 : 255;
    vendor_page bp = {big, bw, bh, CZ_SEM_TEXT, NULL, 0};
    CHECK(write_vendor(path, &bp, 1, 0) > 0);
    CHECK(zone_rows(path) == 0);
    free(big);
  }
  /* under 8 rows */
  free(px);
  px = sample_texture(w, h), pg.px = px;
  draw_zone(px, w, 186, 190, 1, 254);
  CHECK(write_vendor(path, &pg, 1, 0) > 0);
  CHECK(zone_rows(path) == 0);
  free(px);
  remove(path);
}

/* An SIS0 block: header, `entries` entries (the first of type 1 pointing
** at `record` bytes from the block start), then the record. */
static size_t sis_block(uint8_t *b, size_t cap, uint32_t base, int16_t count, int16_t exp10,
                        double xcal, double ycal) {
  size_t n = 60 + 8 * (size_t)(count > 0 ? count : 0) + 112;
  if (n > cap) return 0;
  memset(b, 0, n);
  memcpy(b, "SIS0", 4);
  put16le(b + 58, (uint16_t)count);
  for (int i = 0; i < count; i++) {
    uint8_t *e = b + 60 + 8 * i;
    put16le(e, i == count - 1 ? 1 : 10);  /* a channel entry first, then the general one */
    put16le(e + 2, 1);
    put32le(e + 4, base + 60 + 8 * (uint32_t)count);
  }
  uint8_t *r = b + 60 + 8 * (size_t)count;
  put16le(r + 10, (uint16_t)exp10);
  memcpy(r + 12, &xcal, 8); /* little-endian host, as the format */
  memcpy(r + 20, &ycal, 8);
  return n;
}

/* Reads the buffer (header only) and returns its calibration. */
static nm_calib read_calib(const uint8_t *buf, size_t n, int frame) {
  nm_read_opts o;
  nm_read_opts_default(&o);
  o.header_only = 1;
  o.frame = frame;
  nm_image im;
  nm_error err = {0};
  nm_calib c;
  nm_calib_unknown(&c, "read failed");
  if (nm_image_read_memory(buf, n, "sis.tif", &o, &im, &err) == NM_OK) c = im.calib;
  else fprintf(stderr, "read_calib: %s\n", err.msg);
  nm_image_free(&im);
  return c;
}

static void olympus_sis(void) {
  const char *path = tmp_path("sis.tif");
  uint8_t px[16 * 16];
  for (int i = 0; i < 16 * 16; i++) px[i] = (uint8_t)i;
  const char *ini = "[Version]\r\nVer=1\r\n[Dimension]\r\nZ=1\r\nBand=1\r\nTime=1\r\n";
  /* page 0 a preview without tags, page 1 the data with the INI text and the block */
  vendor_page pages[2] = {{px, 16, 16, NULL, NULL, 0}, {px, 16, 16, NULL, ini, 1}};
  size_t len = write_vendor(path, pages, 2, 0);
  CHECK(len > 0 && write_vendor(path, pages, 2, (uint32_t)len) == len); /* offset = the end */
  uint8_t block[512];
  size_t nb = sis_block(block, sizeof block, (uint32_t)len, 2, -9, 2.5, 2.5);
  size_t n;
  uint8_t *buf = bytes_plus(path, block, nb, &n);
  CHECK(buf != NULL);
  for (int frame = 0; buf && frame < 2; frame++) {
    nm_calib c = read_calib(buf, n, frame);
    CHECK(!strcmp(c.source, "tiff:olympus"));
    CHECK_NEAR(c.nm_per_px_x, 2.5, 1e-9);
    CHECK_NEAR(c.nm_per_px_y, 2.5, 1e-9);
  }
  /* non-square and another exponent: 3e-6 * 10^-4 m = 0.3 nm, 6e-6 -> 0.6 nm */
  nb = sis_block(block, sizeof block, (uint32_t)len, 1, -4, 3e-6, 6e-6);
  free(buf);
  buf = bytes_plus(path, block, nb, &n);
  if (buf) {
    nm_calib c = read_calib(buf, n, 1);
    CHECK_NEAR(c.nm_per_px_x, 0.3, 1e-9);
    CHECK_NEAR(c.nm_per_px_y, 0.6, 1e-9);
  }
  /* Truncated blocks: no size, a reason naming the tag, never the 72 dpi. */
  static const struct {
    size_t keep;   /* bytes of the block left in the file */
    const char *why;
  } cuts[] = {
      {0, "past the end"},          /* the tag points at the end of the file */
      {30, "truncated"},            /* inside the 60-byte header */
      {64, "entry 1 of 2"},         /* inside the entry table */
      {60 + 16 + 50, "needs 112 bytes"},  /* inside the calibration record */
  };
  nb = sis_block(block, sizeof block, (uint32_t)len, 2, -9, 2.5, 2.5);
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    free(buf);
    buf = bytes_plus(path, block, cuts[i].keep, &n);
    if (!buf) continue;
    for (int frame = 0; frame < 2; frame++) {
      nm_calib c = read_calib(buf, n, frame);
      CHECK(!nm_calib_known(&c) && c.mode == NM_MODE_IMAGE);
      CHECK(strstr(c.reason, "33560") != NULL && strstr(c.reason, cuts[i].why) != NULL);
      if (!strstr(c.reason, cuts[i].why)) fprintf(stderr, "  reason: %s\n", c.reason);
    }
  }
  /* a wrong magic, an absurd entry count, a zero and a NaN size, no record */
  uint8_t bad[512];
  memcpy(bad, block, nb);
  memcpy(bad, "SIS1", 4);
  free(buf);
  buf = bytes_plus(path, bad, nb, &n);
  if (buf) CHECK(strstr(read_calib(buf, n, 1).reason, "SIS0") != NULL);
  memcpy(bad, block, nb);
  put16le(bad + 58, 0x7fff);
  free(buf);
  buf = bytes_plus(path, bad, nb, &n);
  if (buf) CHECK(strstr(read_calib(buf, n, 1).reason, "32767 entries") != NULL);
  const double sizes[][2] = {{0, 2.5}, {NAN, NAN}, {-1, -1}};
  for (size_t i = 0; i < 3; i++) {
    nb = sis_block(bad, sizeof bad, (uint32_t)len, 2, -9, sizes[i][0], sizes[i][1]);
    free(buf);
    buf = bytes_plus(path, bad, nb, &n);
    if (buf) {
      nm_calib c = read_calib(buf, n, 1);
      CHECK(!nm_calib_known(&c) && strstr(c.reason, "not a positive size") != NULL);
    }
  }
  nb = sis_block(bad, sizeof bad, (uint32_t)len, 2, -9, 2.5, 2.5);
  put16le(bad + 60 + 8, 10); /* both entries are channel data */
  free(buf);
  buf = bytes_plus(path, bad, nb, &n);
  if (buf) CHECK(strstr(read_calib(buf, n, 1).reason, "no calibration record") != NULL);
  put16le(bad + 58, (uint16_t)-3);
  free(buf);
  buf = bytes_plus(path, bad, nb, &n);
  if (buf) CHECK(strstr(read_calib(buf, n, 1).reason, "-3 entries") != NULL);
  free(buf);
  /* Only the INI text (33471): an SIS file without a size, and it says so. */
  vendor_page ini_only[1] = {{px, 16, 16, NULL, ini, 0}};
  CHECK(write_vendor(path, ini_only, 1, 0) > 0);
  buf = bytes_plus(path, NULL, 0, &n);
  if (buf) {
    nm_calib c = read_calib(buf, n, 0);
    CHECK(!nm_calib_known(&c) && !c.source[0] && strstr(c.reason, "33471") != NULL);
    free(buf);
  }
  /* ... also when the INI text is on another page than the one read */
  vendor_page ini_p1[2] = {{px, 16, 16, NULL, NULL, 0}, {px, 16, 16, NULL, ini, 0}};
  CHECK(write_vendor(path, ini_p1, 2, 0) > 0);
  buf = bytes_plus(path, NULL, 0, &n);
  if (buf) {
    CHECK(strstr(read_calib(buf, n, 0).reason, "33471") != NULL);
    free(buf);
  }
  remove(path);
}

/* ---- hand-made broken files ---- */

static void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)v, b[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* A little-endian single-strip TIFF with the given header values. */
static size_t craft(uint8_t *buf, size_t cap, uint32_t w, uint32_t h, uint16_t bps,
                    uint16_t fmt, size_t data_bytes) {
  memcpy(buf, "II*\0", 4);
  put32(buf + 4, 8);
  struct {
    uint16_t tag, type;
    uint32_t count, value;
  } e[] = {
      {256, 4, 1, w},  {257, 4, 1, h},  {258, 3, 1, bps}, {259, 3, 1, 1},
      {262, 3, 1, 1},  {273, 4, 1, 0},  {277, 3, 1, 1},   {278, 4, 1, h},
      {279, 4, 1, (uint32_t)data_bytes}, {339, 3, 1, fmt},
  };
  int n = (int)(sizeof e / sizeof e[0]);
  size_t off = 8;
  put16(buf + off, (uint16_t)n);
  size_t data_at = 8 + 2 + 12 * (size_t)n + 4;
  e[5].value = (uint32_t)data_at;
  for (int i = 0; i < n; i++) {
    uint8_t *p = buf + off + 2 + 12 * i;
    put16(p, e[i].tag);
    put16(p + 2, e[i].type);
    put32(p + 4, e[i].count);
    if (e[i].type == 3) {
      put16(p + 8, (uint16_t)e[i].value);
      put16(p + 10, 0);
    } else {
      put32(p + 8, e[i].value);
    }
  }
  put32(buf + off + 2 + 12 * n, 0);
  size_t total = data_at + data_bytes;
  if (total > cap) total = cap;
  memset(buf + data_at, 0x40, total - data_at);
  return total;
}

static void expect_error(const void *buf, size_t n, const char *name, const nm_read_opts *o,
                         nm_status want, const char *words) {
  nm_image im;
  nm_error err = {0};
  nm_status st = nm_image_read_memory(buf, n, name, o, &im, &err);
  CHECK(st == want);
  CHECK(im.px == NULL);
  CHECK(strstr(err.msg, name) != NULL);
  if (words) CHECK(strstr(err.msg, words) != NULL);
  if (st != want || (words && !strstr(err.msg, words)))
    fprintf(stderr, "  %s: got status %d, message '%s'\n", name, (int)st, err.msg);
  nm_image_free(&im);
}

static void errors(void) {
  static uint8_t buf[1 << 16];
  nm_read_opts o;
  nm_read_opts_default(&o);
  size_t n = craft(buf, sizeof buf, 16, 16, 8, 1, 256);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(buf, n, "ok.tif", &o, &im, &err), err);
  if (im.px) CHECK(im.px[0] == 0x40 && im.px[255] == 0x40);
  nm_image_free(&im);

  expect_error(buf, n - 100, "truncated_data.tif", &o, NM_ERR_FORMAT, "truncated");
  expect_error(buf, 20, "truncated_ifd.tif", &o, NM_ERR_FORMAT, NULL);
  expect_error(buf, 6, "truncated_header.tif", &o, NM_ERR_FORMAT, NULL);
  n = craft(buf, sizeof buf, 0, 0, 8, 1, 16);
  expect_error(buf, n, "zero.tif", &o, NM_ERR_FORMAT, NULL);
  n = craft(buf, sizeof buf, 16, 0, 8, 1, 16);
  expect_error(buf, n, "zero_height.tif", &o, NM_ERR_FORMAT, NULL);
  /* over the cap: refused from the header, nothing allocated for 4e10 pixels */
  n = craft(buf, sizeof buf, 200000, 200000, 8, 1, 256);
  expect_error(buf, n, "huge.tif", &o, NM_ERR_TOOBIG, "cap");
  n = craft(buf, sizeof buf, 16, 16, 8, 1, 256);
  nm_read_opts small = o;
  small.max_pixels = 255;
  expect_error(buf, n, "capped.tif", &small, NM_ERR_TOOBIG, "cap");
  small.max_pixels = 256;
  CHECK_OK(nm_image_read_memory(buf, n, "at_cap.tif", &small, &im, &err), err);
  nm_image_free(&im);
  /* unsupported sample formats */
  n = craft(buf, sizeof buf, 4, 4, 16, 5 /* complex int */, 64);
  expect_error(buf, n, "complex.tif", &o, NM_ERR_UNSUPPORTED, "sample format");
  n = craft(buf, sizeof buf, 4, 4, 12, 1, 24);
  expect_error(buf, n, "twelve.tif", &o, NM_ERR_UNSUPPORTED, "sample format");
  n = craft(buf, sizeof buf, 4, 4, 16, 3 /* 16-bit float */, 32);
  expect_error(buf, n, "half.tif", &o, NM_ERR_UNSUPPORTED, "sample format");
  /* a page that does not exist */
  n = craft(buf, sizeof buf, 4, 4, 8, 1, 16);
  nm_read_opts f = o;
  f.frame = 1;
  expect_error(buf, n, "one_page.tif", &f, NM_ERR_ARG, "frame 1");
  /* garbage after a TIFF magic */
  memset(buf, 0xff, 64);
  memcpy(buf, "II*\0", 4);
  expect_error(buf, 64, "garbage.tif", &o, NM_ERR_FORMAT, NULL);
  /* a file on disk that is cut short */
  const char *path = tmp_path("cut.tif");
  spec s = {64, 64, 16, SAMPLEFORMAT_UINT, 1, 0, 0};
  CHECK(write_gray(path, &s));
  FILE *fp = fopen(path, "r+b");
  if (fp) {
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    CHECK(truncate(path, size / 2) == 0);
  }
  nm_status st = nm_image_read_file(path, &o, &im, &err);
  CHECK(st != NM_OK && strstr(err.msg, "cut.tif") != NULL);
  nm_image_free(&im);
}

/* 4x3 float page from v[] (NaN and Inf allowed) */
static void write_floats(const char *path, const float *v) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 4);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 3);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 32);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
  for (int y = 0; y < 3; y++) TIFFWriteScanline(t, (void *)(v + 4 * y), (uint32_t)y, 0);
  TIFFClose(t);
}

/* NaN / Inf samples (masked or saturated detector pixels) take the mean of
** the finite ones, and are counted; a page with none finite is an error */
static void nonfinite(void) {
  float v[12] = {1, 2, 3, 4, NAN, 6, INFINITY, 8, 9, -INFINITY, 11, 12};
  const char *path = tmp_path("nonfinite.tif");
  write_floats(path, v);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_file(path, NULL, &im, &err), err);
  CHECK(im.nonfinite_px == 3);
  double mean_finite = (1 + 2 + 3 + 4 + 6 + 8 + 9 + 11 + 12) / 9.0;
  CHECK(fabs(im.px[4] - mean_finite) < 1e-5 && fabs(im.px[6] - mean_finite) < 1e-5);
  CHECK(fabs(im.px[9] - mean_finite) < 1e-5 && im.px[5] == 6);
  nm_image_free(&im);
  for (int i = 0; i < 12; i++) v[i] = NAN;
  path = tmp_path("allnan.tif");
  write_floats(path, v);
  CHECK(nm_image_read_file(path, NULL, &im, &err) == NM_ERR_FORMAT);
  CHECK(strstr(err.msg, "allnan.tif") && strstr(err.msg, "no finite pixel"));
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/nm_test_tiff_%d", (int)getpid());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
  if (system(cmd) != 0) return 1;
  sample_types();
  colour();
  calibration();
  zeiss_zone();
  olympus_sis();
  errors();
  nonfinite();
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_summary("test_tiff");
}
