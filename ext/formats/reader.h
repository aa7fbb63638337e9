/*
** formats/reader.h — the contract every file-format reader follows.
**
** image.c reads the whole file (or takes the BLOB), sniffs the format and
** calls one reader. A reader must bounds-check every offset and count against
** src->n before using it, check width*height against opts->max_pixels before
** allocating, fill out->format/width/height/channels/bits/frames/calib, and
** (unless opts->header_only) allocate and fill out->px.
*/
#ifndef NM_FORMATS_READER_H
#define NM_FORMATS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "../image.h"

typedef struct nm_source {
  const uint8_t *buf;   /* the whole file */
  size_t n;
  const char *path;     /* file path when read from disk (sidecars, HDF5), else NULL */
  const char *name;     /* for messages: the path, or "BLOB" */
} nm_source;

typedef nm_status (*nm_reader_fn)(const nm_source *src, const nm_read_opts *opts,
                                  nm_image *out, nm_error *err);

nm_status nm_read_png(const nm_source *src, const nm_read_opts *opts, nm_image *out, nm_error *err);
nm_status nm_read_tiff(const nm_source *src, const nm_read_opts *opts, nm_image *out, nm_error *err);
nm_status nm_read_dm(const nm_source *src, const nm_read_opts *opts, nm_image *out, nm_error *err);
nm_status nm_read_ser(const nm_source *src, const nm_read_opts *opts, nm_image *out, nm_error *err);
nm_status nm_read_emd(const nm_source *src, const nm_read_opts *opts, nm_image *out, nm_error *err);
nm_status nm_read_mrc(const nm_source *src, const nm_read_opts *opts, nm_image *out, nm_error *err);

/* Magic-byte sniffers: nonzero when buf looks like that format. */
int nm_sniff_dm(const uint8_t *buf, size_t n);
int nm_sniff_ser(const uint8_t *buf, size_t n);
int nm_sniff_emd(const uint8_t *buf, size_t n);
int nm_sniff_mrc(const uint8_t *buf, size_t n, const char *name);

#endif /* NM_FORMATS_READER_H */
