/*
** formats/emd.c — Thermo Fisher Velox EMD files, through libhdf5 and cJSON.
**
** A Velox EMD is HDF5. Each image is a group /Data/Image/<uuid> with
**   Data      the pixels, shaped (rows, cols, frames)
**   Metadata  uint8 (N, frames): column f is the NUL-padded JSON text of frame f
** and the JSON gives BinaryResult.PixelSize.{width,height} (decimal strings,
** in BinaryResult.PixelUnitX/Y: "m", or "1/m" for a diffraction pattern).
** The first image group in name order is read.
**
** The HDF5 file is opened from memory (core driver + file image), so a BLOB
** reads exactly like a file and nothing touches the disk. libhdf5 keeps
** global state and the Debian serial build is not thread-safe, so every call
** into it holds one mutex; its error stack printing is switched off (the
** engine never prints). Before reading, the dataset's shape and its chunk
** size are checked against opts->max_pixels, so a crafted file cannot make
** libhdf5 allocate a huge chunk buffer.
**
** libhdf5 1.10 is not hardened against hostile files: a forged object-header
** size makes it malloc terabytes and memcpy into the NULL it gets back
** (docs/reliability.md, finding 5). No check here can see that field before
** libhdf5 reads it, so nm_read_emd never lets libhdf5 touch untrusted bytes
** in the host process: a fork()ed child (address space capped, crash
** signals back to default, no core file) parses the file and sends a small
** fixed header plus the pixels through a pipe; the parent checks every size
** against opts->max_pixels before allocating and turns a child that dies,
** fails or sends a short or malformed answer into NM_ERR_FORMAT. The child
** always leaves with _exit, so it never returns into the caller, never runs
** atexit handlers and never flushes the parent's stdio buffers; header_only
** goes through it too. A fork() costs in proportion to the forking process's
** mapped memory, so the children are not forked from the host but from a
** small helper process started once (see "the helper process" below); a
** fork() of the host itself is the fallback when the helper cannot run.
** nm_read_emd_inprocess (emd_parse.h) is the same parser without the child,
** for the fuzz target's coverage.
**
** JSON: cJSON (Debian libcjson-dev) — small, plain C, a tree API that makes
** "BinaryResult.PixelSize.width" three lookups, and already a Debian package.
*/
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emd_parse.h"
#include "reader.h"

#define EMD_MAX_GROUPS 4096          /* image groups looked at */
#define EMD_MAX_METADATA (1u << 22)  /* bytes of JSON per frame */

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct emd_job {
  hid_t fapl, file, images, group, data, type, space, mspace, meta, meta_space, meta_mspace, dcpl;
  char *json;
  cJSON *root;
} emd_job;

static void job_close(emd_job *j) {
  hid_t *ids[] = {&j->meta_mspace, &j->meta_space, &j->meta, &j->mspace, &j->space,
                  &j->type, &j->dcpl, &j->data, &j->group, &j->images, &j->file, &j->fapl};
  if (j->meta_mspace >= 0) H5Sclose(j->meta_mspace);
  if (j->meta_space >= 0) H5Sclose(j->meta_space);
  if (j->meta >= 0) H5Dclose(j->meta);
  if (j->mspace >= 0) H5Sclose(j->mspace);
  if (j->space >= 0) H5Sclose(j->space);
  if (j->type >= 0) H5Tclose(j->type);
  if (j->dcpl >= 0) H5Pclose(j->dcpl);
  if (j->data >= 0) H5Dclose(j->data);
  if (j->group >= 0) H5Gclose(j->group);
  if (j->images >= 0) H5Gclose(j->images);
  if (j->file >= 0) H5Fclose(j->file);
  if (j->fapl >= 0) H5Pclose(j->fapl);
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) *ids[i] = H5I_INVALID_HID;
  cJSON_Delete(j->root);
  j->root = NULL;
  free(j->json);
  j->json = NULL;
}

/* 1 when loc has a hard link `name`. Soft and external links are not
** followed: an external link would make libhdf5 open another file on disk. */
static int hard_link(hid_t loc, const char *name) {
  H5L_info_t info;
  return H5Lexists(loc, name, H5P_DEFAULT) > 0 &&
         H5Lget_info(loc, name, &info, H5P_DEFAULT) >= 0 && info.type == H5L_TYPE_HARD;
}

/* Opens dataset `name` in `loc` when its bytes live in this file: no external
** raw-data files and no virtual (multi-file) layout, so a crafted EMD cannot
** read other files' bytes into the image. */
static hid_t open_local_dataset(hid_t loc, const char *name) {
  if (!hard_link(loc, name)) return H5I_INVALID_HID;
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) return H5I_INVALID_HID;
  hid_t dcpl = H5Dget_create_plist(d);
  int ok = dcpl >= 0 && H5Pget_external_count(dcpl) == 0 &&
           H5Pget_layout(dcpl) != H5D_VIRTUAL && H5Pget_layout(dcpl) >= 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  if (!ok) {
    H5Dclose(d);
    return H5I_INVALID_HID;
  }
  return d;
}

