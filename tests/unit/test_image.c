/*
** test_image.c — the decode entry point and the micrograph module:
**   PNG 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA and palette round trips
**   (written with nm_png_encode or libpng, read back exactly);
**   every error path (missing file, directory, empty, truncated, 0x0, over
**   the pixel cap, unknown format, frame past the end), each naming the file;
**   nm_micrograph_open: the calibration rules in order (user > file > none),
**   non-square resampling, the vendor data bar crop (on ../shared/formats
**   when present), header-only, and the option setter.
*/
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../ext/image.h"
#include "../../ext/micrograph.h"
#include "check.h"

#define CORPUS "../shared/formats"

static void roundtrip_encode(int bits, int channels) {
  int w = 7, h = 5;
  size_t count = (size_t)w * h * channels;
  uint8_t s8[7 * 5 * 4];
  uint16_t s16[7 * 5 * 4];
  for (size_t i = 0; i < count; i++) {
    s8[i] = (uint8_t)(i * 37 + 11);
    s16[i] = (uint16_t)(i * 2591 + 7);
  }
  unsigned char *png = NULL;
  size_t n = 0;
  nm_error err = {0};
  CHECK_OK(nm_png_encode(bits == 8 ? (void *)s8 : (void *)s16, w, h, bits, channels, &png, &n,
                         &err),
           err);
  nm_image im;
  CHECK_OK(nm_image_read_memory(png, n, "enc.png", NULL, &im, &err), err);
  free(png);
  if (!im.px) return;
  CHECK(im.width == w && im.height == h && im.bits == bits && im.channels == channels);
  CHECK(!strcmp(im.format, "png") && im.frames == 1 && !im.sample_float && !im.sample_signed);
  int bad = 0;
  for (int i = 0; i < w * h; i++) {
    double v[4];
    for (int c = 0; c < channels; c++)
      v[c] = bits == 8 ? s8[(size_t)i * channels + c] : s16[(size_t)i * channels + c];
    double want = channels >= 3 ? 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2] : v[0];
    /* gray is exact; luma is computed in double and stored as float */
    if (fabs(im.px[i] - want) > (channels >= 3 ? 1e-6 * want + 1e-3 : 0)) bad++;
  }
  CHECK(bad == 0);
  if (bad) fprintf(stderr, "  %d-bit %d-channel: %d pixels differ\n", bits, channels, bad);
  nm_image_free(&im);
}

/* libpng writer for what nm_png_encode does not make: low bit depths, palette. */
typedef struct membuf {
  unsigned char *p;
  size_t n, cap;
} membuf;

static void mem_write(png_structp png, png_bytep data, png_size_t len) {
  membuf *m = png_get_io_ptr(png);
  if (m->n + len > m->cap) {
    m->cap = (m->n + len) * 2;
    m->p = realloc(m->p, m->cap);
  }
  memcpy(m->p + m->n, data, len);
  m->n += len;
}
static void mem_flush(png_structp png) { (void)png; }

static membuf write_png(int w, int h, int bits, int color, png_bytep *rows, png_colorp pal,
                        int npal) {
  membuf m = {0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &m, mem_write, mem_flush);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bits, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(png, info, pal, npal);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return m;
}

static void low_bit_gray(int bits) {
  /* 9 pixels per row, packed MSB first */
  int w = 9, h = 2;
  int maxv = (1 << bits) - 1;
  uint8_t rows[2][8];
  memset(rows, 0, sizeof rows);
  int vals[2][9];
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int v = (x + 3 * y) % (maxv + 1);
      vals[y][x] = v;
      int bit = x * bits;
      rows[y][bit / 8] |= (uint8_t)(v << (8 - bits - bit % 8));
    }
  png_bytep rp[2] = {rows[0], rows[1]};
  membuf m = write_png(w, h, bits, PNG_COLOR_TYPE_GRAY, rp, NULL, 0);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(m.p, m.n, "low.png", NULL, &im, &err), err);
  free(m.p);
  if (!im.px) return;
  CHECK(im.bits == bits);
  int bad = 0;
  /* expanded to 8 bits by libpng: v * 255 / maxv */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (im.px[y * w + x] != (float)(vals[y][x] * 255 / maxv)) bad++;
  CHECK(bad == 0);
  nm_image_free(&im);
}

