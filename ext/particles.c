/*
** particles.c — micrograph -> labels -> features -> exclusions (see
** particles.h for the steps and the option routing).
*/
#include "particles.h"
#include "outliers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "label.h"

struct nm_particles_opts {
  nm_micrograph_opts mg;
  nm_segment_opts *seg;
  char *labels_path;
  const void *labels_buf;
  size_t labels_n;
  int allow_labels;
};

nm_particles_opts *nm_particles_opts_new(void) {
  nm_particles_opts *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  nm_micrograph_opts_default(&o->mg);
  o->seg = nm_segment_opts_new();
  if (!o->seg) {
    free(o);
    return NULL;
  }
  o->allow_labels = 1;
  return o;
}

void nm_particles_opts_free(nm_particles_opts *o) {
  if (!o) return;
  nm_segment_opts_free(o->seg);
  free(o->labels_path);
  free(o);
}

void nm_particles_opts_allow_labels(nm_particles_opts *o, int allow) { o->allow_labels = allow; }

void nm_particles_opts_labels_blob(nm_particles_opts *o, const void *buf, size_t n) {
  o->labels_buf = buf;
  o->labels_n = n;
}

nm_status nm_particles_opts_set(void *target, const char *key, double num, const char *text,
                                nm_error *err) {
  nm_particles_opts *o = target;
  if (!key) return nm_fail(err, NM_ERR_ARG, "option name is missing");
  if (nm_micrograph_opts_owns(key)) return nm_micrograph_opts_set(&o->mg, key, num, text, err);
  if (o->allow_labels && !strcmp(key, "labels")) {
    if (!text || !text[0] || text[0] == '[' || text[0] == '{')
      return nm_fail(err, NM_ERR_ARG,
                     "option 'labels' must be the path of a label image (pass a BLOB as the "
                     "third argument)");
    char *copy = strdup(text);
    if (!copy) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
    free(o->labels_path);
    o->labels_path = copy;
    return NM_OK;
  }
  return nm_segment_opts_set(o->seg, key, num, text, err);
}

void nm_particle_set_free(nm_particle_set *s) {
  if (!s) return;
  nm_micrograph_free(&s->mg);
  free(s->labels);
  free(s->features);
  free(s->excluded);
  free(s->label_value);
  memset(s, 0, sizeof *s);
}

int nm_particle_set_label(const nm_particle_set *s, int k) {
  return s->label_value ? s->label_value[k] : k;
}

double nm_particle_set_nm_per_px(const nm_particle_set *s) {
  const nm_calib *c = &s->mg.img.calib;
  if (!nm_calib_known(c) || c->mode != NM_MODE_IMAGE) return NAN;
  return c->nm_per_px_x;
}