/* Opens the first /Data/Image/<name> group holding a Data dataset. */
static int open_first_image(emd_job *j, char *group_name, size_t cap) {
  if (!hard_link(j->file, "/Data")) return -1;
  hid_t data_group = H5Gopen2(j->file, "/Data", H5P_DEFAULT);
  if (data_group < 0) return -1;
  if (hard_link(data_group, "Image")) j->images = H5Gopen2(data_group, "Image", H5P_DEFAULT);
  H5Gclose(data_group);
  if (j->images < 0) return -1;
  H5G_info_t info;
  if (H5Gget_info(j->images, &info) < 0) return -1;
  hsize_t n = info.nlinks < EMD_MAX_GROUPS ? info.nlinks : EMD_MAX_GROUPS;
  for (hsize_t i = 0; i < n; i++) {
    ssize_t len = H5Lget_name_by_idx(j->images, ".", H5_INDEX_NAME, H5_ITER_INC, i, group_name,
                                     cap, H5P_DEFAULT);
    if (len <= 0 || (size_t)len >= cap || !hard_link(j->images, group_name)) continue;
    H5O_info_t oinfo;
    if (H5Oget_info_by_name(j->images, group_name, &oinfo, H5P_DEFAULT) < 0 ||
        oinfo.type != H5O_TYPE_GROUP)
      continue;
    j->group = H5Gopen2(j->images, group_name, H5P_DEFAULT);
    if (j->group < 0) continue;
    j->data = open_local_dataset(j->group, "Data");
    if (j->data >= 0) return 0;
    H5Gclose(j->group);
    j->group = H5I_INVALID_HID;
  }
  return -1;
}

/* A JSON member that is a number or a decimal string; NAN otherwise. */
static double json_number(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (cJSON_IsString(v) && v->valuestring) {
    char *end;
    double d = strtod(v->valuestring, &end);
    if (end != v->valuestring && *end == 0) return d;
  }
  return NAN;
}

