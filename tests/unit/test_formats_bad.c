/*
** test_formats_bad.c — hostile input for the DM, SER, MRC and EMD readers,
** crafted in memory: truncated files (every prefix of a small valid file),
** absurd and deeply nested tag trees, counts and offsets past the end,
** dimensions over the pixel cap, an EMD with no image. Each must give an
** error that names the file, never a crash, a hang or a huge allocation
** (the ASan pass runs this too). The valid versions of the same files are
** read first, so every failure below is caused by the one field changed.
*/
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/image.h"
#include "check.h"

/* ---- a growable byte buffer ---- */

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void put_uint(buf *b, uint64_t v, int size, int little) {
  uint8_t t[8];
  for (int i = 0; i < size; i++) {
    int shift = little ? 8 * i : 8 * (size - 1 - i);
    t[i] = (uint8_t)(v >> shift);
  }
  put(b, t, (size_t)size);
}

static void put_f32(buf *b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  put_uint(b, u, 4, 1);
}

static void put_f64(buf *b, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  put_uint(b, u, 8, 1);
}

/* Expects a failure whose message names the file. */
static void expect_error(const buf *b, size_t n, const char *name, const nm_read_opts *opts,
                         nm_status want, const char *text) {
  nm_image im;
  nm_error err = {0};
  nm_status s = nm_image_read_memory(b->p, n, name, opts, &im, &err);
  CHECK(s != NM_OK);
  CHECK(im.px == NULL);
  if (want != NM_OK && s != want)
    fprintf(stderr, "%s: status %d, want %d (%s)\n", name, (int)s, (int)want, err.msg);
  if (want != NM_OK) CHECK(s == want);
  CHECK(strstr(err.msg, name) != NULL);
  if (text && !strstr(err.msg, text)) fprintf(stderr, "%s: message '%s' lacks '%s'\n", name, err.msg, text);
  if (text) CHECK(strstr(err.msg, text) != NULL);
  if (s == NM_OK) nm_image_free(&im);
}

/* Every proper prefix of a valid file must fail cleanly. */
static void expect_all_prefixes_fail(const buf *b, const char *name, size_t from) {
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  int ok = 0;
  for (size_t n = from; n < b->n; n++) {
    nm_image im;
    nm_error err = {0};
    nm_status s = nm_image_read_memory(b->p, n, name, &opts, &im, &err);
    if (s == NM_OK) {
      ok++;
      nm_image_free(&im);
    } else if (!strstr(err.msg, name)) {
      fprintf(stderr, "%s cut at %zu: message does not name the file: %s\n", name, n, err.msg);
      ok++;
    }
  }
  if (ok) fprintf(stderr, "%s: %d truncated prefixes did not fail properly\n", name, ok);
  CHECK(ok == 0);
}

/* ---- DM3 / DM4 ---- */

typedef struct dm_spec {
  int wide;               /* DM4 */
  uint64_t w, h;          /* Dimensions */
  uint64_t data_count;    /* elements in the Data array */
  uint64_t root_ntags;    /* 1 normally */
  uint64_t ninfo_override;
  float scale;
  const char *unit;
  int nan_dtype;          /* DataType written as a float NaN */
} dm_spec;

static void dm_word(buf *b, const dm_spec *s, uint64_t v) { put_uint(b, v, s->wide ? 8 : 4, 0); }

static void dm_tag(buf *b, const dm_spec *s, int kind, const char *label) {
  put_uint(b, (uint64_t)kind, 1, 0);
  put_uint(b, strlen(label), 2, 0);
  put(b, label, strlen(label));
  if (s->wide) put_uint(b, 0, 8, 0); /* tag size: not trusted by the reader */
}

static void dm_group(buf *b, const dm_spec *s, const char *label, uint64_t ntags) {
  dm_tag(b, s, 20, label);
  put_uint(b, 0, 1, 0);
  put_uint(b, 0, 1, 0);
  dm_word(b, s, ntags);
}