/* The user's label image, checked against the processed micrograph. */
static nm_status load_labels(const nm_particles_opts *o, nm_particle_set *s, nm_error *err) {
  const char *name = o->labels_buf ? "BLOB" : o->labels_path;
  nm_read_opts ro;
  nm_read_opts_default(&ro);
  ro.max_pixels = o->mg.max_pixels ? o->mg.max_pixels : NM_DEFAULT_MAX_PIXELS;
  nm_image li = {0};
  nm_status st = o->labels_buf
                     ? nm_image_read_memory(o->labels_buf, o->labels_n, name, &ro, &li, err)
                     : nm_image_read_file(o->labels_path, &ro, &li, err);
  if (st != NM_OK) {
    /* say that it is the label image that failed, not the micrograph */
    if (err) {
      size_t len = strnlen(err->msg, sizeof err->msg - 8);
      memmove(err->msg + 7, err->msg, len);
      memcpy(err->msg, "labels ", 7);
      err->msg[len + 7] = 0;
    }
    return st;
  }
  int w = s->width, h = s->height;
  if (li.channels != 1) {
    st = nm_fail(err, NM_ERR_FORMAT,
                 "labels %s: a label image must be single-channel gray, not %d channels", name,
                 li.channels);
    goto out;
  }
  if (li.width == w && li.height == h) {
    /* same geometry */
  } else if (!s->mg.resampled && s->mg.databar_rows > 0 && li.width == w &&
             li.height == s->mg.file_height) {
    /* drawn on the whole file: the data bar rows are cropped off the labels too */
  } else {
    st = nm_fail(err, NM_ERR_ARG,
                 "labels %s: %dx%d does not match the micrograph's %dx%d%s", name, li.width,
                 li.height, w, h,
                 s->mg.resampled ? " (the micrograph was resampled to square pixels)" : "");
    goto out;
  }
  size_t n = (size_t)w * (size_t)h;
  double maxv = 0, one = 0;
  int several = 0;
  for (size_t i = 0; i < n; i++) {
    double v = li.px[i];
    if (v == 0) continue;
    if (!(v > 0) || v != floor(v) || v > NM_PARTICLES_MAX_LABEL) {
      st = nm_fail(err, NM_ERR_FORMAT,
                   "labels %s: pixel (%zu, %zu) holds %g; labels must be whole numbers 0..%d",
                   name, i % (size_t)w, i / (size_t)w, v, NM_PARTICLES_MAX_LABEL);
      goto out;
    }
    if (one == 0) one = v;
    else if (v != one) several = 1;
    if (v > maxv) maxv = v;
  }
  s->labels = nm_malloc(n, sizeof *s->labels, err);
  if (!s->labels) {
    st = err ? err->code : NM_ERR_NOMEM;
    goto out;
  }
  if (!several && maxv > 0) {
    /* One value: a binary mask, whose 8-connected components are particles. */
    uint8_t *mask = nm_malloc(n, 1, err);
    if (!mask) {
      st = err ? err->code : NM_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < n; i++) mask[i] = li.px[i] != 0;
    int count = 0;
    st = nm_label(mask, w, h, 1, s->labels, &count, err);
    free(mask);
    if (st != NM_OK) goto out;
    s->n_labels = count;
  } else if (maxv > 0) {
    /* Compact the values that occur to 1..k, so the cost follows the
    ** particles, not the largest value; label_value keeps the user's number.
    ** Rank of v = set bits below v in a bitmap of the values (2 MB at most). */
    size_t nwords = ((size_t)maxv >> 6) + 1;
    uint64_t *bits = nm_calloc(nwords, sizeof *bits, err);
    uint32_t *below = bits ? nm_malloc(nwords, sizeof *below, err) : NULL;
    if (!below) {
      free(bits);
      st = err ? err->code : NM_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < n; i++) {
      uint32_t v = (uint32_t)li.px[i];
      bits[v >> 6] |= (uint64_t)1 << (v & 63);
    }
    bits[0] &= ~(uint64_t)1; /* 0 is background, not a label */
    uint32_t total = 0;
    for (size_t wd = 0; wd < nwords; wd++) {
      below[wd] = total;
      total += (uint32_t)__builtin_popcountll(bits[wd]);
    }
    s->label_value = nm_malloc((size_t)total + 1, sizeof *s->label_value, err);
    if (!s->label_value) {
      free(bits);
      free(below);
      st = err ? err->code : NM_ERR_NOMEM;
      goto out;
    }
    s->label_value[0] = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t v = (uint32_t)li.px[i];
      int32_t k = 0;
      if (v) {
        uint64_t word = bits[v >> 6] & (((uint64_t)2 << (v & 63)) - 1);
        k = (int32_t)(below[v >> 6] + (uint32_t)__builtin_popcountll(word));
        s->label_value[k] = (int32_t)v;
      }
      s->labels[i] = k;
    }
    free(bits);
    free(below);
    s->n_labels = (int)total;
  } else {
    memset(s->labels, 0, n * sizeof *s->labels);
    s->n_labels = 0;
  }
  s->excluded = nm_calloc((size_t)s->n_labels + 1, 1, err);
  if (!s->excluded) {
    st = err ? err->code : NM_ERR_NOMEM;
    goto out;
  }
  /* Edge exclusion still applies: a particle cut by the frame is not whole. */
  for (int x = 0; x < w; x++) {
    s->excluded[s->labels[x]] = NM_EXCL_EDGE;
    s->excluded[s->labels[(size_t)(h - 1) * w + x]] = NM_EXCL_EDGE;
  }
  for (int y = 0; y < h; y++) {
    s->excluded[s->labels[(size_t)y * w]] = NM_EXCL_EDGE;
    s->excluded[s->labels[(size_t)y * w + w - 1]] = NM_EXCL_EDGE;
  }
  s->excluded[0] = NM_EXCL_NONE;
  s->user_labels = 1;
  s->scale_px = NAN;
  s->dark_particles = -1;