static const char *json_string(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Reads the metadata JSON of `frame` (or of column 0 when it has fewer
** columns) and sets the calibration; leaves it unknown with a reason otherwise. */
static void calibrate(emd_job *j, int frame, nm_calib *c) {
  if ((j->meta = open_local_dataset(j->group, "Metadata")) < 0) {
    nm_calib_unknown(c, "EMD image has no Metadata dataset");
    return;
  }
  j->meta_space = H5Dget_space(j->meta);
  hsize_t dims[2];
  if (j->meta_space < 0 || H5Sget_simple_extent_ndims(j->meta_space) != 2 ||
      H5Sget_simple_extent_dims(j->meta_space, dims, NULL) != 2 || dims[0] == 0 ||
      dims[1] == 0 || dims[0] > EMD_MAX_METADATA) {
    nm_calib_unknown(c, "EMD Metadata is not a (bytes, frames) array");
    return;
  }
  hsize_t col = (hsize_t)frame < dims[1] ? (hsize_t)frame : 0;
  hsize_t start[2] = {0, col}, count[2] = {dims[0], 1}, len = dims[0];
  j->json = calloc((size_t)dims[0] + 1, 1);
  j->meta_mspace = H5Screate_simple(1, &len, NULL);
  if (!j->json || j->meta_mspace < 0 ||
      H5Sselect_hyperslab(j->meta_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
      H5Dread(j->meta, H5T_NATIVE_UCHAR, j->meta_mspace, j->meta_space, H5P_DEFAULT,
              j->json) < 0) {
    nm_calib_unknown(c, "EMD Metadata cannot be read");
    return;
  }
  j->root = cJSON_ParseWithLength(j->json, strlen(j->json));
  const cJSON *result = cJSON_GetObjectItemCaseSensitive(j->root, "BinaryResult");
  const cJSON *size = cJSON_GetObjectItemCaseSensitive(result, "PixelSize");
  double w = json_number(size, "width"), h = json_number(size, "height");
  const char *ux = json_string(result, "PixelUnitX"), *uy = json_string(result, "PixelUnitY");
  if (!j->root) {
    nm_calib_unknown(c, "EMD Metadata is not valid JSON");
    return;
  }
  if (isnan(w) || isnan(h) || !ux) {
    nm_calib_unknown(c, "EMD metadata has no BinaryResult.PixelSize / PixelUnitX");
    return;
  }
  if (!uy) uy = ux;
  double kx = nm_unit_to_nm(ux), ky = nm_unit_to_nm(uy);
  if (kx < 0 || ky < 0) {
    nm_calib_set(c, w, h, kx < 0 ? ux : uy, "emd");
  } else if (kx == 0 || ky == 0) {
    nm_calib_unknown(c, NULL);
    snprintf(c->reason, sizeof c->reason, "EMD pixel unit '%s' is not a length unit",
             kx == 0 ? ux : uy);
  } else {
    nm_calib_set(c, w * kx, h * ky, "nm", "emd");
  }
}

static nm_status read_locked(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                             nm_error *err, emd_job *j) {
  const char *name = src->name;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  j->fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (j->fapl < 0 || H5Pset_fapl_core(j->fapl, 1 << 20, 0) < 0 ||
      H5Pset_file_image(j->fapl, (void *)src->buf, src->n) < 0)
    return nm_fail(err, NM_ERR_NOMEM, "%s: cannot set up HDF5 to read from memory", name);
  j->file = H5Fopen("nanomorph-emd-in-memory", H5F_ACC_RDONLY, j->fapl);
  if (j->file < 0) return nm_fail(err, NM_ERR_FORMAT, "%s: not a readable HDF5/EMD file", name);
  char group[256];
  if (open_first_image(j, group, sizeof group) != 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: EMD file has no image (no /Data/Image/<id>/Data)",
                   name);

  j->space = H5Dget_space(j->data);
  int rank = j->space >= 0 ? H5Sget_simple_extent_ndims(j->space) : -1;
  hsize_t dims[3] = {0, 0, 1};
  if (rank < 2 || rank > 3 || H5Sget_simple_extent_dims(j->space, dims, NULL) != rank)
    return nm_fail(err, NM_ERR_UNSUPPORTED,
                   "%s: EMD image data has %d dimensions (2 or 3 are read)", name, rank);
  j->type = H5Dget_type(j->data);
  H5T_class_t cls = j->type >= 0 ? H5Tget_class(j->type) : H5T_NO_CLASS;
  size_t tsize = j->type >= 0 ? H5Tget_size(j->type) : 0;
  if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || tsize == 0 || tsize > 8)
    return nm_fail(err, NM_ERR_UNSUPPORTED, "%s: EMD image data is not integer or float samples",
                   name);
  hsize_t rows = dims[0], cols = dims[1], frames = rank == 3 ? dims[2] : 1;
  snprintf(out->format, sizeof out->format, "emd");
  out->channels = 1;
  out->bits = (int)tsize * 8;
  out->sample_float = cls == H5T_FLOAT;
  out->sample_signed = cls == H5T_INTEGER && H5Tget_sign(j->type) == H5T_SGN_2;
  if (rows == 0 || cols == 0 || frames == 0 || rows > INT32_MAX || cols > INT32_MAX ||
      frames > INT32_MAX)
    return nm_fail(err, NM_ERR_FORMAT, "%s: EMD image has size %llux%llux%llu", name,
                   (unsigned long long)cols, (unsigned long long)rows,
                   (unsigned long long)frames);
  out->width = (int)cols;
  out->height = (int)rows;
  out->frames = (int)frames;
  if ((uint64_t)rows * (uint64_t)cols > opts->max_pixels)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: %llux%llu pixels is over the cap of %llu pixels",
                   name, (unsigned long long)cols, (unsigned long long)rows,
                   (unsigned long long)opts->max_pixels);
  if ((hsize_t)opts->frame >= frames)
    return nm_fail(err, NM_ERR_ARG, "%s: frame %d requested but the file has %llu frame(s)",
                   name, opts->frame, (unsigned long long)frames);
  /* A chunk is decoded whole: refuse chunk shapes bigger than the pixel cap. */
  j->dcpl = H5Dget_create_plist(j->data);
  if (j->dcpl >= 0 && H5Pget_layout(j->dcpl) == H5D_CHUNKED) {
    hsize_t chunk[3] = {1, 1, 1};
    int crank = H5Pget_chunk(j->dcpl, 3, chunk);
    uint64_t cells = 1;
    for (int k = 0; k < crank && k < 3; k++)
      cells = chunk[k] && cells > UINT64_MAX / chunk[k] ? UINT64_MAX : cells * chunk[k];
    if (crank < 0 || cells > opts->max_pixels)
      return nm_fail(err, NM_ERR_TOOBIG, "%s: EMD chunk of %llu samples is over the pixel cap",
                     name, (unsigned long long)cells);
  }
  calibrate(j, opts->frame, &out->calib);
  if (opts->header_only) return NM_OK;

  hsize_t start[3] = {0, 0, (hsize_t)opts->frame}, count[3] = {rows, cols, 1};
  hsize_t n = rows * cols;
  out->px = nm_malloc((size_t)n, sizeof(float), err);
  if (!out->px) return err ? err->code : NM_ERR_NOMEM;
  j->mspace = H5Screate_simple(1, &n, NULL);
  if (j->mspace < 0 ||
      H5Sselect_hyperslab(j->space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
      H5Dread(j->data, H5T_NATIVE_FLOAT, j->mspace, j->space, H5P_DEFAULT, out->px) < 0)
    return nm_fail(err, NM_ERR_FORMAT, "%s: EMD image data cannot be read (corrupt HDF5)", name);
  return NM_OK;
}

static void job_init(emd_job *j) {
  memset(j, 0, sizeof *j);
  j->fapl = j->file = j->images = j->group = j->data = j->type = j->space = j->mspace =
      j->meta = j->meta_space = j->meta_mspace = j->dcpl = H5I_INVALID_HID;
}

nm_status nm_read_emd_inprocess(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                                nm_error *err) {
  emd_job j;
  job_init(&j);
  pthread_mutex_lock(&h5_lock);
  nm_status s = read_locked(src, opts, out, err, &j);
  job_close(&j);
  pthread_mutex_unlock(&h5_lock);
  return s;
}

/* ---- the child process ---- */

#define EMD_WIRE_MAGIC 0x454d4431u   /* "EMD1" */
#define EMD_WIRE_END 0x454d4445u     /* after the pixels: the child got to the end */

/* What the child sends first. The child is a fork of this very binary, so the
** layout is the same on both sides; the parent still treats every field as
** untrusted (a child that libhdf5 corrupted may send anything). */
typedef struct emd_wire {
  uint32_t magic;
  int32_t status;
  char msg[sizeof ((nm_error *)0)->msg];
  int32_t width, height, frames, bits, sample_float, sample_signed;
  nm_calib calib;
  uint64_t npx; /* floats that follow (0 for an error or header_only) */
} emd_wire;

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Virtual memory the process already has mapped (bytes), 0 if unknown. The
** child's cap is added on top: under ASan the shadow alone is terabytes. */
static uint64_t vm_size_now(void) {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  unsigned long long pages = strtoull(text, NULL, 10);
  long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? pages * (uint64_t)page : 0;
}

/* Runs in the child: never returns. */
static void child_main(int fd, const nm_source *src, const nm_read_opts *opts, uint64_t vm_now) {
  /* A crash must kill only this process, quietly: the host's (or a
  ** sanitizer's) crash handlers would report or dump the host. */
  static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP};
  for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
    signal(crash_sigs[i], SIG_DFL);
  signal(SIGPIPE, SIG_IGN); /* a parent that gave up: write() fails with EPIPE */
  struct rlimit core = {0, 0};
  setrlimit(RLIMIT_CORE, &core);
  /* Address-space cap: a forged size fails at malloc instead of swapping. */
  uint64_t cap = opts->max_pixels <= (UINT64_MAX - (1ull << 30)) / 8 / 2
                     ? opts->max_pixels * 8 + (1ull << 30)
                     : UINT64_MAX;
  if (cap != UINT64_MAX && vm_now < UINT64_MAX - cap && vm_now > 0) {
    struct rlimit as = {(rlim_t)(vm_now + cap), (rlim_t)(vm_now + cap)};
    setrlimit(RLIMIT_AS, &as);
  }
  nm_image im;
  memset(&im, 0, sizeof im);
  nm_calib_unknown(&im.calib, NULL);
  im.frames = 1;
  nm_error e;
  memset(&e, 0, sizeof e);
  emd_job j;
  job_init(&j);
  /* h5_lock is held by the parent's forking thread, which is this child's
  ** only thread: libhdf5 is ours alone here. */
  nm_status s = read_locked(src, opts, &im, &e, &j);
  emd_wire w;
  memset(&w, 0, sizeof w);
  w.magic = EMD_WIRE_MAGIC;
  w.status = (int32_t)s;
  memcpy(w.msg, e.msg, sizeof w.msg);
  w.width = im.width;
  w.height = im.height;
  w.frames = im.frames;
  w.bits = im.bits;
  w.sample_float = im.sample_float;
  w.sample_signed = im.sample_signed;
  w.calib = im.calib;
  w.npx = s == NM_OK && im.px ? (uint64_t)im.width * (uint64_t)im.height : 0;
  uint32_t end = EMD_WIRE_END;
  int bad = write_all(fd, &w, sizeof w) != 0 ||
            (w.npx && write_all(fd, im.px, (size_t)w.npx * sizeof(float)) != 0) ||
            write_all(fd, &end, sizeof end) != 0;
  /* No cleanup: the process ends here (libhdf5's atexit handlers and stdio
  ** buffers belong to the parent's copy). */
  _exit(bad ? 2 : 0);
}

