/*
** image.h — the one decode entry point. Sniffs the format of a file (or of a
** BLOB holding one), calls its reader in ext/formats/, and returns a float
** gray buffer with its calibration. Also encodes PNG.
**
** Pixel values: converted to float in the file's own scale (8-bit 0..255,
** 16-bit 0..65535, float and signed data as stored; RGB is converted to luma).
** Nothing here rescales intensities: segmentation does its own normalisation.
** NaN and +-Inf samples are replaced by the mean of the finite pixels (and
** counted in nonfinite_px); a frame with none finite is an error.
*/
#ifndef NM_IMAGE_H
#define NM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "calib.h"
#include "nm_common.h"

#define NM_DEFAULT_MAX_PIXELS ((uint64_t)1 << 28)

typedef struct nm_read_opts {
  int frame;            /* page / frame to read, 0-based (default 0) */
  uint64_t max_pixels;  /* refuse images larger than this before allocating */
  int header_only;      /* fill everything but px (px stays NULL) */
} nm_read_opts;

typedef struct nm_image {
  int width, height;
  float *px;             /* width*height, row-major, top row first */
  char format[16];       /* "png", "tiff", "dm3", "dm4", "ser", "emd", "mrc" */
  int channels;          /* samples per pixel in the file */
  int bits;              /* bits per sample in the file */
  int sample_float;      /* 1 when the file stores floating-point samples */
  int sample_signed;     /* 1 when the file stores signed integers */
  int frames;            /* pages / frames in the file (>= 1) */
  nm_calib calib;
  uint64_t file_bytes;   /* size of the file or BLOB */
  uint64_t nonfinite_px; /* NaN/Inf samples, replaced by the mean of the finite ones */
} nm_image;

void nm_read_opts_default(nm_read_opts *opts);

/* Reads an image file. On error, out is left empty (px NULL) and err names the file. */
nm_status nm_image_read_file(const char *path, const nm_read_opts *opts,
                             nm_image *out, nm_error *err);

/* Reads an image file held in memory; `name` is used in messages (may be NULL). */
nm_status nm_image_read_memory(const void *buf, size_t n, const char *name,
                               const nm_read_opts *opts, nm_image *out,
                               nm_error *err);

/* Frees px and resets the struct. Safe on a zeroed or already-freed image. */
void nm_image_free(nm_image *img);

/* Encodes row-major samples as PNG into a malloc'd buffer (*out, *out_n; the
** caller frees with free()). bits is 8 (uint8_t samples) or 16 (uint16_t
** samples, host order); channels is 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). */
nm_status nm_png_encode(const void *samples, int width, int height, int bits,
                        int channels, unsigned char **out, size_t *out_n,
                        nm_error *err);

#endif /* NM_IMAGE_H */
