/*
** test_formats_manifest.c — every row of ../shared/formats/manifest.tsv read
** through the one decode entry point: dimensions, sample type, frames, pixel
** size per axis in nm (relative tolerance 1e-6, or 1e-3 where the manifest's
** "asserted" column says rtol 1e-3), mode, calibration_source, and NULL with a
** reason for the uncalibrated and reciprocal rows. The SER frame's pixels must
** equal the reference .npy exactly.
**
** The corpus is GPL test data kept beside the project, not in it: when
** ../shared/formats is absent the test says SKIPPED and passes.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/wait.h>

#include "../../ext/formats/emd_parse.h"
#include "../../ext/formats/reader.h"
#include "../../ext/image.h"
#include "check.h"

#define CORPUS "../shared/formats"

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[len] = 0;
  if (n) *n = (size_t)len;
  return buf;
}

/* frames=N for a file, from verify/last_run.txt (the independent Python check); -1 if absent. */
static int expected_frames(const char *last_run, const char *file) {
  if (!last_run) return -1;
  char key[512];
  snprintf(key, sizeof key, "PASS  %s ", file);
  const char *p = strstr(last_run, key);
  if (!p) return -1;
  const char *eol = strchr(p, '\n');
  const char *f = strstr(p, "frames=");
  if (!f || (eol && f > eol)) return -1;
  return atoi(f + 7);
}

typedef struct dtype_info {
  const char *name;
  int bits, is_float, is_signed, channels;
} dtype_info;

static const dtype_info dtypes[] = {
    {"int8", 8, 0, 1, 1},     {"uint8", 8, 0, 0, 1},     {"int16", 16, 0, 1, 1},
    {"uint16", 16, 0, 0, 1},  {"int32", 32, 0, 1, 1},    {"uint32", 32, 0, 0, 1},
    {"float32", 32, 1, 0, 1}, {"float64", 64, 1, 0, 1},  {"rgba8", 8, 0, 0, 4},
};

static const dtype_info *dtype_of(const char *col) {
  char word[32];
  size_t k = strcspn(col, " ");
  snprintf(word, sizeof word, "%.*s", (int)(k < 31 ? k : 31), col);
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (strcmp(word, dtypes[i].name) == 0) return &dtypes[i];
  return NULL;
}

/* Splits "a;b" into two words (the first token of each side); b = a when there is no ';'. */
static void split_axes(const char *col, char a[64], char b[64]) {
  const char *semi = strchr(col, ';');
  size_t la = semi ? (size_t)(semi - col) : strlen(col);
  snprintf(a, 64, "%.*s", (int)(la < 63 ? la : 63), col);
  snprintf(b, 64, "%s", semi ? semi + 1 : a);
  a[strcspn(a, " (")] = 0;
  b[strcspn(b, " (")] = 0;
}

typedef struct tally {
  const char *dir;
  int rows, passed, pending;
} tally;

static tally tallies[] = {{"dm", 0, 0, 0},  {"tia", 0, 0, 0},  {"emd", 0, 0, 0},
                          {"mrc", 0, 0, 0}, {"tiff", 0, 0, 0}, {"derived", 0, 0, 0}};

static tally *tally_of(const char *file) {
  for (size_t i = 0; i < sizeof tallies / sizeof tallies[0]; i++) {
    size_t n = strlen(tallies[i].dir);
    if (strncmp(file, tallies[i].dir, n) == 0 && file[n] == '/') return &tallies[i];
  }
  return &tallies[4];
}

static const char *expected_source(const char *file) {
  if (!strncmp(file, "dm/", 3)) return "dm";
  if (!strncmp(file, "tia/", 4)) return "ser+emi";
  if (!strncmp(file, "emd/", 4)) return "emd";
  if (!strncmp(file, "mrc/", 4)) return "mrc";
  return "tiff:"; /* prefix: the tag family is the TIFF reader's to name */
}