/* Reads exactly n bytes; -1 on EOF, error, or a child that is gone while a
** stray copy of the write end (a fork() elsewhere in the host) keeps the
** pipe open. */
static int read_all(int fd, void *p, size_t n, pid_t pid, int *reaped, int *wstatus) {
  char *c = p;
  while (n > 0) {
    struct pollfd pfd = {fd, POLLIN, 0};
    /* Once the child is known to be gone, everything it wrote is already in
    ** the pipe (it cannot exit while blocked on a full pipe): look, don't wait. */
    int r = poll(&pfd, 1, *reaped ? 0 : 250);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) {
      if (*reaped) return -1; /* the child is gone and nothing more came */
      pid_t w = waitpid(pid, wstatus, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) *reaped = w == pid ? 1 : 2;
      continue;
    }
    ssize_t got = read(fd, c, n);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return -1;
    c += got;
    n -= (size_t)got;
  }
  return 0;
}

static int valid_status(int32_t s) {
  return s >= NM_OK && s <= NM_ERR_INTERRUPTED;
}

nm_status nm_read_emd_forked(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                             nm_error *err, int *child_status) {
  const char *name = src->name;
  *child_status = -1;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return nm_fail(err, NM_ERR_IO, "%s: cannot start the EMD reader process: %s", name,
                   strerror(errno));
  uint64_t vm_now = vm_size_now();
  pthread_mutex_lock(&h5_lock);
  /* Initialise libhdf5 once here (no file bytes involved), so each child
  ** inherits a ready library instead of paying for H5open. */
  H5open();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    child_main(fds[1], src, opts, vm_now);
    _exit(3); /* not reached */
  }
  int fork_errno = errno;
  pthread_mutex_unlock(&h5_lock);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return nm_fail(err, NM_ERR_IO, "%s: cannot start the EMD reader process: %s", name,
                   strerror(fork_errno));
  }
  int reaped = 0, wstatus = 0, proto_ok = 0;
  nm_status s = NM_ERR_FORMAT;
  emd_wire w;
  float *px = NULL;
  if (read_all(fds[0], &w, sizeof w, pid, &reaped, &wstatus) == 0 &&
      w.magic == EMD_WIRE_MAGIC && valid_status(w.status)) {
    w.msg[sizeof w.msg - 1] = 0;
    w.calib.source[sizeof w.calib.source - 1] = 0;
    w.calib.reason[sizeof w.calib.reason - 1] = 0;
    w.calib.databar_rule[sizeof w.calib.databar_rule - 1] = 0;
    uint64_t want = opts->header_only ? 0 : (uint64_t)(uint32_t)w.width * (uint32_t)w.height;
    if (w.status != NM_OK) {
      uint32_t end;
      proto_ok = w.npx == 0 && w.msg[0] &&
                 read_all(fds[0], &end, sizeof end, pid, &reaped, &wstatus) == 0 &&
                 end == EMD_WIRE_END;
      s = (nm_status)w.status;
    } else if (w.width > 0 && w.height > 0 && w.frames > 0 && opts->frame < w.frames &&
               (uint64_t)w.width * (uint64_t)w.height <= opts->max_pixels && w.npx == want &&
               w.bits > 0 && w.bits <= 64) {
      if (want) px = nm_malloc((size_t)want, sizeof(float), err);
      uint32_t end;
      if (want && !px) {
        s = err ? err->code : NM_ERR_NOMEM;
        proto_ok = -1; /* our own allocation failed: keep that error */
      } else if ((!want || read_all(fds[0], px, (size_t)want * sizeof(float), pid, &reaped,
                                    &wstatus) == 0) &&
                 read_all(fds[0], &end, sizeof end, pid, &reaped, &wstatus) == 0 &&
                 end == EMD_WIRE_END) {
        proto_ok = 1;
        s = NM_OK;
      }
    }
  }
  close(fds[0]); /* a child still writing gets EPIPE (it ignores SIGPIPE) */
  if (!reaped) {
    if (proto_ok != 1) kill(pid, SIGKILL); /* a confused child must not linger */
    pid_t r;
    while ((r = waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR) {}
    /* ECHILD: the host reaps children itself (SIGCHLD ignored or a reaper);
    ** then the end marker is the only evidence, and it was checked above. */
    reaped = r == pid ? 1 : 2;
  }
  if (reaped == 1) *child_status = wstatus;
  int child_ok = reaped == 2 || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  if (proto_ok == -1) return s;
  if (proto_ok != 1 || !child_ok) {
    free(px);
    return nm_fail(err, NM_ERR_FORMAT, "%s: corrupt HDF5/EMD file (the HDF5 library failed on it)",
                   name);
  }
  if (s != NM_OK) return nm_fail(err, s, "%s", w.msg);
  snprintf(out->format, sizeof out->format, "emd");
  out->width = w.width;
  out->height = w.height;
  out->frames = w.frames;
  out->channels = 1;
  out->bits = w.bits;
  out->sample_float = w.sample_float != 0;
  out->sample_signed = w.sample_signed != 0;
  out->calib = w.calib;
  out->px = px;
  return NM_OK;
}

