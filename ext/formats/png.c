/*
** formats/png.c — PNG through libpng: 1/2/4/8/16-bit gray, gray+alpha, RGB,
** RGBA and palette images, read from memory; and the PNG encoder.
**
** Gray samples keep their value (8-bit 0..255, 16-bit 0..65535). Colour is
** reduced to luma (0.299 R + 0.587 G + 0.114 B); alpha is ignored.
*/
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

typedef struct mem_reader {
  const uint8_t *buf;
  size_t n, pos;
} mem_reader;

typedef struct png_failure {
  char msg[200];
} png_failure;

static void on_png_error(png_structp png, png_const_charp msg) {
  png_failure *f = png_get_error_ptr(png);
  if (f) snprintf(f->msg, sizeof f->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void read_from_memory(png_structp png, png_bytep out, png_size_t len) {
  mem_reader *r = png_get_io_ptr(png);
  if (len > r->n - r->pos) png_error(png, "file is truncated");
  memcpy(out, r->buf + r->pos, len);
  r->pos += len;
}

/* State shared with the setjmp region lives in a struct so that no local
** variable changes between setjmp and longjmp. */
typedef struct png_job {
  png_structp png;
  png_infop info;
  png_bytep *rows;
  uint8_t *pixels;
} png_job;

static void job_free(png_job *job) {
  png_destroy_read_struct(&job->png, job->info ? &job->info : NULL, NULL);
  free(job->rows);
  free(job->pixels);
}

static void to_gray(const uint8_t *pixels, size_t count, int channels, int bits,
                    float *out) {
  /* gray and gray + alpha: the first sample, converted exactly (the same
  ** value as through the double below), in loops the compiler vectorises */
  if (channels <= 2 && bits == 8) {
    for (size_t i = 0; i < count; i++) out[i] = (float)pixels[i * (size_t)channels];
    return;
  }
  if (channels <= 2 && bits == 16) {
    const uint16_t *p16 = (const uint16_t *)pixels;
    for (size_t i = 0; i < count; i++) out[i] = (float)p16[i * (size_t)channels];
    return;
  }
  for (size_t i = 0; i < count; i++) {
    double v[4];
    for (int c = 0; c < channels; c++) {
      size_t k = i * (size_t)channels + (size_t)c;
      v[c] = bits == 16 ? (double)((const uint16_t *)pixels)[k] : (double)pixels[k];
    }
    out[i] = channels >= 3 ? (float)(0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2])
                           : (float)v[0];
  }
}

nm_status nm_read_png(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                      nm_error *err) {
  png_failure failure = {""};
  mem_reader reader = {src->buf, src->n, 0};
  png_job job = {0};
  job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, on_png_error, on_png_warning);
  if (!job.png) return nm_fail(err, NM_ERR_NOMEM, "%s: out of memory", src->name);
  job.info = png_create_info_struct(job.png);
  if (!job.info) {
    job_free(&job);
    return nm_fail(err, NM_ERR_NOMEM, "%s: out of memory", src->name);
  }
  if (setjmp(png_jmpbuf(job.png))) {
    job_free(&job);
    /* libpng rejects a 0-pixel IHDR as "invalid": say what is wrong. */
    if (src->n >= 24 && !memcmp(src->buf + 12, "IHDR", 4) &&
        (!memcmp(src->buf + 16, "\0\0\0\0", 4) || !memcmp(src->buf + 20, "\0\0\0\0", 4)))
      return nm_fail(err, NM_ERR_FORMAT, "%s: image has zero width or height", src->name);
    return nm_fail(err, NM_ERR_FORMAT, "%s: bad PNG: %s", src->name,
                   failure.msg[0] ? failure.msg : "decode error");
  }
  png_set_read_fn(job.png, &reader, read_from_memory);
  /* Refuse huge dimensions before libpng allocates anything for rows. */
  png_set_user_limits(job.png, 0x7fffffff, 0x7fffffff);
  png_read_info(job.png, job.info);
  png_uint_32 w = png_get_image_width(job.png, job.info);
  png_uint_32 h = png_get_image_height(job.png, job.info);
  int bit_depth = png_get_bit_depth(job.png, job.info);
  int color_type = png_get_color_type(job.png, job.info);
  out->width = (int)w;
  out->height = (int)h;
  snprintf(out->format, sizeof out->format, "png");
  out->bits = bit_depth;
  out->channels = png_get_channels(job.png, job.info);
  out->frames = 1;
  if (w == 0 || h == 0) {
    job_free(&job);
    return nm_fail(err, NM_ERR_FORMAT, "%s: image has zero width or height", src->name);
  }
  if ((uint64_t)w * h > opts->max_pixels) {
    job_free(&job);
    return nm_fail(err, NM_ERR_TOOBIG, "%s: %ux%u pixels is over the cap of %llu pixels",
                   src->name, (unsigned)w, (unsigned)h, (unsigned long long)opts->max_pixels);
  }
  if (opts->frame > 0) {
    job_free(&job);
    return nm_fail(err, NM_ERR_ARG, "%s: frame %d requested but a PNG has one frame",
                   src->name, opts->frame);
  }
  if (opts->header_only) {
    job_free(&job);
    return NM_OK;
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(job.png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(job.png);
  if (bit_depth == 16) png_set_swap(job.png);
  png_read_update_info(job.png, job.info);
  int channels = png_get_channels(job.png, job.info);
  int bits = png_get_bit_depth(job.png, job.info);
  size_t rowbytes = png_get_rowbytes(job.png, job.info);
  job.pixels = malloc(rowbytes * h);
  job.rows = malloc(sizeof(png_bytep) * h);
  out->px = malloc(sizeof(float) * (size_t)w * h);
  if (!job.pixels || !job.rows || !out->px) {
    job_free(&job);
    return nm_fail(err, NM_ERR_NOMEM, "%s: out of memory for %ux%u pixels", src->name,
                   (unsigned)w, (unsigned)h);
  }
  for (png_uint_32 y = 0; y < h; y++) job.rows[y] = job.pixels + rowbytes * y;
  png_read_image(job.png, job.rows);
  to_gray(job.pixels, (size_t)w * h, channels, bits, out->px);
  job_free(&job);
  return NM_OK;
}

/* ---- encoder ---- */

typedef struct mem_writer {
  unsigned char *buf;
  size_t n, cap;
  int failed;
} mem_writer;

static void write_to_memory(png_structp png, png_bytep data, png_size_t len) {
  mem_writer *w = png_get_io_ptr(png);
  if (w->failed) return;
  if (w->n + len > w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 4096;
    while (cap < w->n + len) cap *= 2;
    unsigned char *grown = realloc(w->buf, cap);
    if (!grown) {
      w->failed = 1;
      png_error(png, "out of memory");
    }
    w->buf = grown;
    w->cap = cap;
  }
  memcpy(w->buf + w->n, data, len);
  w->n += len;
}

static void flush_nothing(png_structp png) { (void)png; }

typedef struct png_wjob {
  png_structp png;
  png_infop info;
  png_bytep *rows;
  uint16_t *swapped;
  mem_writer out;
} png_wjob;

static void wjob_free(png_wjob *job) {
  png_destroy_write_struct(&job->png, job->info ? &job->info : NULL);
  free(job->rows);
  free(job->swapped);
}

nm_status nm_png_encode(const void *samples, int width, int height, int bits, int channels,
                        unsigned char **out, size_t *out_n, nm_error *err) {
  *out = NULL;
  *out_n = 0;
  if (width <= 0 || height <= 0 || (bits != 8 && bits != 16) || channels < 1 || channels > 4)
    return nm_fail(err, NM_ERR_ARG, "PNG encode: bad geometry %dx%d, %d bits, %d channels",
                   width, height, bits, channels);
  static const int color_types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                    PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
  png_failure failure = {""};
  png_wjob job = {0};
  job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, on_png_error, on_png_warning);
  if (!job.png) return nm_fail(err, NM_ERR_NOMEM, "PNG encode: out of memory");
  job.info = png_create_info_struct(job.png);
  size_t rowbytes = (size_t)width * (size_t)channels * (size_t)(bits / 8);
  job.rows = malloc(sizeof(png_bytep) * (size_t)height);
  if (!job.info || !job.rows) {
    wjob_free(&job);
    return nm_fail(err, NM_ERR_NOMEM, "PNG encode: out of memory");
  }
  const unsigned char *base = samples;
  if (bits == 16) {
    /* PNG stores 16-bit samples big-endian. */
    size_t count = (size_t)width * (size_t)height * (size_t)channels;
    job.swapped = malloc(count * 2);
    if (!job.swapped) {
      wjob_free(&job);
      return nm_fail(err, NM_ERR_NOMEM, "PNG encode: out of memory");
    }
    const uint16_t *s = samples;
    for (size_t i = 0; i < count; i++) {
      uint8_t *d = (uint8_t *)&job.swapped[i];
      d[0] = (uint8_t)(s[i] >> 8);
      d[1] = (uint8_t)(s[i] & 0xff);
    }
    base = (const unsigned char *)job.swapped;
  }
  for (int y = 0; y < height; y++) job.rows[y] = (png_bytep)(base + rowbytes * (size_t)y);
  if (setjmp(png_jmpbuf(job.png))) {
    free(job.out.buf);
    wjob_free(&job);
    return nm_fail(err, NM_ERR_NOMEM, "PNG encode: %s", failure.msg);
  }
  png_set_write_fn(job.png, &job.out, write_to_memory, flush_nothing);
  png_set_compression_level(job.png, 6);
  png_set_IHDR(job.png, job.info, (png_uint_32)width, (png_uint_32)height, bits,
               color_types[channels - 1], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(job.png, job.info);
  png_write_image(job.png, job.rows);
  png_write_end(job.png, NULL);
  *out = job.out.buf;
  *out_n = job.out.n;
  wjob_free(&job);
  return NM_OK;
}