static void dm_u32(buf *b, const dm_spec *s, const char *label, uint32_t v) {
  dm_tag(b, s, 21, label);
  put(b, "%%%%", 4);
  dm_word(b, s, 1);
  dm_word(b, s, 5);
  put_uint(b, v, 4, 1);
}

static void dm_f32(buf *b, const dm_spec *s, const char *label, float v) {
  dm_tag(b, s, 21, label);
  put(b, "%%%%", 4);
  dm_word(b, s, 1);
  dm_word(b, s, 6);
  put_f32(b, v);
}

static void dm_units(buf *b, const dm_spec *s, const char *unit) {
  dm_tag(b, s, 21, "Units");
  put(b, "%%%%", 4);
  dm_word(b, s, 3);
  dm_word(b, s, 20);
  dm_word(b, s, 4);
  dm_word(b, s, strlen(unit));
  for (const char *c = unit; *c; c++) put_uint(b, (uint8_t)*c, 2, 1);
}

/* A uint16 image: ImageList/[0]/ImageData/{Calibrations, Data, DataType, Dimensions}. */
static buf make_dm(const dm_spec *s) {
  buf b = {0};
  put_uint(&b, s->wide ? 4 : 3, 4, 0);
  dm_word(&b, s, 0);      /* file length */
  put_uint(&b, 1, 4, 0);  /* little-endian data */
  put_uint(&b, 0, 1, 0);
  put_uint(&b, 0, 1, 0);
  dm_word(&b, s, s->root_ntags);
  dm_group(&b, s, "ImageList", 1);
  dm_group(&b, s, "", 1);
  dm_group(&b, s, "ImageData", 4);
  dm_group(&b, s, "Calibrations", 1);
  dm_group(&b, s, "Dimension", 2);
  for (int k = 0; k < 2; k++) {
    dm_group(&b, s, "", 2);
    dm_f32(&b, s, "Scale", s->scale);
    dm_units(&b, s, s->unit);
  }
  dm_tag(&b, s, 21, "Data");
  put(&b, "%%%%", 4);
  dm_word(&b, s, s->ninfo_override ? s->ninfo_override : 3);
  dm_word(&b, s, 20);
  dm_word(&b, s, 4); /* uint16 elements */
  dm_word(&b, s, s->data_count);
  uint64_t real = s->data_count < 4096 ? s->data_count : 16;
  for (uint64_t i = 0; i < real; i++) put_uint(&b, i, 2, 1);
  if (s->nan_dtype)
    dm_f32(&b, s, "DataType", NAN);
  else
    dm_u32(&b, s, "DataType", 10);
  dm_group(&b, s, "Dimensions", 2);
  dm_u32(&b, s, "", (uint32_t)s->w);
  dm_u32(&b, s, "", (uint32_t)s->h);
  return b;
}