/* ---- the helper process: a small re-executed copy that forks per file ----
**
** fork() copies the page tables of the process that calls it, so in a host
** with a big heap every EMD file paid for the host's size (docs/reliability.md:
** 146 ms per header read in a sqlite3 shell holding 1.1 GB, 17 ms in a fresh
** one). So the first EMD read starts a helper with posix_spawn (vfork-like:
** no page-table copy) of /proc/self/exe — the host program itself, which
** needs no installed binary — with NM_EMD_HELPER=<host pid> in its environment and,
** when the engine lives in a shared object (the SQLite extension), that
** object in LD_PRELOAD. The dynamic loader then runs emd_helper_entry (an
** ELF constructor) before the host's main, and it never returns: it serves
** requests on fds 3 (in) and 4 (out) until the host closes them, forking a
** worker per file from its own small address space. Each worker is exactly
** the child of the forking reader (child_main: rlimits, default crash
** signals, the wire answer, _exit), so the isolation per file is unchanged.
** The helper relays the worker's answer in length-prefixed chunks and then
** the worker's wait status, so a worker that dies mid-answer is seen as such.
**
** Request: u32 magic, i32 frame, i32 header_only, u64 max_pixels, u32 name
** length, u64 byte count, the name, the bytes. Reply: u32 hello once at
** start; per request chunks {u32 n > 0, n bytes}, then {u32 0, i32 wait
** status (-1: unknown), u32 magic}.
**
** The helper is used only when it can start: not in a set-uid/secure host
** (LD_PRELOAD would be ignored), with /proc/self/exe and /proc/self/maps
** readable, and after it says hello within 10 s. Otherwise, or when it dies,
** the reader falls back to fork() from the host as before. The helper ends
** when the host closes the pipe or dies (PR_SET_PDEATHSIG). A host that
** forks gets a helper of its own (the pipe belongs to the pid that made it).
*/
#include <spawn.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#define EMD_HELPER_ENV "NM_EMD_HELPER"
#define EMD_HELPER_HELLO 0x454d4448u  /* "EMDH" */
#define EMD_HELPER_REQ 0x454d4452u    /* "EMDR" */
#define EMD_HELPER_DONE 0x454d444fu   /* "EMDO" */
#define EMD_HELPER_IN 3
#define EMD_HELPER_OUT 4
#define EMD_HELPER_START_MS 10000

extern char **environ;

static int read_full(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t got = read(fd, c, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    c += got;
    n -= (size_t)got;
  }
  return 0;
}