/* Compares the SER frame with the reference .npy (little-endian float32, C order). */
static void check_npy(const char *npy_path, const nm_image *im) {
  size_t n;
  char *buf = slurp(npy_path, &n);
  CHECK(buf != NULL);
  if (!buf) return;
  CHECK(n > 10 && memcmp(buf, "\x93NUMPY", 6) == 0);
  size_t hlen = (size_t)(unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8;
  size_t data = 10 + hlen;
  char header[512];
  snprintf(header, sizeof header, "%.*s", (int)(hlen < 511 ? hlen : 511), buf + 10);
  CHECK(strstr(header, "'<f4'") != NULL);
  CHECK(strstr(header, "False") != NULL); /* fortran_order */
  char shape[64];
  snprintf(shape, sizeof shape, "(%d, %d)", im->height, im->width);
  CHECK(strstr(header, shape) != NULL);
  size_t count = (size_t)im->width * (size_t)im->height;
  CHECK(data + count * 4 <= n);
  if (data + count * 4 <= n && im->px) {
    size_t diff = 0;
    for (size_t i = 0; i < count; i++) {
      float v;
      memcpy(&v, buf + data + i * 4, 4);
      if (v != im->px[i]) diff++;
    }
    if (diff) fprintf(stderr, "%s: %zu of %zu pixels differ from the .npy\n", npy_path, diff, count);
    CHECK(diff == 0);
  }
  free(buf);
}

/* One manifest row. Returns 1 when the reader is a placeholder not yet written. */
static int check_row(char **col, int ncol, const char *last_run) {
  const char *file = col[0];
  char path[1024], read_path[1024];
  snprintf(path, sizeof path, CORPUS "/%s", file);
  snprintf(read_path, sizeof read_path, "%s", path);
  size_t len = strlen(read_path);
  int is_npy = len > 4 && !strcmp(read_path + len - 4, ".npy");
  int is_emi = len > 4 && !strcmp(read_path + len - 4, ".emi");
  if (is_npy || is_emi) /* foo.npy / foo.emi describe foo_1.ser */
    snprintf(read_path + len - 4, sizeof read_path - (len - 4), "_1.ser");

  nm_read_opts opts;
  nm_read_opts_default(&opts);
  const char *page = strstr(col[4], "(page ");
  if (page) opts.frame = atoi(page + 6) - 1; /* the row describes that page */
  nm_image im;
  nm_error err = {0};
  nm_status s = nm_image_read_file(read_path, &opts, &im, &err);
  if (s == NM_ERR_UNSUPPORTED && strstr(err.msg, "not read yet")) {
    printf("  PENDING %s: %s\n", file, err.msg);
    return 1;
  }
  CHECK_OK(s, err);
  if (s != NM_OK) {
    fprintf(stderr, "  row %s: read failed\n", file);
    return 0;
  }
  if (is_npy) {
    check_npy(path, &im);
    nm_image_free(&im);
    return 0;
  }
  CHECK(im.width == atoi(col[2]));
  CHECK(im.height == atoi(col[3]));
  const dtype_info *dt = dtype_of(col[4]);
  CHECK(dt != NULL);
  if (dt) {
    CHECK(im.bits == dt->bits);
    CHECK(im.sample_float == dt->is_float);
    CHECK(im.sample_signed == dt->is_signed);
    if (dt->channels == 4) CHECK(im.channels == 4);
  }
  int frames = expected_frames(last_run, file);
  if (frames > 0) CHECK(im.frames == frames);

  /* Pixel size: "none", or value(s) with unit(s). */
  const nm_calib *c = &im.calib;
  double rtol = ncol > 8 && strstr(col[8], "rtol 1e-3") ? 1e-3 : 1e-6;
  if (!strcmp(col[5], "none")) {
    CHECK(c->mode == NM_MODE_IMAGE);
    CHECK(isnan(c->nm_per_px_x) && isnan(c->nm_per_px_y));
    CHECK(c->reason[0] != 0);
  } else {
    char vx[64], vy[64], ux[64], uy[64];
    split_axes(col[5], vx, vy);
    split_axes(col[6], ux, uy);
    double kx = nm_unit_to_nm(ux), ky = nm_unit_to_nm(uy);
    CHECK(kx != 0 && ky != 0);
    const char *want_src = expected_source(file);
    if (!strcmp(want_src, "tiff:")) CHECK(!strncmp(c->source, "tiff:", 5));
    else CHECK(!strcmp(c->source, want_src));
    if (kx < 0 || ky < 0) {
      CHECK(c->mode == NM_MODE_DIFFRACTION);
      CHECK(isnan(c->nm_per_px_x) && isnan(c->nm_per_px_y));
      CHECK(c->reason[0] != 0);
    } else {
      double wx = strtod(vx, NULL) * kx, wy = strtod(vy, NULL) * ky;
      CHECK(c->mode == NM_MODE_IMAGE);
      CHECK_NEAR(c->nm_per_px_x, wx, rtol * wx);
      CHECK_NEAR(c->nm_per_px_y, wy, rtol * wy);
    }
  }
  /* The DM data-type files hold [[1,2],[3,4]]. */
  if (strstr(file, "dm/dtypes/") && im.px && im.width == 2 && im.height == 2)
    for (int i = 0; i < 4; i++) CHECK_NEAR(im.px[i], i + 1, 0);
  nm_image_free(&im);
  return 0;
}

/* Behaviour the table cannot express: frames, and a SER without its sidecar. */
static void check_extras(void) {
  nm_read_opts opts;
  nm_read_opts_default(&opts);
  nm_image a, b;
  nm_error err = {0};
  const char *series = CORPUS "/tia/64x64x5_TEM_preview_1.ser";
  opts.frame = 4;
  CHECK_OK(nm_image_read_file(series, &opts, &a, &err), err);
  opts.frame = 0;
  CHECK_OK(nm_image_read_file(series, &opts, &b, &err), err);
  if (a.px && b.px) CHECK(memcmp(a.px, b.px, sizeof(float) * 64 * 64) != 0);
  nm_image_free(&a);
  nm_image_free(&b);
  opts.frame = 5;
  CHECK(nm_image_read_file(series, &opts, &a, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "64x64x5_TEM_preview_1.ser") != NULL);
  opts.frame = 65;
  CHECK_OK(nm_image_read_file(CORPUS "/dm/dmTest_3D_int16_64x65x66.dm4", &opts, &a, &err), err);
  nm_image_free(&a);
  opts.frame = 66;
  CHECK(nm_image_read_file(CORPUS "/dm/dmTest_3D_int16_64x65x66.dm4", &opts, &a, &err) ==
        NM_ERR_ARG);

  /* The same SER bytes as a BLOB have no sidecar: metres are trusted only when plausible. */
  nm_read_opts_default(&opts);
  size_t n;
  char *buf = slurp(CORPUS "/tia/64x64_TEM_images_acquire_1.ser", &n);
  CHECK(buf != NULL);
  if (buf) {
    CHECK_OK(nm_image_read_memory(buf, n, "blob.ser", &opts, &a, &err), err);
    CHECK(!strcmp(a.calib.source, "ser"));
    CHECK_NEAR(a.calib.nm_per_px_x, 6.28183362, 6.3e-6);
    nm_image_free(&a);
    free(buf);
  }
  buf = slurp(CORPUS "/tia/64x64_diffraction_acquire_1.ser", &n);
  CHECK(buf != NULL);
  if (buf) {
    CHECK_OK(nm_image_read_memory(buf, n, "blob.ser", &opts, &a, &err), err);
    CHECK(isnan(a.calib.nm_per_px_x) && a.calib.reason[0]);
    nm_image_free(&a);
    free(buf);
  }
  /* Vendor data bars: FEI from [Image] ResolutionY, Zeiss found in the pixels
  ** (the framed box's top border is row 350 of 384 and row 691 of 768; the
  ** row above it is image, the border row is dark across >= 95 % of the width).
  ** The same rows with and without pixels (micrographs() reads headers only). */
  static const struct {
    const char *file;
    int rows;
    const char *rule;
  } bars[] = {
      {CORPUS "/tiff/FEI-Helios-Ebeam-8bits.tif", 29, "FEI [Image] ResolutionY"},
      {CORPUS "/tiff/test_tiff_Zeiss_SEM_512pix.tif", 34, "Zeiss data zone"},
      {CORPUS "/tiff/test_tiff_Zeiss_SEM_1k.tif", 77, "Zeiss data zone"},
      {CORPUS "/tiff/TVIPS_bin4.tif", 0, ""},
      {CORPUS "/tiff/olympus_SIS.tif", 0, ""},
  };
  for (size_t i = 0; i < sizeof bars / sizeof bars[0]; i++) {
    for (int header_only = 0; header_only < 2; header_only++) {
      nm_read_opts_default(&opts);
      opts.header_only = header_only;
      CHECK_OK(nm_image_read_file(bars[i].file, &opts, &a, &err), err);
      CHECK(a.calib.databar_rows == bars[i].rows);
      CHECK(strncmp(a.calib.databar_rule, bars[i].rule, strlen(bars[i].rule)) == 0);
      if (!bars[i].rows) CHECK(a.calib.databar_rule[0] == 0);
      if (a.px && bars[i].rows && strstr(bars[i].rule, "Zeiss")) {
        int top = a.height - bars[i].rows, dark_top = 0, dark_above = 0;
        for (int x = 0; x < a.width; x++) {
          dark_top += a.px[(size_t)top * a.width + x] < 1;
          dark_above += a.px[(size_t)(top - 1) * a.width + x] < 1;
        }
        CHECK(dark_top >= 0.95 * a.width && dark_above < 0.05 * a.width);
      }
      nm_image_free(&a);
    }
  }
  nm_read_opts_default(&opts);

  /* header_only fills everything but the pixels. */
  opts.header_only = 1;
  const char *some[] = {CORPUS "/dm/multi_signal.dm3", CORPUS "/tia/128x128-TEM_search_1.ser",
                        CORPUS "/emd/STEM_HAADF_Diffraction_Micro.emd", CORPUS "/mrc/HAADFscan.mrc"};
  for (size_t i = 0; i < sizeof some / sizeof some[0]; i++) {
    CHECK_OK(nm_image_read_file(some[i], &opts, &a, &err), err);
    CHECK(a.px == NULL && a.width > 0 && nm_calib_known(&a.calib));
    nm_image_free(&a);
  }
}

/* EMD isolation: the helper process (a re-executed copy of this test binary
** that forks a worker per file) and a plain fork() of this process must give
** identical images; the worker's exit status comes back; a helper killed
** between two reads costs nothing but a fallback and a restart. */
static int same_image(const nm_image *a, const nm_image *b) {
  if (a->width != b->width || a->height != b->height || a->frames != b->frames ||
      a->bits != b->bits || a->sample_signed != b->sample_signed ||
      memcmp(&a->calib.nm_per_px_x, &b->calib.nm_per_px_x, sizeof(double)) != 0 ||
      memcmp(&a->calib.inv_nm_per_px_x, &b->calib.inv_nm_per_px_x, sizeof(double)) != 0 ||
      a->calib.mode != b->calib.mode || strcmp(a->calib.source, b->calib.source) != 0 ||
      strcmp(a->calib.reason, b->calib.reason) != 0 || !a->px != !b->px)
    return 0;
  return !a->px || memcmp(a->px, b->px, (size_t)a->width * a->height * sizeof(float)) == 0;
}

static void emd_isolation(void) {
  static const char *files[] = {"emd/STEM_HAADF_Diffraction_Micro.emd",
                                "emd/Camera_Ceta_Imaging_Micro.emd",
                                "emd/Camera_Ceta_Diffraction_Micro.emd"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, CORPUS "/%s", files[i]);
    size_t n;
    char *bytes = slurp(path, &n);
    CHECK(bytes != NULL);
    if (!bytes) continue;
    nm_source src = {(const uint8_t *)bytes, n, path, path};
    for (int header_only = 0; header_only < 2; header_only++) {
      nm_read_opts o;
      nm_read_opts_default(&o);
      o.header_only = header_only;
      nm_image a, b;
      memset(&a, 0, sizeof a);
      memset(&b, 0, sizeof b);
      nm_error ea = {0}, eb = {0};
      int sa = -2, sb = -2;
      nm_emd_set_isolation(NM_EMD_ISOLATION_AUTO);
      CHECK_OK(nm_read_emd_isolated(&src, &o, &a, &ea, &sa), ea);
      CHECK(nm_emd_helper_pid() > 0); /* the helper did the reading */
      nm_emd_set_isolation(NM_EMD_ISOLATION_FORK);
      CHECK_OK(nm_read_emd_isolated(&src, &o, &b, &eb, &sb), eb);
      nm_emd_set_isolation(NM_EMD_ISOLATION_AUTO);
      CHECK(sa != -1 && WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
      CHECK(sb != -1 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
      CHECK(same_image(&a, &b));
      CHECK(header_only ? a.px == NULL : a.px != NULL);
      nm_image_free(&a);
      nm_image_free(&b);
    }
    free(bytes);
  }
  /* a dead helper: this read falls back to fork(), the next starts a new helper */
  int pid = nm_emd_helper_pid();
  CHECK(pid > 0);
  if (pid > 0) kill(pid, SIGKILL);
  nm_read_opts o;
  nm_read_opts_default(&o);
  for (int k = 0; k < 2; k++) {
    nm_image im;
    nm_error err = {0};
    CHECK_OK(nm_image_read_file(CORPUS "/emd/STEM_HAADF_Diffraction_Micro.emd", &o, &im, &err),
             err);
    CHECK_NEAR(im.calib.nm_per_px_x, 87.3707961, 87.3707961e-6);
    nm_image_free(&im);
  }
  CHECK(nm_emd_helper_pid() > 0 && nm_emd_helper_pid() != pid);
}

int main(void) {
  size_t n;
  char *manifest = slurp(CORPUS "/manifest.tsv", &n);
  if (!manifest) {
    printf("test_formats_manifest: SKIPPED: " CORPUS "/manifest.tsv not found "
           "(the format corpus is kept beside the repository, not in it)\n");
    return 0;
  }
  char *last_run = slurp(CORPUS "/verify/last_run.txt", NULL);
  int rows = 0, pending = 0;
  char *save_line = NULL;
  char *line = strtok_r(manifest, "\n", &save_line); /* header */
  while ((line = strtok_r(NULL, "\n", &save_line)) != NULL) {
    char *col[16];
    int ncol = 0;
    for (char *p = line; ncol < 16;) {
      col[ncol++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = 0;
      p = tab + 1;
    }
    if (ncol < 7) continue;
    rows++;
    tally *t = tally_of(col[0]);
    t->rows++;
    int before = check_failures;
    int is_pending = check_row(col, ncol, last_run);
    if (is_pending) {
      t->pending++;
      pending++;
    } else if (check_failures == before) {
      t->passed++;
    } else {
      fprintf(stderr, "  FAILED row %s\n", col[0]);
    }
  }
  check_extras();
  emd_isolation();
  printf("test_formats_manifest: %d rows:", rows);
  for (size_t i = 0; i < sizeof tallies / sizeof tallies[0]; i++)
    printf(" %s %d/%d%s", tallies[i].dir, tallies[i].passed, tallies[i].rows,
           tallies[i].pending ? " (rest pending: reader not written yet)" : "");
  printf("\n");
  CHECK(rows == 53);
  free(manifest);
  free(last_run);
  return check_summary("test_formats_manifest");
}