static void test_dm(int wide) {
  const char *name = wide ? "crafted.dm4" : "crafted.dm3";
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  dm_spec good = {wide, 4, 3, 12, 1, 0, 0.5f, "um", 0};
  buf b = make_dm(&good);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  CHECK(im.width == 4 && im.height == 3);
  CHECK_NEAR(im.calib.nm_per_px_x, 500, 1e-6);
  if (im.px) CHECK_NEAR(im.px[5], 5, 0);
  nm_image_free(&im);
  expect_all_prefixes_fail(&b, name, 0);
  free(b.p);

  dm_spec s = good;
  s.nan_dtype = 1; /* a float DataType holding NaN is not a type code (found by fuzz_dm) */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "invalid DataType");
  free(b.p);

  s = good;
  s.root_ntags = 0xffffffffu; /* absurd tag count */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "tag count");
  free(b.p);

  s = good;
  s.data_count = (uint64_t)1 << 62; /* count * 2 bytes overflows */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, NULL);
  free(b.p);

  s = good;
  s.data_count = 1u << 30; /* fits in 64 bits, far past the end */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  free(b.p);

  s = good;
  s.ninfo_override = wide ? (uint64_t)1 << 40 : 0x7fffffff; /* absurd descriptor */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, NULL);
  free(b.p);

  s = good;
  s.w = 100000;
  s.h = 100000; /* 1e10 pixels: over the cap, refused before any allocation */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_TOOBIG, "cap");
  free(b.p);

  s = good;
  s.w = s.h = 0x7fffffff; /* no cap: the size arithmetic must not wrap */
  b = make_dm(&s);
  opts.max_pixels = UINT64_MAX;
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "shorter");
  opts.max_pixels = NM_DEFAULT_MAX_PIXELS;
  free(b.p);

  s = good;
  s.w = 64;
  s.h = 64; /* dims larger than the data */
  b = make_dm(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "shorter");
  free(b.p);

  /* 100000 nested groups: the depth limit stops the walk. */
  b = (buf){0};
  put_uint(&b, wide ? 4 : 3, 4, 0);
  dm_word(&b, &good, 0);
  put_uint(&b, 1, 4, 0);
  put_uint(&b, 0, 2, 0);
  dm_word(&b, &good, 1);
  for (int i = 0; i < 100000; i++) dm_group(&b, &good, "g", 1);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "nested");
  free(b.p);

  /* A tag kind that is neither group nor data. */
  b = make_dm(&good);
  b.p[wide ? 26 : 18] = 0x42;
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "tag kind");
  free(b.p);
}

/* ---- TIA SER ---- */

typedef struct ser_spec {
  int version;
  uint32_t total, valid;
  uint64_t table;   /* 0: right after the header */
  uint64_t element; /* 0: right after the table */
  int32_t w, h;
  int16_t type;
} ser_spec;

static buf make_ser(const ser_spec *s) {
  buf b = {0};
  int wide = s->version >= 0x220;
  put_uint(&b, 0x4949, 2, 1);
  put_uint(&b, 0x0197, 2, 1);
  put_uint(&b, (uint64_t)s->version, 2, 1);
  put_uint(&b, 0x4122, 4, 1);
  put_uint(&b, 0x4152, 4, 1);
  put_uint(&b, s->total, 4, 1);
  put_uint(&b, s->valid, 4, 1);
  uint64_t header = wide ? 34 : 30;
  uint64_t table = s->table ? s->table : header;
  put_uint(&b, table, wide ? 8 : 4, 1);
  put_uint(&b, 0, 4, 1); /* no series dimensions */
  uint64_t element = s->element ? s->element : header + 2ull * s->total * (wide ? 8 : 4);
  for (uint32_t i = 0; i < s->total; i++) put_uint(&b, element, wide ? 8 : 4, 1);
  for (uint32_t i = 0; i < s->total; i++) put_uint(&b, 0, wide ? 8 : 4, 1); /* tag offsets */
  put_f64(&b, 0);
  put_f64(&b, 2e-9);
  put_uint(&b, 0, 4, 1);
  put_f64(&b, 0);
  put_f64(&b, 2e-9);
  put_uint(&b, 0, 4, 1);
  put_uint(&b, (uint16_t)s->type, 2, 1);
  put_uint(&b, (uint32_t)s->w, 4, 1);
  put_uint(&b, (uint32_t)s->h, 4, 1);
  for (int i = 0; i < 3 * 2; i++) put_uint(&b, (uint64_t)i, 2, 1);
  return b;
}