out:
  nm_image_free(&li);
  return st;
}

nm_status nm_particles_run(const char *path, const void *buf, size_t n,
                           const nm_particles_opts *o, int measure,
                           const nm_progress *progress, nm_particle_set *out,
                           nm_error *err) {
  memset(out, 0, sizeof *out);
  if (!o) return nm_fail(err, NM_ERR_ARG, "particles: no options");
  if (o->labels_buf && o->labels_path)
    return nm_fail(err, NM_ERR_ARG, "labels given twice (option 'labels' and a labels argument)");
  nm_status st = nm_micrograph_open(path, buf, n, &o->mg, &out->mg, err);
  if (st != NM_OK) return st;
  out->width = out->mg.img.width;
  out->height = out->mg.img.height;
  if (o->labels_path || o->labels_buf) {
    st = load_labels(o, out, err);
  } else {
    nm_segmentation seg;
    memset(&seg, 0, sizeof seg);
    st = nm_segment(out->mg.img.px, out->width, out->height, o->seg, progress, &seg, err);
    if (st == NM_OK) {
      out->labels = seg.labels;
      out->excluded = seg.excluded;
      out->n_labels = seg.count;
      out->scale_px = seg.scale_px;
      out->dark_particles = seg.dark_particles;
      seg.labels = NULL;
      seg.excluded = NULL;
      if (!out->excluded) {
        out->excluded = nm_calloc((size_t)seg.count + 1, 1, err);
        if (!out->excluded) st = err ? err->code : NM_ERR_NOMEM;
      }
    }
    nm_segmentation_free(&seg);
  }
  if (st == NM_OK && measure) {
    out->features = nm_calloc(out->n_labels > 0 ? (size_t)out->n_labels : 1,
                              sizeof *out->features, err);
    if (!out->features) st = err ? err->code : NM_ERR_NOMEM;
    if (st == NM_OK)
      st = nm_features_compute(out->labels, out->mg.img.px, out->width, out->height,
                               out->n_labels, out->features, progress, err);
    if (st == NM_OK && !out->user_labels) {
      const nm_scalebar *sb = &out->mg.scalebar;
      /* only a bar the reader calibrated from: "found" also covers candidates
      ** it then refused (a particle's straight edge, a box margin), and the
      ** segmentation has already excluded what lies in its own bar box */
      if (out->mg.scalebar_tried && sb->found && isfinite(sb->nm_per_px) && sb->box_w > 0 &&
          sb->box_h > 0) {
        for (int k = 1; k <= out->n_labels; k++) {
          const nm_features *f = &out->features[k - 1];
          if (out->excluded[k] || !(f->area > 0)) continue;
          if (f->bbox_x < sb->box_x + sb->box_w && f->bbox_x + f->bbox_w > sb->box_x &&
              f->bbox_y < sb->box_y + sb->box_h && f->bbox_y + f->bbox_h > sb->box_y)
            out->excluded[k] = NM_EXCL_SCALE_BAR;
        }
      }
      nm_outliers_flag(out->features, out->n_labels, out->excluded);
    }
  }
  if (st != NM_OK) nm_particle_set_free(out);
  return st;
}
