/*
** micrograph.h — the ONE way every binding opens a micrograph and settles
** its pixel size. particles(), segment() and micrographs() all call
** nm_micrograph_open(), so they can never disagree about calibration.
**
** What open does, in this order:
**   1. decode the file (or BLOB) with the image module (frame, pixel cap);
**   2. crop a vendor data bar off the bottom (calib.databar_rows rows: FEI
**      "[Image] ResolutionY" smaller than the TIFF height, or the Zeiss data
**      zone the TIFF reader finds in the pixels); the note says which
**      (calib.databar_rule);
**   3. settle the calibration, first rule that gives an answer wins:
**        a. the user's nm_per_px option           -> source "user" (square)
**        b. the file's own metadata                -> "dm", "tiff:fei", ...
**           (a diffraction pattern stops here: mode diffraction, no nm size)
**        c. a burned-in scale bar (if scale_bar)   -> "scale_bar"
**        d. nothing: sizes NAN, reason says why;
**   4. non-square pixels (file calibration with x != y): resample to square
**      pixels of the finer of the two sizes with bilinear interpolation, so
**      every later pass (segmentation, features) can assume square pixels.
**      `resampled` records it and `note` says from what to what.
**
** The image in `out->img` is the processed one (cropped, resampled); the
** file's own geometry stays in file_width/file_height.
*/
#ifndef NM_MICROGRAPH_H
#define NM_MICROGRAPH_H

#include <stddef.h>

#include "image.h"
#include "nm_common.h"
#include "scalebar.h"

typedef struct nm_micrograph_opts {
  int frame;               /* page / frame, 0-based (default 0) */
  uint64_t max_pixels;     /* pixel cap (default NM_DEFAULT_MAX_PIXELS) */
  double user_nm_per_px;   /* NAN when the user gave none */
  int read_scale_bar;      /* 1 (default): read a burned-in bar when the file has no size */
  int header_only;         /* 1: leave img.px NULL; pixels are still read
                              internally when a scale bar must be read */
} nm_micrograph_opts;

typedef struct nm_micrograph {
  nm_image img;            /* processed image; img.calib is the final calibration */
  int file_width, file_height;   /* as stored in the file */
  double file_nm_per_px_x, file_nm_per_px_y;  /* the file's sizes before resampling (NAN if none) */
  int resampled;           /* 1 when non-square pixels were resampled to square */
  int databar_rows;        /* rows cropped off the bottom (0 if none) */
  int scalebar_tried;      /* 1 when the scale-bar reader ran */
  nm_scalebar scalebar;    /* its result (coordinates in the processed image) */
  char note[200];          /* human note: what was done or why the size is unknown */
} nm_micrograph;

/* Defaults: frame 0, cap 2^28 pixels, no user size, scale_bar on, pixels read. */
void nm_micrograph_opts_default(nm_micrograph_opts *opts);

/* 1 when `key` is one of this module's option keys (frame, page, max_pixels,
** nm_per_px, scale_bar); bindings route the other keys elsewhere. */
int nm_micrograph_opts_owns(const char *key);

/* Option setter with the nm_opt_setter shape (udf/bind.h): target is an
** nm_micrograph_opts*. Booleans arrive as num 0/1, strings as text.
** Keys: frame (alias page; integer >= 0), max_pixels (integer >= 1),
** nm_per_px (number > 0, or null text to clear), scale_bar (bool).
** Unknown keys and bad values are NM_ERR_ARG naming the option. */
nm_status nm_micrograph_opts_set(void *opts, const char *key, double num,
                                 const char *text, nm_error *err);

/* Opens a micrograph from a path (buf == NULL) or from n bytes at buf (then
** `path` is only the name used in messages, may be NULL -> "BLOB").
** opts may be NULL (defaults). On error `out` is empty and err names the file. */
nm_status nm_micrograph_open(const char *path, const void *buf, size_t n,
                             const nm_micrograph_opts *opts, nm_micrograph *out,
                             nm_error *err);

/* Frees the pixels and resets. Safe on a zeroed or already-freed struct. */
void nm_micrograph_free(nm_micrograph *m);

/* Bilinear resample of src (sw x sh) to dw x dh: pixel centres map linearly,
** edges clamp. dst must hold dw*dh floats. Exposed for tests. */
void nm_resample_bilinear(const float *src, int sw, int sh, float *dst, int dw, int dh);

#endif /* NM_MICROGRAPH_H */