static void test_ser(int version) {
  const char *name = "crafted_1.ser";
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  ser_spec good = {version, 1, 1, 0, 0, 3, 2, 2 /* uint16 */};
  buf b = make_ser(&good);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  CHECK(im.width == 3 && im.height == 2);
  if (im.px) CHECK(im.px[0] == 3 && im.px[3] == 0); /* bottom-up rows flipped */
  CHECK_NEAR(im.calib.nm_per_px_x, 2, 1e-9);
  CHECK(!strcmp(im.calib.source, "ser"));
  nm_image_free(&im);
  expect_all_prefixes_fail(&b, name, 0);
  free(b.p);

  ser_spec s = good;
  s.table = 1u << 30;
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "offset table");
  free(b.p);

  s = good;
  s.element = 0xfffffff0u;
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  free(b.p);

  s = good;
  s.total = 0x7fffffff; /* a table far bigger than the file */
  s.valid = 1;
  b = make_ser(&good);
  memcpy(b.p + 14, &s.total, 4);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "offset table");
  free(b.p);

  s = good;
  s.valid = 2; /* more valid elements than elements */
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, NULL);
  free(b.p);

  s = good;
  s.w = 100000;
  s.h = 100000;
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_TOOBIG, "cap");
  free(b.p);

  s = good;
  s.w = 1000;
  s.h = 1000; /* under the cap, but the pixels are not in the file */
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  free(b.p);

  s = good;
  s.w = s.h = 0x7fffffff; /* no cap at all: the size arithmetic must not wrap */
  b = make_ser(&s);
  opts.max_pixels = UINT64_MAX;
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  opts.max_pixels = NM_DEFAULT_MAX_PIXELS;
  free(b.p);

  s = good;
  s.w = -5;
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, NULL);
  free(b.p);

  s = good;
  s.type = 10; /* complex */
  b = make_ser(&s);
  expect_error(&b, b.n, name, &opts, NM_ERR_UNSUPPORTED, NULL);
  free(b.p);

  opts.frame = 1;
  b = make_ser(&good);
  expect_error(&b, b.n, name, &opts, NM_ERR_ARG, "frame");
  free(b.p);
}

/* ---- MRC ---- */

static buf make_mrc(int32_t nx, int32_t ny, int32_t nz, int32_t mode, int32_t nsymbt,
                    size_t data_bytes) {
  buf b = {0};
  uint8_t h[1024] = {0};
  int32_t ints[] = {nx, ny, nz, mode};
  memcpy(h, ints, sizeof ints);
  int32_t m[3] = {nx, ny, 1};
  memcpy(h + 28, m, sizeof m);
  float cell[3] = {2.5f * (float)nx, 2.5f * (float)ny, 1};
  memcpy(h + 40, cell, sizeof cell);
  memcpy(h + 92, &nsymbt, 4);
  memcpy(h + 208, "MAP DD\0\0", 8);
  put(&b, h, sizeof h);
  for (size_t i = 0; i < data_bytes; i++) put_uint(&b, i & 0xff, 1, 1);
  return b;
}

static void test_mrc(void) {
  const char *name = "crafted.mrc";
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  buf b = make_mrc(4, 2, 1, 1, 0, 16);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  CHECK(im.width == 4 && im.height == 2 && im.sample_signed);
  CHECK_NEAR(im.calib.nm_per_px_x, 0.25, 1e-7);
  nm_image_free(&im);
  expect_all_prefixes_fail(&b, name, 1024);
  free(b.p);

  b = make_mrc(4, 2, 1, 1, 0x7ffffff0, 16); /* extended header past the end */
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  free(b.p);
  b = make_mrc(4, 2, 1, 1, -8, 16);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, NULL);
  free(b.p);
  b = make_mrc(100000, 100000, 1, 2, 0, 16);
  expect_error(&b, b.n, name, &opts, NM_ERR_TOOBIG, "cap");
  free(b.p);
  b = make_mrc(4, 2, 1000000, 2, 0, 32); /* frame count far beyond the data: frame 0 reads */
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  nm_image_free(&im);
  opts.frame = 999999;
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  opts.frame = 0;
  free(b.p);
  b = make_mrc(0x7fffffff, 0x7fffffff, 0x7fffffff, 2, 0x7fffffff, 16); /* no cap: no wrap */
  opts.max_pixels = UINT64_MAX;
  opts.frame = 0x7ffffffe;
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "past the end");
  opts.frame = 0;
  opts.max_pixels = NM_DEFAULT_MAX_PIXELS;
  free(b.p);
  b = make_mrc(4, 2, 1, 4, 0, 64); /* complex */
  expect_error(&b, b.n, name, &opts, NM_ERR_UNSUPPORTED, NULL);
  free(b.p);
}