/* Runs in the helper: serves until the host goes away; never returns. */
static void helper_serve(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGCHLD, SIG_DFL); /* an ignored SIGCHLD survives exec: waitpid must work here */
  signal(SIGPIPE, SIG_IGN);
  H5open();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  uint32_t hello = EMD_HELPER_HELLO;
  if (write_all(EMD_HELPER_OUT, &hello, sizeof hello) != 0) _exit(0);
  for (;;) {
    uint32_t magic, name_len;
    int32_t frame, header_only;
    uint64_t max_pixels, n;
    if (read_full(EMD_HELPER_IN, &magic, 4) != 0 || magic != EMD_HELPER_REQ ||
        read_full(EMD_HELPER_IN, &frame, 4) != 0 || read_full(EMD_HELPER_IN, &header_only, 4) ||
        read_full(EMD_HELPER_IN, &max_pixels, 8) || read_full(EMD_HELPER_IN, &name_len, 4) ||
        read_full(EMD_HELPER_IN, &n, 8) || name_len > 4096 || n > SIZE_MAX - 1)
      _exit(0);
    char *name = malloc((size_t)name_len + 1);
    uint8_t *bytes = malloc(n ? (size_t)n : 1);
    if (!name || !bytes || read_full(EMD_HELPER_IN, name, name_len) != 0 ||
        read_full(EMD_HELPER_IN, bytes, (size_t)n) != 0)
      _exit(0);
    name[name_len] = 0;
    nm_source src = {bytes, (size_t)n, NULL, name};
    nm_read_opts opts;
    nm_read_opts_default(&opts);
    opts.frame = frame;
    opts.header_only = header_only;
    opts.max_pixels = max_pixels;
    /* No worker: the host sees the helper end and forks the file itself. */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) _exit(0);
    uint64_t vm_now = vm_size_now();
    pid_t pid = fork();
    if (pid < 0) _exit(0);
    if (pid == 0) {
      /* the worker talks to this helper only, never on the host's channel */
      close(EMD_HELPER_IN);
      close(EMD_HELPER_OUT);
      close(fds[0]);
      child_main(fds[1], &src, &opts, vm_now);
      _exit(3);
    }
    close(fds[1]);
    char chunk[1 << 16];
    for (;;) {
      ssize_t got = read(fds[0], chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      uint32_t len = (uint32_t)got;
      if (write_all(EMD_HELPER_OUT, &len, 4) != 0 || write_all(EMD_HELPER_OUT, chunk, len) != 0)
        _exit(0);
    }
    close(fds[0]);
    int st = 0;
    int32_t wstatus = -1;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
    if (r == pid) wstatus = st;
    free(name);
    free(bytes);
    uint32_t trailer[3] = {0, (uint32_t)wstatus, EMD_HELPER_DONE};
    if (write_all(EMD_HELPER_OUT, trailer, sizeof trailer) != 0) _exit(0);
  }
}

static int is_pipe(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* The switch names the host's pid and both request/answer fds must be pipes:
** a stray NM_EMD_HELPER in a user's environment must never turn the user's own
** program into a helper when it loads the extension. */
__attribute__((constructor)) static void emd_helper_entry(void) {
  const char *v = getenv(EMD_HELPER_ENV);
  if (!v) return;
  char *end = NULL;
  long host = strtol(v, &end, 10);
  if (end == v || *end != '\0' || host <= 1 || host != (long)getppid()) return;
  if (!is_pipe(EMD_HELPER_IN) || !is_pipe(EMD_HELPER_OUT)) return;
  unsetenv(EMD_HELPER_ENV);
  helper_serve();
}

/* The helper, seen from the host (all under h5_lock). */
static struct {
  pid_t owner;     /* the host pid that started it */
  pid_t pid;
  int in, out;     /* our ends: requests, answers */
  int disabled;    /* 1: cannot start here, use fork() */
} helper = {0, 0, -1, -1, 0};

static int helper_mode = NM_EMD_ISOLATION_AUTO;

void nm_emd_set_isolation(int mode) {
  pthread_mutex_lock(&h5_lock);
  helper_mode = mode;
  pthread_mutex_unlock(&h5_lock);
}

static void helper_stop(void) {
  if (helper.owner == getpid()) {
    if (helper.in >= 0) close(helper.in);
    if (helper.out >= 0) close(helper.out);
    if (helper.pid > 0) {
      kill(helper.pid, SIGKILL);
      while (waitpid(helper.pid, NULL, 0) < 0 && errno == EINTR) {}
    }
  }
  helper.in = helper.out = -1;
  helper.pid = 0;
  helper.owner = 0;
}

/* Path of the file mapped at `addr` (this object: the .so or the program),
** only when that path still names the mapped file (same inode): a rebuilt or
** deleted object would not be the code the helper must run. */
static int mapped_path(const void *addr, char *path, size_t cap) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return 0;
  char line[4096 + 128];
  int found = 0;
  uintptr_t a = (uintptr_t)addr;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long lo, hi, inode = 0;
    int off = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %lu %n", &lo, &hi, &inode, &off) < 3 || !off)
      continue;
    if (a < lo || a >= hi) continue;
    char *p = line + off;
    p[strcspn(p, "\n")] = 0;
    struct stat st;
    if (p[0] == '/' && strlen(p) < cap && stat(p, &st) == 0 && st.st_ino == inode) {
      memcpy(path, p, strlen(p) + 1);
      found = 1;
    }
    break;
  }
  fclose(f);
  return found;
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* Waits up to ms for fd to be readable; 1 when it is. */
static int wait_readable(int fd, int ms) {
  struct pollfd pfd = {fd, POLLIN, 0};
  int r;
  while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR) {}
  return r > 0;
}