static void palette(void) {
  png_color pal[4] = {{0, 0, 0}, {255, 255, 255}, {255, 0, 0}, {10, 20, 30}};
  uint8_t row[4] = {0, 1, 2, 3};
  png_bytep rp[1] = {row};
  membuf m = write_png(4, 1, 8, PNG_COLOR_TYPE_PALETTE, rp, pal, 4);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(m.p, m.n, "pal.png", NULL, &im, &err), err);
  free(m.p);
  if (!im.px) return;
  CHECK_NEAR(im.px[0], 0, 0);
  CHECK_NEAR(im.px[1], 255, 1e-3);
  CHECK_NEAR(im.px[2], 0.299 * 255, 1e-3);
  CHECK_NEAR(im.px[3], 0.299 * 10 + 0.587 * 20 + 0.114 * 30, 1e-3);
  nm_image_free(&im);
}

/* PNG chunk CRC (CRC-32, reflected 0xEDB88320). */
static uint32_t crc32_png(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

static void expect_fail(nm_status st, nm_status want, const nm_error *err, const char *name,
                        const char *words) {
  CHECK(st == want);
  CHECK(strstr(err->msg, name) != NULL);
  if (words) CHECK(strstr(err->msg, words) != NULL);
  if (st != want || !strstr(err->msg, name) || (words && !strstr(err->msg, words)))
    fprintf(stderr, "  %s: status %d, '%s'\n", name, (int)st, err->msg);
}

static void errors(void) {
  nm_image im;
  nm_error err = {0};
  expect_fail(nm_image_read_file("/nonexistent/dir/a.png", NULL, &im, &err), NM_ERR_IO, &err,
              "/nonexistent/dir/a.png", "cannot open");
  CHECK(im.px == NULL);
  expect_fail(nm_image_read_file("/tmp", NULL, &im, &err), NM_ERR_IO, &err, "/tmp",
              "not a regular file");
  expect_fail(nm_image_read_memory("", 0, "empty.png", NULL, &im, &err), NM_ERR_FORMAT, &err,
              "empty.png", "empty");
  expect_fail(nm_image_read_memory("hello world", 11, NULL, NULL, &im, &err),
              NM_ERR_UNSUPPORTED, &err, "BLOB", "not an image format");

  uint8_t px[64 * 48];
  for (int i = 0; i < 64 * 48; i++) px[i] = (uint8_t)i;
  unsigned char *png;
  size_t n;
  CHECK_OK(nm_png_encode(px, 64, 48, 8, 1, &png, &n, &err), err);
  /* truncated anywhere before the IEND chunk (the last 12 bytes, which a
  ** reader may ignore): always an error, never a crash */
  int all_fail = 1;
  for (size_t cut = 0; cut < n - 12; cut += 3) {
    nm_status st = nm_image_read_memory(png, cut, "cut.png", NULL, &im, &err);
    if (st == NM_OK) all_fail = 0;
    nm_image_free(&im);
  }
  CHECK(all_fail);
  expect_fail(nm_image_read_memory(png, n / 2, "half.png", NULL, &im, &err), NM_ERR_FORMAT, &err,
              "half.png", "truncated");
  /* over the cap: refused before decoding */
  nm_read_opts o;
  nm_read_opts_default(&o);
  o.max_pixels = 64 * 48 - 1;
  expect_fail(nm_image_read_memory(png, n, "cap.png", &o, &im, &err), NM_ERR_TOOBIG, &err,
              "cap.png", "over the cap");
  o.max_pixels = 64 * 48;
  CHECK_OK(nm_image_read_memory(png, n, "cap.png", &o, &im, &err), err);
  nm_image_free(&im);
  o.frame = 1;
  expect_fail(nm_image_read_memory(png, n, "frame.png", &o, &im, &err), NM_ERR_ARG, &err,
              "frame.png", "frame 1");
  o.frame = -1;
  expect_fail(nm_image_read_memory(png, n, "neg.png", &o, &im, &err), NM_ERR_ARG, &err, "neg.png",
              "frame");
  /* 0x0: patch the IHDR width and height (and its CRC) */
  unsigned char *z = malloc(n);
  memcpy(z, png, n);
  memset(z + 16, 0, 8);
  uint32_t crc = crc32_png(z + 12, 17);
  z[29] = (uint8_t)(crc >> 24), z[30] = (uint8_t)(crc >> 16), z[31] = (uint8_t)(crc >> 8),
  z[32] = (uint8_t)crc;
  expect_fail(nm_image_read_memory(z, n, "zero.png", NULL, &im, &err), NM_ERR_FORMAT, &err,
              "zero.png", "zero width or height");
  /* a huge IHDR: refused by the cap, nothing allocated */
  z[16] = 0, z[17] = 1, z[18] = 0x86, z[19] = 0xa0; /* 100000 */
  z[20] = 0, z[21] = 1, z[22] = 0x86, z[23] = 0xa0;
  crc = crc32_png(z + 12, 17);
  z[29] = (uint8_t)(crc >> 24), z[30] = (uint8_t)(crc >> 16), z[31] = (uint8_t)(crc >> 8),
  z[32] = (uint8_t)crc;
  expect_fail(nm_image_read_memory(z, n, "huge.png", NULL, &im, &err), NM_ERR_TOOBIG, &err,
              "huge.png", "cap");
  free(z);
  /* header only */
  o.frame = 0;
  o.header_only = 1;
  CHECK_OK(nm_image_read_memory(png, n, "hdr.png", &o, &im, &err), err);
  CHECK(im.px == NULL && im.width == 64 && im.height == 48 && im.file_bytes == n);
  nm_image_free(&im);
  nm_image_free(&im); /* twice is safe */
  free(png);
  /* encoder argument checks */
  CHECK(nm_png_encode(px, 0, 4, 8, 1, &png, &n, &err) == NM_ERR_ARG);
  CHECK(nm_png_encode(px, 4, 4, 12, 1, &png, &n, &err) == NM_ERR_ARG);
  CHECK(nm_png_encode(px, 4, 4, 8, 5, &png, &n, &err) == NM_ERR_ARG);
}

/* ---- micrograph ---- */

static void resample(void) {
  /* a linear ramp stays linear inside; edges clamp */
  float src[4 * 2] = {0, 1, 2, 3, 10, 11, 12, 13};
  float dst[8 * 2];
  nm_resample_bilinear(src, 4, 2, dst, 8, 2);
  CHECK_NEAR(dst[0], 0, 1e-6);
  CHECK_NEAR(dst[1], 0.25, 1e-6);
  CHECK_NEAR(dst[2], 0.75, 1e-6);
  CHECK_NEAR(dst[7], 3, 1e-6);
  CHECK_NEAR(dst[8 + 3], 11.25, 1e-6);
  /* identity */
  float same[8];
  nm_resample_bilinear(src, 4, 2, same, 4, 2);
  CHECK(memcmp(same, src, sizeof src) == 0);
  /* a constant stays constant */
  float c[6] = {5, 5, 5, 5, 5, 5}, up[30];
  nm_resample_bilinear(c, 3, 2, up, 5, 6);
  int ok = 1;
  for (int i = 0; i < 30; i++) ok &= fabsf(up[i] - 5) < 1e-6f;
  CHECK(ok);
}

static void options(void) {
  nm_micrograph_opts o;
  nm_micrograph_opts_default(&o);
  CHECK(o.frame == 0 && o.max_pixels == NM_DEFAULT_MAX_PIXELS && isnan(o.user_nm_per_px) &&
        o.read_scale_bar == 1 && o.header_only == 0);
  nm_error err = {0};
  CHECK_OK(nm_micrograph_opts_set(&o, "frame", 3, NULL, &err), err);
  CHECK(o.frame == 3);
  CHECK_OK(nm_micrograph_opts_set(&o, "page", 2, NULL, &err), err);
  CHECK(o.frame == 2);
  CHECK_OK(nm_micrograph_opts_set(&o, "max_pixels", 1000, NULL, &err), err);
  CHECK(o.max_pixels == 1000);
  CHECK_OK(nm_micrograph_opts_set(&o, "nm_per_px", 0.25, NULL, &err), err);
  CHECK(o.user_nm_per_px == 0.25);
  CHECK_OK(nm_micrograph_opts_set(&o, "scale_bar", 0, NULL, &err), err);
  CHECK(o.read_scale_bar == 0);
  CHECK(nm_micrograph_opts_set(&o, "frame", -1, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "'frame'") != NULL);
  CHECK(nm_micrograph_opts_set(&o, "frame", 1.5, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_micrograph_opts_set(&o, "frame", NAN, "2", &err) == NM_ERR_ARG);
  CHECK(nm_micrograph_opts_set(&o, "max_pixels", 0, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_micrograph_opts_set(&o, "nm_per_px", 0, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_micrograph_opts_set(&o, "nm_per_px", INFINITY, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_micrograph_opts_set(&o, "scale_bar", 2, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_micrograph_opts_set(&o, "min_area", 2, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "option 'min_area' is unknown") != NULL);
  CHECK(nm_micrograph_opts_owns("frame") && nm_micrograph_opts_owns("nm_per_px") &&
        nm_micrograph_opts_owns("scale_bar") && nm_micrograph_opts_owns("max_pixels") &&
        nm_micrograph_opts_owns("page"));
  CHECK(!nm_micrograph_opts_owns("min_area") && !nm_micrograph_opts_owns(NULL));
}

static void micrograph_png(void) {
  uint8_t px[40 * 30];
  for (int i = 0; i < 40 * 30; i++) px[i] = (uint8_t)(i % 251);
  unsigned char *png;
  size_t n;
  nm_error err = {0};
  CHECK_OK(nm_png_encode(px, 40, 30, 8, 1, &png, &n, &err), err);
  nm_micrograph_opts o;
  nm_micrograph_opts_default(&o);
  o.read_scale_bar = 0;
  nm_micrograph m;
  /* no calibration anywhere: NULL size with a reason */
  CHECK_OK(nm_micrograph_open("plain.png", png, n, &o, &m, &err), err);
  CHECK(m.img.px && m.img.width == 40 && m.img.height == 30);
  CHECK(!nm_calib_known(&m.img.calib) && m.img.calib.reason[0] && m.note[0]);
  CHECK(!m.scalebar_tried && !m.resampled && m.databar_rows == 0);
  CHECK(m.img.px[45] == px[45]);
  nm_micrograph_free(&m);
  /* the user's value wins */
  o.user_nm_per_px = 0.7;
  CHECK_OK(nm_micrograph_open("plain.png", png, n, &o, &m, &err), err);
  CHECK(nm_calib_known(&m.img.calib) && !strcmp(m.img.calib.source, "user"));
  CHECK(m.img.calib.nm_per_px_x == 0.7 && m.img.calib.nm_per_px_y == 0.7);
  nm_micrograph_free(&m);
  /* header only */
  o.header_only = 1;
  CHECK_OK(nm_micrograph_open("plain.png", png, n, &o, &m, &err), err);
  CHECK(m.img.px == NULL && m.file_width == 40 && m.file_height == 30);
  nm_micrograph_free(&m);
  nm_micrograph_free(&m);
  /* errors name the file */
  o.header_only = 0;
  o.max_pixels = 100;
  CHECK(nm_micrograph_open("capped.png", png, n, &o, &m, &err) == NM_ERR_TOOBIG);
  CHECK(strstr(err.msg, "capped.png") != NULL && m.img.px == NULL);
  CHECK(nm_micrograph_open("/nonexistent/x.png", NULL, 0, NULL, &m, &err) == NM_ERR_IO);
  CHECK(strstr(err.msg, "/nonexistent/x.png") != NULL);
  o.max_pixels = NM_DEFAULT_MAX_PIXELS;
  o.user_nm_per_px = -1;
  CHECK(nm_micrograph_open("bad.png", png, n, &o, &m, &err) == NM_ERR_ARG);
  free(png);
}

/* Non-square TIFF written here: ImageJ description, x 1 nm, y 2 nm. */
#include <tiffio.h>
static void micrograph_nonsquare(void) {
  char path[128];
  snprintf(path, sizeof path, "/tmp/nm_test_image_%d.tif", (int)getpid());
  TIFF *t = TIFFOpen(path, "w");
  CHECK(t != NULL);
  if (!t) return;
  int w = 10, h = 4;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, 1.0f);
  TIFFSetField(t, TIFFTAG_YRESOLUTION, 0.5f);
  TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
  TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, "ImageJ=1.53t\nunit=nm\n");
  uint8_t row[10];
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) row[x] = (uint8_t)(10 * y);
    TIFFWriteScanline(t, row, (uint32_t)y, 0);
  }
  TIFFClose(t);
  nm_micrograph m;
  nm_error err = {0};
  CHECK_OK(nm_micrograph_open(path, NULL, 0, NULL, &m, &err), err);
  if (m.img.px) {
    /* y pixels are twice as tall: 10x4 at 1x2 nm -> 10x8 at 1 nm */
    CHECK(m.resampled == 1);
    CHECK(m.img.width == 10 && m.img.height == 8);
    CHECK(m.file_width == 10 && m.file_height == 4);
    CHECK_NEAR(m.img.calib.nm_per_px_x, 1, 1e-9);
    CHECK_NEAR(m.img.calib.nm_per_px_y, 1, 1e-9);
    CHECK_NEAR(m.file_nm_per_px_y, 2, 1e-9);
    CHECK(!strcmp(m.img.calib.source, "tiff:imagej"));
    CHECK(strstr(m.note, "resampled") != NULL);
    /* rows 0,10,20,30 become a ramp: first and last rows clamp, middle interpolates */
    CHECK_NEAR(m.img.px[0], 0, 1e-5);
    CHECK_NEAR(m.img.px[7 * 10], 30, 1e-5);
    CHECK_NEAR(m.img.px[2 * 10], 7.5, 1e-5); /* centre 2.5 -> source row 0.75 -> 7.5 */
    /* header only: same geometry, no pixels */
    nm_micrograph_opts o;
    nm_micrograph_opts_default(&o);
    o.header_only = 1;
    nm_micrograph hm;
    CHECK_OK(nm_micrograph_open(path, NULL, 0, &o, &hm, &err), err);
    CHECK(hm.img.px == NULL && hm.img.height == 8 && hm.resampled);
    nm_micrograph_free(&hm);
    /* the user's size suppresses resampling */
    o.header_only = 0;
    o.user_nm_per_px = 3;
    CHECK_OK(nm_micrograph_open(path, NULL, 0, &o, &hm, &err), err);
    CHECK(!hm.resampled && hm.img.height == 4 && !strcmp(hm.img.calib.source, "user"));
    CHECK(strstr(hm.note, "tiff:imagej") != NULL); /* says what the file said */
    nm_micrograph_free(&hm);
  }
  nm_micrograph_free(&m);
  remove(path);
}

static void micrograph_corpus(void) {
  if (access(CORPUS "/tiff/FEI-Helios-Ebeam-8bits.tif", R_OK) != 0) {
    printf("test_image: SKIPPED the corpus checks (%s is absent)\n", CORPUS);
    return;
  }
  nm_micrograph m;
  nm_error err = {0};
  CHECK_OK(nm_micrograph_open(CORPUS "/tiff/FEI-Helios-Ebeam-8bits.tif", NULL, 0, NULL, &m, &err),
           err);
  /* [Image] ResolutionY = 442 of 471 rows: 29 rows of data bar cropped */
  CHECK(m.databar_rows == 29 && m.img.height == 442 && m.file_height == 471);
  CHECK(!strcmp(m.img.calib.source, "tiff:fei"));
  CHECK_NEAR(m.img.calib.nm_per_px_x, 3372.4, 1e-6);
  nm_micrograph_free(&m);
  /* diffraction: no size, no scale-bar guess */
  CHECK_OK(nm_micrograph_open(CORPUS "/tiff/JEOL-SightX-SAED-dummy.tif", NULL, 0, NULL, &m, &err),
           err);
  CHECK(m.img.calib.mode == NM_MODE_DIFFRACTION && !nm_calib_known(&m.img.calib));
  CHECK(!m.scalebar_tried);
  CHECK_NEAR(m.img.calib.inv_nm_per_px_x, 0.272254249, 0.272254249e-3);
  nm_micrograph_free(&m);
  /* Zeiss 512: the display convention, not ap_pixel_size */
  CHECK_OK(nm_micrograph_open(CORPUS "/tiff/test_tiff_Zeiss_SEM_512pix.tif", NULL, 0, NULL, &m,
                              &err),
           err);
  CHECK_NEAR(m.img.calib.nm_per_px_x, 11.649976, 11.649976e-6);
  nm_micrograph_free(&m);
  /* 72 dpi in a DM export is ignored; the DM tags give the size */
  CHECK_OK(nm_micrograph_open(CORPUS "/tiff/test_loading_image_saved_with_DM.tif", NULL, 0, NULL,
                              &m, &err),
           err);
  CHECK(!strcmp(m.img.calib.source, "tiff:dm"));
  nm_micrograph_free(&m);
}

int main(void) {
  for (int ch = 1; ch <= 4; ch++) {
    roundtrip_encode(8, ch);
    roundtrip_encode(16, ch);
  }
  low_bit_gray(1);
  low_bit_gray(2);
  low_bit_gray(4);
  palette();
  errors();
  resample();
  options();
  micrograph_png();
  micrograph_nonsquare();
  micrograph_corpus();
  return check_summary("test_image");
}