/* ---- Velox EMD (HDF5 built in memory with libhdf5) ---- */

typedef enum {
  EMD_GOOD, EMD_NO_IMAGE, EMD_1D, EMD_HUGE, EMD_BAD_JSON, EMD_NO_META, EMD_EXT_LINK, EMD_EXT_FILE
} emd_kind;

static buf make_emd(emd_kind kind) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 16, 0);
  hid_t f = H5Fcreate("crafted-in-memory.emd", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  hid_t g1 = H5Gcreate2(f, "/Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g2 = H5Gcreate2(f, kind == EMD_NO_IMAGE ? "/Data/Spectrum" : "/Data/Image", H5P_DEFAULT,
                        H5P_DEFAULT, H5P_DEFAULT);
  hid_t g3 = H5Gcreate2(g2, "0123abcd", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[3] = {2, 3, 1};
  if (kind == EMD_HUGE) dims[0] = dims[1] = 100000;
  int rank = kind == EMD_1D ? 1 : 3;
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  /* Raw data in another file: the reader must not follow it. */
  if (kind == EMD_EXT_FILE) H5Pset_external(dcpl, "/etc/hostname", 0, 12);
  hid_t d = kind == EMD_EXT_LINK
                ? H5Lcreate_external("/etc/hostname", "/x", g3, "Data", H5P_DEFAULT, H5P_DEFAULT)
                : H5Dcreate2(g3, "Data", H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  if (kind != EMD_HUGE && kind != EMD_EXT_LINK && kind != EMD_EXT_FILE) {
    uint16_t px[6] = {1, 2, 3, 4, 5, 6};
    H5Dwrite(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
  }
  if (kind != EMD_NO_META) {
    const char *json = kind == EMD_BAD_JSON
                           ? "{\"BinaryResult\": {\"PixelSize\": {\"width\": \"1e-9\""
                           : "{\"BinaryResult\": {\"PixelSize\": {\"width\": \"2.5e-10\", "
                             "\"height\": \"2.5e-10\"}, \"PixelUnitX\": \"m\", \"PixelUnitY\": \"m\"}}";
    hsize_t mdims[2] = {256, 1};
    uint8_t meta[256] = {0};
    memcpy(meta, json, strlen(json));
    hid_t ms = H5Screate_simple(2, mdims, NULL);
    hid_t md = H5Dcreate2(g3, "Metadata", H5T_STD_U8LE, ms, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(md, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, meta);
    H5Dclose(md);
    H5Sclose(ms);
  }
  if (kind != EMD_EXT_LINK) H5Dclose(d);
  H5Sclose(space);
  H5Gclose(g3);
  H5Gclose(g2);
  H5Gclose(g1);
  H5Fflush(f, H5F_SCOPE_GLOBAL);
  buf b = {0};
  ssize_t n = H5Fget_file_image(f, NULL, 0);
  if (n > 0) {
    b.p = malloc((size_t)n);
    b.n = b.cap = (size_t)n;
    H5Fget_file_image(f, b.p, (size_t)n);
  }
  H5Fclose(f);
  H5Pclose(fapl);
  return b;
}

static void test_emd(void) {
  const char *name = "crafted.emd";
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  buf b = make_emd(EMD_GOOD);
  CHECK(b.n > 0);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  CHECK(im.width == 3 && im.height == 2 && !strcmp(im.format, "emd"));
  CHECK_NEAR(im.calib.nm_per_px_x, 0.25, 1e-9);
  if (im.px) CHECK(im.px[0] == 1 && im.px[5] == 6);
  nm_image_free(&im);
  /* Truncations: a step of 97 bytes keeps this quick; every cut must fail. */
  for (size_t n = 0; n < b.n; n += 97) {
    nm_status s = nm_image_read_memory(b.p, n, name, &opts, &im, &err);
    CHECK(s != NM_OK);
    if (s == NM_OK) nm_image_free(&im);
  }
  free(b.p);

  b = make_emd(EMD_NO_IMAGE);
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "no image");
  free(b.p);
  b = make_emd(EMD_1D);
  expect_error(&b, b.n, name, &opts, NM_ERR_UNSUPPORTED, "dimensions");
  free(b.p);
  b = make_emd(EMD_HUGE);
  expect_error(&b, b.n, name, &opts, NM_ERR_TOOBIG, "cap");
  free(b.p);

  b = make_emd(EMD_EXT_LINK); /* an external link must not open another file */
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "no image");
  free(b.p);
  b = make_emd(EMD_EXT_FILE); /* nor may external raw data read another file's bytes */
  expect_error(&b, b.n, name, &opts, NM_ERR_FORMAT, "no image");
  free(b.p);

  b = make_emd(EMD_BAD_JSON); /* pixels fine, metadata broken: image without a size */
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  CHECK(isnan(im.calib.nm_per_px_x) && im.calib.reason[0]);
  nm_image_free(&im);
  free(b.p);
  b = make_emd(EMD_NO_META);
  CHECK_OK(nm_image_read_memory(b.p, b.n, name, &opts, &im, &err), err);
  CHECK(isnan(im.calib.nm_per_px_x) && strstr(im.calib.reason, "Metadata"));
  nm_image_free(&im);
  free(b.p);
}

/* Finding 5 of docs/reliability.md: a 6,816-byte EMD that fuzz_emd derived
** from its own generated seed (not from any corpus file). A forged
** object-header size makes libhdf5 1.10 malloc gigabytes and memcpy into the
** NULL it gets back (SEGV in H5F__accum_read under H5Dopen2). The reader runs
** libhdf5 in a child process, so this must be a clean error. Encoding: hex
** pairs, and "zNN" for a run of NN (hex) zero bytes. */
static const char emd_crash_z[] =
    "894844460d0a1a0az05080800040010z0dffffffffffffffffa01az06ffffffffffffffffz0860z0701z0788z07a802z"
    "060100010001z0318z07110010z050100ffffffffffffffffffffffffffffffffz08e809z0608zffz2b0100010001z03"
    "18z07110010z0588z07a802z065452454500000100ffffffffffffffffffffffffffffffffz08e005z0608zffzf84845"
    "4150z0458z0710z07c802z0e44617461z0401z0748z3f0100010001z0318z07110010z054803z066805z065452454500"
    "000100ffffffffffffffffffffffffffffffffz08e809z0608zffzffz0f48454150z0458z0710z07c802z0e44617461z"
    "0401z0748z3f0100010001z0318z07110010z054803z066805z065452454500000100fffffffffffffffffffffffffff"
    "fffffz08e809z0608zffzf848454150z0458z0710z078805z0e496d616765z0301z0748z3f534e4f440100010008z072"
    "003z0601z074803z066805zffz1f0100010001z0318z07110010z055007z067009z065452454500000100fffffffffff"
    "fffffffffffffffffffffz08f00dz0608zffzf848454150z0458z0718z079009z0e3031323361626364z0801z0740z37"
    "534e4f440100010008z072807z0601z075007z067009zffz1f0100010001z0318z07110010z05580bz06780dz0654524"
    "54500000100ffffffffffffffffffffffffffffffffz084810z0610zffz5ba802z065452454500000100ffffffffffff"
    "ffffffffffffffffffffz08e005z0608zffzf848454150z0458z0710z07c802z0e44617461z0401z0748z3f010001000"
    "1z0318z07110010z054803z066805z065452454500000100ffffffffffffffffffffffffffffffffz08e809z0608zffz"
    "f848454150z0458z0710z078805z0e496d616765z0301z0748z3f534e4f440100010008z072003z0601z074803z06680"
    "5zffz1f0100010001z0318z07110010z055007z067009z065452454500000100ffffffffffffffffffffffffffffffff"
    "z08f00dz0608zffz820100060001z0401z06010028z05010201z0601z06daz0801z0602z070300100001z0310z0301z0"
    "508z050500080001z0302020201z04080018z050301c011z0702z0c120008z0501z032a6d056b000070z75";

static buf emd_crash_bytes(void) {
  buf b = {0};
  for (const char *c = emd_crash_z; *c;) {
    unsigned v;
    if (*c == 'z') {
      sscanf(c + 1, "%2x", &v);
      uint8_t zero[256] = {0};
      put(&b, zero, v);
      c += 3;
    } else {
      sscanf(c, "%2x", &v);
      uint8_t byte = (uint8_t)v;
      put(&b, &byte, 1);
      c += 2;
    }
  }
  return b;
}

static void test_emd_libhdf5_crash(void) {
  buf b = emd_crash_bytes();
  CHECK(b.n == 6816);
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  for (int header_only = 0; header_only < 2; header_only++) {
    opts.header_only = header_only;
    expect_error(&b, b.n, "fuzzed.emd", &opts, NM_ERR_FORMAT, "HDF5 library failed");
  }
  /* A host that ignores SIGCHLD has its children reaped by the kernel, so
  ** waitpid() cannot report on the reader's child: a good file must still
  ** read and the crash must still be an error. */
  opts.header_only = 0;
  struct sigaction ign, old;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGCHLD, &ign, &old);
  expect_error(&b, b.n, "fuzzed.emd", &opts, NM_ERR_FORMAT, "HDF5 library failed");
  buf good = make_emd(EMD_GOOD);
  nm_image im;
  nm_error err = {0};
  CHECK_OK(nm_image_read_memory(good.p, good.n, "crafted.emd", &opts, &im, &err), err);
  CHECK(im.width == 3 && im.height == 2 && im.px && im.px[5] == 6);
  CHECK_NEAR(im.calib.nm_per_px_x, 0.25, 1e-9);
  nm_image_free(&im);
  sigaction(SIGCHLD, &old, NULL);
  free(good.p);
  free(b.p);
}

/* ---- TIFF with a cyclic IFD chain (the one format whose tag tree has links) ---- */

static void tiff_ifd(buf *b, uint32_t next, uint32_t strip) {
  static const uint16_t tags[][2] = {{256, 3}, {257, 3}, {258, 3}, {259, 3}, {262, 3},
                                     {273, 4}, {277, 3}, {278, 3}, {279, 4}};
  uint32_t values[] = {2, 2, 8, 1, 1, strip, 1, 2, 4};
  put_uint(b, 9, 2, 1);
  for (int i = 0; i < 9; i++) {
    put_uint(b, tags[i][0], 2, 1);
    put_uint(b, tags[i][1], 2, 1);
    put_uint(b, 1, 4, 1);
    put_uint(b, values[i], 4, 1); /* SHORT values sit in the low bytes (little-endian) */
  }
  put_uint(b, next, 4, 1);
}

static void test_tiff_cycle(void) {
  /* Header, IFD A at 8 (-> B), IFD B at 122 (-> A), pixels at 236. */
  for (int self = 0; self < 2; self++) {
    buf b = {0};
    put(&b, "II*\0", 4);
    put_uint(&b, 8, 4, 1);
    tiff_ifd(&b, self ? 8 : 122, 236);
    tiff_ifd(&b, 8, 236);
    put(&b, "\x01\x02\x03\x04", 4);
    nm_read_opts opts;
    nm_read_opts_default(&opts);
    nm_image im;
    nm_error err = {0};
    nm_status s = nm_image_read_memory(b.p, b.n, "cyclic.tif", &opts, &im, &err);
    /* libtiff cuts the loop: the chain has 1 (self loop) or 2 distinct pages. */
    CHECK_OK(s, err);
    if (s == NM_OK) {
      CHECK(im.frames == (self ? 1 : 2));
      CHECK(im.px && im.px[0] == 1 && im.px[3] == 4);
      nm_image_free(&im);
    }
    free(b.p);
  }
}

int main(void) {
  test_tiff_cycle();
  test_dm(0);
  test_dm(1);
  test_ser(0x210);
  test_ser(0x220);
  test_mrc();
  test_emd();
  test_emd_libhdf5_crash();
  return check_summary("test_formats_bad");
}
