/*
** image.c — the one decode entry point: read the bytes, sniff, dispatch to a
** reader in formats/, and PNG encoding.
*/
#include "image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/reader.h"

/* Files bigger than this are refused before reading (4 GiB). */
#define NM_MAX_FILE_BYTES ((uint64_t)4 << 30)

void nm_read_opts_default(nm_read_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->max_pixels = NM_DEFAULT_MAX_PIXELS;
}

void nm_image_free(nm_image *img) {
  if (!img) return;
  free(img->px);
  memset(img, 0, sizeof *img);
}

static int has_prefix(const uint8_t *buf, size_t n, const char *magic, size_t m) {
  return n >= m && memcmp(buf, magic, m) == 0;
}

static nm_reader_fn pick_reader(const nm_source *src) {
  const uint8_t *b = src->buf;
  size_t n = src->n;
  if (has_prefix(b, n, "\x89PNG\r\n\x1a\n", 8)) return nm_read_png;
  if (has_prefix(b, n, "II*\0", 4) || has_prefix(b, n, "MM\0*", 4) ||
      has_prefix(b, n, "II+\0", 4) || has_prefix(b, n, "MM\0+", 4))
    return nm_read_tiff;
  if (nm_sniff_emd(b, n)) return nm_read_emd;
  if (nm_sniff_dm(b, n)) return nm_read_dm;
  if (nm_sniff_ser(b, n)) return nm_read_ser;
  if (nm_sniff_mrc(b, n, src->name)) return nm_read_mrc;
  return NULL;
}

/* NaN and +-Inf samples (masked or saturated detector pixels in float data)
** would poison every histogram and filter downstream: they take the mean of
** the finite pixels, so they read as background and move no statistic much.
** A frame with no finite pixel at all has nothing to measure. */
static nm_status replace_nonfinite(nm_image *img, const char *name, nm_error *err) {
  size_t n = (size_t)img->width * img->height, bad = 0;
  /* count first (all exponent bits set: Inf or NaN), branch-free: most
  ** images have none, and then the mean below, a chain of dependent double
  ** additions, is not needed */
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &img->px[i], sizeof u);
    bad += (u & 0x7f800000u) == 0x7f800000u;
  }
  if (!bad) return NM_OK;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(img->px[i])) sum += img->px[i];
  if (bad == n) return nm_fail(err, NM_ERR_FORMAT, "%s: no finite pixel value (all NaN or Inf)", name);
  float fill = (float)(sum / (double)(n - bad));
  for (size_t i = 0; i < n; i++)
    if (!isfinite(img->px[i])) img->px[i] = fill;
  img->nonfinite_px = bad;
  return NM_OK;
}

static nm_status decode(const nm_source *src, const nm_read_opts *opts,
                        nm_image *out, nm_error *err) {
  nm_read_opts defaults;
  if (!opts) {
    nm_read_opts_default(&defaults);
    opts = &defaults;
  }
  memset(out, 0, sizeof *out);
  if (src->n == 0) return nm_fail(err, NM_ERR_FORMAT, "%s: empty file", src->name);
  if (opts->frame < 0) return nm_fail(err, NM_ERR_ARG, "%s: frame must be >= 0", src->name);
  nm_reader_fn reader = pick_reader(src);
  if (!reader)
    return nm_fail(err, NM_ERR_UNSUPPORTED,
                   "%s: not an image format nanomorph reads (PNG, TIFF, DM3/DM4, SER, EMD, MRC)",
                   src->name);
  nm_calib_unknown(&out->calib, NULL);
  out->frames = 1;
  out->file_bytes = src->n;
  nm_status status = reader(src, opts, out, err);
  if (status != NM_OK) {
    nm_image_free(out);
    return status;
  }
  out->file_bytes = src->n;
  if (out->px && (status = replace_nonfinite(out, src->name, err)) != NM_OK) {
    nm_image_free(out);
    return status;
  }
  return NM_OK;
}

/*
** The file's bytes: mapped read-only when possible, so a header-only read
** (micrographs() over a directory of large stacks) touches only the pages
** the reader looks at; read into memory otherwise. *mapped says which, for
** release().
*/
static nm_status slurp(const char *path, uint8_t **buf, size_t *n, int *mapped,
                       nm_error *err) {
  *buf = NULL;
  *n = 0;
  *mapped = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return nm_fail(err, NM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return nm_fail(err, NM_ERR_IO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > NM_MAX_FILE_BYTES) {
    fclose(f);
    return nm_fail(err, NM_ERR_TOOBIG, "%s: file of %lld bytes is over the 4 GiB limit", path,
                   (long long)st.st_size);
  }
  size_t size = (size_t)st.st_size;
  if (size > 0) {
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    if (map != MAP_FAILED) {
      fclose(f);
      *buf = map;
      *n = size;
      *mapped = 1;
      return NM_OK;
    }
  }
  uint8_t *data = nm_malloc(size ? size : 1, 1, err);
  if (!data) {
    fclose(f);
    return err ? err->code : NM_ERR_NOMEM;
  }
  size_t got = size ? fread(data, 1, size, f) : 0;
  fclose(f);
  if (got != size) {
    free(data);
    return nm_fail(err, NM_ERR_IO, "%s: read error", path);
  }
  *buf = data;
  *n = size;
  return NM_OK;
}

static void release(uint8_t *buf, size_t n, int mapped) {
  if (mapped) munmap(buf, n);
  else free(buf);
}

nm_status nm_image_read_file(const char *path, const nm_read_opts *opts,
                             nm_image *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  uint8_t *buf;
  size_t n;
  int mapped;
  nm_status status = slurp(path, &buf, &n, &mapped, err);
  if (status != NM_OK) return status;
  nm_source src = {buf, n, path, path};
  status = decode(&src, opts, out, err);
  release(buf, n, mapped);
  return status;
}

nm_status nm_image_read_memory(const void *buf, size_t n, const char *name,
                               const nm_read_opts *opts, nm_image *out,
                               nm_error *err) {
  nm_source src = {buf, n, NULL, name ? name : "BLOB"};
  return decode(&src, opts, out, err);
}