static int helper_start(void) {
  if (getauxval(AT_SECURE)) return 0;
  char self[4096];
  if (!mapped_path((const void *)emd_helper_entry, self, sizeof self)) return 0;
  int in_product = !same_file(self, "/proc/self/exe"); /* 1: we are a shared object */
  int to_helper[2], from_helper[2];
  if (pipe2(to_helper, O_CLOEXEC) != 0) return 0;
  if (pipe2(from_helper, O_CLOEXEC) != 0) {
    close(to_helper[0]);
    close(to_helper[1]);
    return 0;
  }
  /* environment: the host's, plus the switch, plus this object preloaded */
  size_t nenv = 0;
  while (environ && environ[nenv]) nenv++;
  char **envp = calloc(nenv + 4, sizeof *envp);
  char *preload = NULL;
  char helper_switch[sizeof EMD_HELPER_ENV + 24];
  int ok = envp != NULL;
  size_t k = 0;
  const char *old_preload = getenv("LD_PRELOAD");
  for (size_t i = 0; ok && i < nenv; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
        strncmp(environ[i], EMD_HELPER_ENV "=", sizeof EMD_HELPER_ENV) != 0 &&
        strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) != 0)
      envp[k++] = environ[i];
  if (ok) {
    snprintf(helper_switch, sizeof helper_switch, "%s=%ld", EMD_HELPER_ENV, (long)getpid());
    envp[k++] = helper_switch;
    envp[k++] = (char *)"OPENBLAS_NUM_THREADS=1"; /* no BLAS thread pool to start */
    if (in_product || (old_preload && old_preload[0])) {
      size_t len = 12 + (old_preload ? strlen(old_preload) + 1 : 0) + strlen(self) + 1;
      preload = malloc(len);
      ok = preload != NULL;
      if (ok) {
        snprintf(preload, len, "LD_PRELOAD=%s%s%s", old_preload && old_preload[0] ? old_preload : "",
                 old_preload && old_preload[0] && in_product ? ":" : "", in_product ? self : "");
        envp[k++] = preload;
      }
    }
  }
  posix_spawn_file_actions_t fa;
  pid_t pid = -1;
  if (ok && posix_spawn_file_actions_init(&fa) == 0) {
    int r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    r = r || posix_spawn_file_actions_adddup2(&fa, to_helper[0], EMD_HELPER_IN);
    r = r || posix_spawn_file_actions_adddup2(&fa, from_helper[1], EMD_HELPER_OUT);
    char *argv[] = {(char *)"nanomorph-emd-helper", NULL};
    if (r || posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  free(envp);
  free(preload);
  close(to_helper[0]);
  close(from_helper[1]);
  helper.owner = getpid();
  helper.pid = pid > 0 ? pid : 0;
  helper.in = to_helper[1];
  helper.out = from_helper[0];
  uint32_t hello = 0;
  if (pid <= 0 || !wait_readable(helper.out, EMD_HELPER_START_MS) ||
      read_full(helper.out, &hello, 4) != 0 || hello != EMD_HELPER_HELLO) {
    helper_stop();
    return 0;
  }
  return 1;
}

/* Sends one request and collects the worker's answer into *ans (at most cap
** bytes). Returns 1 with *wstatus, 0 when the helper failed (it is stopped). */
static int helper_request(const nm_source *src, const nm_read_opts *opts, uint8_t **ans,
                          size_t *nans, size_t cap, int *wstatus) {
  *ans = NULL;
  *nans = 0;
  uint32_t name_len = (uint32_t)strnlen(src->name ? src->name : "BLOB", 4096);
  uint32_t magic = EMD_HELPER_REQ;
  int32_t frame = opts->frame, header_only = opts->header_only;
  uint64_t max_pixels = opts->max_pixels, n = src->n;
  int bad = write_all(helper.in, &magic, 4) || write_all(helper.in, &frame, 4) ||
            write_all(helper.in, &header_only, 4) || write_all(helper.in, &max_pixels, 8) ||
            write_all(helper.in, &name_len, 4) || write_all(helper.in, &n, 8) ||
            write_all(helper.in, src->name ? src->name : "BLOB", name_len) ||
            write_all(helper.in, src->buf, src->n);
  uint8_t *buf = NULL;
  size_t len = 0, have = 0;
  for (;;) {
    uint32_t chunk;
    if (bad || read_full(helper.out, &chunk, 4) != 0) {
      bad = 1;
      break;
    }
    if (chunk == 0) break;
    if (chunk > cap - len) { /* more than any valid answer: drain it, then refuse */
      bad = 2;
    }
    if (bad != 2 && len + chunk > have) {
      size_t want = have ? have * 2 : 1 << 16;
      while (want < len + chunk) want *= 2;
      if (want > cap) want = cap;
      uint8_t *nb = realloc(buf, want);
      if (!nb) bad = 2;
      else buf = nb, have = want;
    }
    if (bad == 2) {
      char sink[4096];
      for (uint32_t left = chunk; left > 0;) {
        uint32_t k = left < sizeof sink ? left : (uint32_t)sizeof sink;
        if (read_full(helper.out, sink, k) != 0) {
          bad = 1;
          break;
        }
        left -= k;
      }
      if (bad == 1) break;
      continue;
    }
    if (read_full(helper.out, buf + len, chunk) != 0) {
      bad = 1;
      break;
    }
    len += chunk;
  }
  uint32_t tail[2];
  if (bad == 1 || read_full(helper.out, tail, sizeof tail) != 0 || tail[1] != EMD_HELPER_DONE) {
    free(buf);
    helper_stop();
    return 0;
  }
  *wstatus = (int32_t)tail[0];
  if (bad == 2) { /* oversized: treat like a garbled answer */
    free(buf);
    buf = NULL;
    len = 0;
  }
  *ans = buf;
  *nans = len;
  return 1;
}

/* Checks a worker's answer exactly as the forking reader does. */
static nm_status parse_answer(const uint8_t *a, size_t n, const nm_source *src,
                              const nm_read_opts *opts, int wstatus, nm_image *out,
                              nm_error *err) {
  const char *name = src->name;
  emd_wire w;
  int child_ok = wstatus == -1 || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  if (!child_ok || n < sizeof w + 4)
    return nm_fail(err, NM_ERR_FORMAT, "%s: corrupt HDF5/EMD file (the HDF5 library failed on it)",
                   name);
  memcpy(&w, a, sizeof w);
  uint32_t end;
  memcpy(&end, a + n - 4, 4);
  int ok = w.magic == EMD_WIRE_MAGIC && valid_status(w.status) && end == EMD_WIRE_END;
  if (ok) {
    w.msg[sizeof w.msg - 1] = 0;
    w.calib.source[sizeof w.calib.source - 1] = 0;
    w.calib.reason[sizeof w.calib.reason - 1] = 0;
    w.calib.databar_rule[sizeof w.calib.databar_rule - 1] = 0;
  }
  if (ok && w.status != NM_OK) {
    if (w.npx == 0 && w.msg[0] && n == sizeof w + 4) return nm_fail(err, w.status, "%s", w.msg);
    ok = 0;
  }
  uint64_t want = opts->header_only ? 0 : (uint64_t)(uint32_t)w.width * (uint32_t)w.height;
  ok = ok && w.width > 0 && w.height > 0 && w.frames > 0 && opts->frame < w.frames &&
       (uint64_t)w.width * (uint64_t)w.height <= opts->max_pixels && w.npx == want &&
       w.bits > 0 && w.bits <= 64 && n == sizeof w + want * sizeof(float) + 4;
  if (!ok)
    return nm_fail(err, NM_ERR_FORMAT, "%s: corrupt HDF5/EMD file (the HDF5 library failed on it)",
                   name);
  float *px = NULL;
  if (want) {
    px = nm_malloc((size_t)want, sizeof(float), err);
    if (!px) return err ? err->code : NM_ERR_NOMEM;
    memcpy(px, a + sizeof w, (size_t)want * sizeof(float));
  }
  snprintf(out->format, sizeof out->format, "emd");
  out->width = w.width;
  out->height = w.height;
  out->frames = w.frames;
  out->channels = 1;
  out->bits = w.bits;
  out->sample_float = w.sample_float != 0;
  out->sample_signed = w.sample_signed != 0;
  out->calib = w.calib;
  out->px = px;
  return NM_OK;
}

/* 1 when the helper read the file (status in *st), 0 to fall back to fork(). */
static int read_via_helper(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                           nm_error *err, nm_status *st, int *child_status) {
  if (opts->max_pixels > ((uint64_t)SIZE_MAX - sizeof(emd_wire) - 8) / sizeof(float)) return 0;
  size_t cap = sizeof(emd_wire) + (size_t)opts->max_pixels * sizeof(float) + 4;
  pthread_mutex_lock(&h5_lock);
  if (helper_mode == NM_EMD_ISOLATION_FORK || helper.disabled) {
    pthread_mutex_unlock(&h5_lock);
    return 0;
  }
  if (helper.owner && helper.owner != getpid()) { /* we are a fork of the host: not our pipe */
    if (helper.in >= 0) close(helper.in);
    if (helper.out >= 0) close(helper.out);
    helper.in = helper.out = -1;
    helper.pid = 0;
    helper.owner = 0;
  }
  if (!helper.owner && !helper_start()) {
    helper.disabled = 1;
    pthread_mutex_unlock(&h5_lock);
    return 0;
  }
  uint8_t *ans;
  size_t nans;
  int wstatus;
  /* SIGPIPE from a dead helper must not kill the host: block it for this call. */
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  int ok = helper_request(src, opts, &ans, &nans, cap, &wstatus);
  /* a SIGPIPE raised meanwhile is ours: take it off before unblocking */
  struct timespec zero = {0, 0};
  while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {}
  pthread_sigmask(SIG_SETMASK, &old_set, NULL);
  pthread_mutex_unlock(&h5_lock);
  if (!ok) return 0; /* the helper died (not the worker): fork this once */
  *child_status = wstatus;
  *st = parse_answer(ans, nans, src, opts, wstatus, out, err);
  free(ans);
  return 1;
}

int nm_emd_helper_pid(void) {
  pthread_mutex_lock(&h5_lock);
  int pid = helper.owner == getpid() ? (int)helper.pid : 0;
  pthread_mutex_unlock(&h5_lock);
  return pid;
}

nm_status nm_read_emd_isolated(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                               nm_error *err, int *child_status) {
  nm_status st;
  *child_status = -1;
  if (read_via_helper(src, opts, out, err, &st, child_status)) return st;
  return nm_read_emd_forked(src, opts, out, err, child_status);
}

nm_status nm_read_emd(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                      nm_error *err) {
  int child_status;
  return nm_read_emd_isolated(src, opts, out, err, &child_status);
}

int nm_sniff_emd(const uint8_t *buf, size_t n) {
  /* The HDF5 signature sits at 0 or after a user block of 512 * 2^k bytes. */
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (size_t at = 0; at + 8 <= n; at = at ? at * 2 : 512)
    if (memcmp(buf + at, sig, 8) == 0) return 1;
  return 0;
}
