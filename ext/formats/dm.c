/*
** formats/dm.c — Gatan DigitalMicrograph DM3 and DM4 files.
**
** No library for these exists in Debian, so this is a tag-tree parser. The
** file is one tree of named groups (kind 20) and data tags (kind 21), stored
** in line: a group is followed by its tags, a data tag by its type
** descriptor and its bytes. Structure fields (counts, lengths, descriptors)
** are big-endian; data values use the byte order in the header. DM4 widens
** every count, length and descriptor word to 8 bytes and adds an 8-byte size
** after each label.
**
** Because the tree is stored in line, there are no offsets that could point
** back into it: every tag consumes bytes, so the walk always advances and
** ends. Depth is limited (DM_MAX_DEPTH) so a crafted file cannot exhaust the
** stack, and every count is checked against the bytes that remain before it
** is used, so an absurd count fails at once instead of looping or allocating.
**
** What is read: ImageList/[i]/ImageData/{Data, DataType, Dimensions/[k],
** Calibrations/Dimension/[k]/{Scale, Units}}. Entry 0 is the RGBA thumbnail
** whenever the list has two or more entries, so the image is the first later
** entry with at least two dimensions. Dimension 0 is x (columns), 1 is y;
** any further dimensions are frames.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "reader.h"

#define DM_MAX_DEPTH 64
#define DM_MAX_INFO 4096          /* type-descriptor words of one tag */
#define DM_MAX_NODES (1u << 20)   /* tags in one file (real files have a few thousand) */

enum { DM_GROUP = 20, DM_DATA = 21 };
enum { DM_STRUCT = 15, DM_STRING = 18, DM_ARRAY = 20 };

typedef struct dm_node {
  int parent;
  int first_child, last_child, next;
  int nchildren;
  int kind;                 /* DM_GROUP or DM_DATA */
  const uint8_t *label;
  size_t label_len;
  uint64_t type;            /* descriptor word 0: simple type, DM_STRUCT, DM_STRING, DM_ARRAY */
  uint64_t elem_type;       /* for arrays: element type */
  uint64_t count;           /* for arrays: elements */
  uint64_t off, nbytes;     /* data bytes in the file */
} dm_node;

typedef struct dm_file {
  const nm_source *src;
  int wide;                 /* DM4: 8-byte counts */
  int little;               /* data byte order */
  dm_node *nodes;
  size_t nnodes, cap;
  uint64_t *info;           /* DM_MAX_INFO descriptor words, reused by every tag */
  nm_error *err;
} dm_file;

/* Size in bytes of a DM simple type, 0 when the code is not one. */
static int simple_size(uint64_t t) {
  switch (t) {
    case 2: case 4: return 2;          /* int16, uint16 */
    case 3: case 5: case 6: return 4;  /* int32, uint32, float */
    case 7: case 11: case 12: return 8; /* double, int64, uint64 */
    case 8: case 9: case 10: return 1; /* bool, int8 char, uint8 */
    default: return 0;
  }
}

static nm_status dm_bad(dm_file *f, const char *what, uint64_t at) {
  return nm_fail(f->err, NM_ERR_FORMAT, "%s: bad DM%d file: %s (at byte %llu)", f->src->name,
                 f->wide ? 4 : 3, what, (unsigned long long)at);
}

static uint64_t word(dm_file *f, nm_bytes *b) {
  return f->wide ? nm_u64be(b) : nm_u32be(b);
}

static int add_node(dm_file *f, int parent) {
  if (f->nnodes >= DM_MAX_NODES) return -1;
  if (f->nnodes == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 256;
    dm_node *grown = realloc(f->nodes, cap * sizeof *grown);
    if (!grown) return -1;
    f->nodes = grown;
    f->cap = cap;
  }
  int id = (int)f->nnodes++;
  dm_node *node = &f->nodes[id];
  memset(node, 0, sizeof *node);
  node->parent = parent;
  node->first_child = node->last_child = node->next = -1;
  if (parent >= 0) {
    dm_node *p = &f->nodes[parent];
    if (p->last_child >= 0) f->nodes[p->last_child].next = id;
    else p->first_child = id;
    p->last_child = id;
    p->nchildren++;
  }
  return id;
}

/* Reads a data tag's descriptor and records where its bytes are. */
static nm_status parse_data(dm_file *f, nm_bytes *b, int id) {
  uint64_t at = b->pos;
  const uint8_t *magic = nm_bytes_take(b, 4);
  if (!magic) return dm_bad(f, "data tag runs past the end of the file", at);
  if (memcmp(magic, "%%%%", 4) != 0) return dm_bad(f, "data tag without its %%%% marker", at);
  uint64_t ninfo = word(f, b);
  if (b->bad) return dm_bad(f, "data tag runs past the end of the file", at);
  if (ninfo == 0 || ninfo > DM_MAX_INFO)
    return dm_bad(f, "absurd type-descriptor length", at);
  uint64_t *info = f->info;
  for (uint64_t i = 0; i < ninfo; i++) info[i] = word(f, b);
  if (b->bad) return dm_bad(f, "type descriptor runs past the end of the file", at);

  dm_node *node = &f->nodes[id];
  node->type = info[0];
  uint64_t nbytes = 0;
  int size = simple_size(info[0]);
  if (size) {
    nbytes = (uint64_t)size;
    node->count = 1;
  } else if (info[0] == DM_STRING) {
    if (ninfo < 2) return dm_bad(f, "string tag without a length", at);
    /* DM strings are UTF-16 code units. */
    if (!nm_mul_ok(info[1], 2, &nbytes)) return dm_bad(f, "absurd string length", at);
    node->elem_type = 4;
    node->count = info[1];
  } else if (info[0] == DM_STRUCT || info[0] == DM_ARRAY) {
    uint64_t k = 1, elem_size = 0, count = 1;
    if (info[0] == DM_ARRAY) {
      if (ninfo < 3) return dm_bad(f, "array tag with a short descriptor", at);
      node->elem_type = info[1];
      k = 2;
    }
    if (info[0] == DM_STRUCT || info[1] == DM_STRUCT) {
      /* struct: name length, field count, then (name length, type) per field */
      if (ninfo < k + 2) return dm_bad(f, "struct tag with a short descriptor", at);
      uint64_t nfields = info[k + 1];
      if (nfields > (ninfo - k - 2) / 2) return dm_bad(f, "struct descriptor is too short", at);
      for (uint64_t i = 0; i < nfields; i++) {
        int fs = simple_size(info[k + 3 + 2 * i]);
        if (!fs) return dm_bad(f, "struct field of an unknown type", at);
        elem_size += (uint64_t)fs;
      }
      k += 2 + 2 * nfields;
    } else {
      elem_size = (uint64_t)simple_size(info[1]);
      if (!elem_size) return dm_bad(f, "array of an unknown element type", at);
    }
    if (info[0] == DM_ARRAY) {
      if (k >= ninfo) return dm_bad(f, "array tag without a count", at);
      count = info[k];
    }
    node->count = count;
    if (!nm_mul_ok(count, elem_size, &nbytes)) return dm_bad(f, "absurd array size", at);
  } else {
    return dm_bad(f, "unknown data type in a tag", at);
  }
  node->off = b->pos;
  node->nbytes = nbytes;
  if (!nm_bytes_take(b, nbytes)) return dm_bad(f, "tag data runs past the end of the file", at);
  return NM_OK;
}

static nm_status parse_group(dm_file *f, nm_bytes *b, int id, int depth);

static nm_status parse_tag(dm_file *f, nm_bytes *b, int parent, int depth) {
  uint64_t at = b->pos;
  int kind = nm_u8(b);
  uint16_t label_len = nm_u16be(b);
  const uint8_t *label = nm_bytes_take(b, label_len);
  if (f->wide) (void)nm_u64be(b); /* tag size: the walk does not need it */
  if (b->bad) return dm_bad(f, "tag header runs past the end of the file", at);
  if (kind != DM_GROUP && kind != DM_DATA) return dm_bad(f, "unknown tag kind", at);
  int id = add_node(f, parent);
  if (id < 0) return nm_fail(f->err, NM_ERR_TOOBIG, "%s: too many tags in the DM file", f->src->name);
  f->nodes[id].kind = kind;
  f->nodes[id].label = label;
  f->nodes[id].label_len = label_len;
  return kind == DM_GROUP ? parse_group(f, b, id, depth + 1) : parse_data(f, b, id);
}

static nm_status parse_group(dm_file *f, nm_bytes *b, int id, int depth) {
  uint64_t at = b->pos;
  if (depth > DM_MAX_DEPTH) return dm_bad(f, "tag groups nested too deeply", at);
  (void)nm_u8(b); /* sorted */
  (void)nm_u8(b); /* open */
  uint64_t ntags = word(f, b);
  if (b->bad) return dm_bad(f, "tag group runs past the end of the file", at);
  /* Each tag takes at least 3 bytes, so a count larger than that is a lie. */
  if (ntags > (b->n - b->pos) / 3) return dm_bad(f, "tag count larger than the file", at);
  for (uint64_t i = 0; i < ntags; i++) {
    nm_status s = parse_tag(f, b, id, depth);
    if (s != NM_OK) return s;
  }
  return NM_OK;
}

/* ---- lookups in the parsed tree ---- */

static int child(const dm_file *f, int id, const char *label) {
  if (id < 0) return -1;
  size_t len = strlen(label);
  for (int c = f->nodes[id].first_child; c >= 0; c = f->nodes[c].next)
    if (f->nodes[c].label_len == len && memcmp(f->nodes[c].label, label, len) == 0) return c;
  return -1;
}

static int child_at(const dm_file *f, int id, int index) {
  if (id < 0) return -1;
  int c = f->nodes[id].first_child;
  for (int i = 0; c >= 0 && i < index; i++) c = f->nodes[c].next;
  return c;
}

static int path(const dm_file *f, int id, const char *a, const char *b2, const char *c) {
  id = child(f, id, a);
  if (b2) id = child(f, id, b2);
  if (c) id = child(f, id, c);
  return id;
}

/* Value of a simple-typed data tag; 0 with *ok = 0 when absent or not a number. */
static double number(const dm_file *f, int id, int *ok) {
  *ok = 0;
  if (id < 0 || f->nodes[id].kind != DM_DATA) return 0;
  const dm_node *node = &f->nodes[id];
  int size = simple_size(node->type);
  if (!size || node->nbytes < (uint64_t)size) return 0;
  uint64_t u = nm_load_uint(f->src->buf + node->off, size, f->little);
  *ok = 1;
  switch (node->type) {
    case 2: return (int16_t)u;
    case 3: return (int32_t)u;
    case 4: return (uint16_t)u;
    case 5: return (uint32_t)u;
    case 6: return nm_f32_bits((uint32_t)u);
    case 7: return nm_f64_bits(u);
    case 9: return (int8_t)u;
    case 11: return (double)(int64_t)u;
    default: return (double)u;
  }
}

static void put_utf8(char *out, size_t cap, size_t *len, uint32_t cp) {
  char tmp[4];
  size_t k;
  if (cp < 0x80) { tmp[0] = (char)cp; k = 1; }
  else if (cp < 0x800) { tmp[0] = (char)(0xc0 | (cp >> 6)); tmp[1] = (char)(0x80 | (cp & 0x3f)); k = 2; }
  else { tmp[0] = (char)(0xe0 | (cp >> 12)); tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); tmp[2] = (char)(0x80 | (cp & 0x3f)); k = 3; }
  if (k >= cap || *len >= cap - k) return;
  for (size_t i = 0; i < k; i++) out[(*len)++] = tmp[i];
  out[*len] = 0;
}

/* A string tag (UTF-16 array or byte array) as UTF-8, cut to fit. */
static void text(const dm_file *f, int id, char *out, size_t cap) {
  out[0] = 0;
  if (id < 0 || f->nodes[id].kind != DM_DATA) return;
  const dm_node *node = &f->nodes[id];
  if (node->type != DM_ARRAY && node->type != DM_STRING) return;
  int size = simple_size(node->elem_type);
  if (size != 1 && size != 2) return;
  size_t len = 0;
  for (uint64_t i = 0; i < node->count && i < 64; i++) {
    uint32_t cp = (uint32_t)nm_load_uint(f->src->buf + node->off + i * (uint64_t)size, size, f->little);
    if (cp == 0) break;
    if (cp >= 0xd800 && cp < 0xe000) cp = '?'; /* no surrogates in a unit name */
    put_utf8(out, cap, &len, cp);
  }
}

/* ---- the image ---- */

typedef struct dm_image {
  int entry;
  uint64_t dims[8];
  int ndims;
  int data;          /* node of ImageData/Data */
  int64_t dtype;     /* ImageData/DataType */
} dm_image;

static int read_dims(const dm_file *f, int image_data, dm_image *im) {
  int dims = child(f, image_data, "Dimensions");
  im->ndims = 0;
  if (dims < 0) return 0;
  for (int c = f->nodes[dims].first_child; c >= 0 && im->ndims < 8; c = f->nodes[c].next) {
    int ok;
    double v = number(f, c, &ok);
    if (!ok || !(v >= 0) || v > 1e15) return -1;
    im->dims[im->ndims++] = (uint64_t)v;
  }
  return im->ndims;
}

static nm_status find_image(dm_file *f, dm_image *im) {
  int list = child(f, 0, "ImageList");
  int n = list >= 0 ? f->nodes[list].nchildren : 0;
  if (n == 0) return nm_fail(f->err, NM_ERR_FORMAT, "%s: DM file has no ImageList entry", f->src->name);
  for (int i = n >= 2 ? 1 : 0; i < n; i++) {
    int image_data = child(f, child_at(f, list, i), "ImageData");
    if (image_data < 0) continue;
    memset(im, 0, sizeof *im);
    if (read_dims(f, image_data, im) < 2) continue;
    im->entry = i;
    im->data = child(f, image_data, "Data");
    int ok;
    double t = number(f, child(f, image_data, "DataType"), &ok);
    if (!ok || im->data < 0)
      return nm_fail(f->err, NM_ERR_FORMAT, "%s: DM image entry %d has no Data or DataType tag",
                     f->src->name, i);
    /* a float-typed tag can hold NaN or 1e300: not a type code */
    if (!(t >= 0 && t <= 1e6))
      return nm_fail(f->err, NM_ERR_FORMAT, "%s: DM image entry %d has an invalid DataType (%g)",
                     f->src->name, i, t);
    im->dtype = (int64_t)t;
    return NM_OK;
  }
  return nm_fail(f->err, NM_ERR_FORMAT,
                 "%s: DM file has no image with two or more dimensions (%d ImageList entries)",
                 f->src->name, n);
}

/* Pixel layout of a DataType code: bytes per pixel and how to decode it. */
typedef struct dm_layout {
  int bytes;
  int rgba;              /* 4 bytes B,G,R,A -> luma */
  nm_sample_kind kind;
} dm_layout;

static int layout_of(int64_t dtype, dm_layout *l) {
  memset(l, 0, sizeof *l);
  switch (dtype) {
    case 1: l->kind = NM_S_I16; break;
    case 2: l->kind = NM_S_F32; break;
    case 6: case 14: l->kind = NM_S_U8; break;  /* 14: binary mask, one byte per pixel */
    case 7: l->kind = NM_S_I32; break;
    case 9: l->kind = NM_S_I8; break;
    case 10: l->kind = NM_S_U16; break;
    case 11: l->kind = NM_S_U32; break;
    case 12: l->kind = NM_S_F64; break;
    case 8: case 23: l->kind = NM_S_U8; l->rgba = 1; l->bytes = 4; return 0;
    default: return -1;
  }
  l->bytes = nm_sample_size(l->kind);
  return 0;
}

static void calibrate(const dm_file *f, int image_data, nm_calib *c) {
  int dims = path(f, image_data, "Calibrations", "Dimension", NULL);
  double scale[2];
  char unit[2][64];
  for (int k = 0; k < 2; k++) {
    int d = child_at(f, dims, k), ok;
    scale[k] = number(f, child(f, d, "Scale"), &ok);
    if (!ok) {
      nm_calib_unknown(c, "DM file has no calibration for this image");
      return;
    }
    text(f, child(f, d, "Units"), unit[k], sizeof unit[k]);
  }
  if (!unit[0][0] || !unit[1][0]) {
    nm_calib_unknown(c, scale[0] == 1 && scale[1] == 1
                            ? "DM image is uncalibrated (scale 1, no unit)"
                            : "DM calibration has a scale but no unit");
    return;
  }
  double kx = nm_unit_to_nm(unit[0]), ky = nm_unit_to_nm(unit[1]);
  if (kx < 0 || ky < 0) {
    /* Reciprocal space: nm_calib_set records the diffraction mode and the reason. */
    nm_calib_set(c, scale[0], scale[1], kx < 0 ? unit[0] : unit[1], "dm");
    return;
  }
  if (kx == 0 || ky == 0) {
    nm_calib_unknown(c, NULL);
    snprintf(c->reason, sizeof c->reason, "DM calibration unit '%s' is not a length unit",
             kx == 0 ? unit[0] : unit[1]);
    return;
  }
  /* Each axis has its own unit: convert each to nm before combining. */
  nm_calib_set(c, scale[0] * kx, scale[1] * ky, "nm", "dm");
}

/* Decodes the chosen image once the tree is parsed; f owns nothing here. */
static nm_status decode_image(dm_file *f, const nm_read_opts *opts, nm_image *out) {
  const nm_source *src = f->src;
  nm_error *err = f->err;
  dm_image im;
  nm_status s = find_image(f, &im);
  if (s != NM_OK) return s;
  dm_layout lay;
  uint64_t w = im.dims[0], h = im.dims[1], frames = 1, plane, total;
  for (int k = 2; k < im.ndims; k++)
    if (!nm_mul_ok(frames, im.dims[k], &frames)) frames = UINT64_MAX;
  if (layout_of(im.dtype, &lay) != 0)
    return nm_fail(err, NM_ERR_UNSUPPORTED,
                   "%s: DM data type %lld is not read (complex or packed data)", src->name,
                   (long long)im.dtype);
  if (w == 0 || h == 0 || frames == 0 || w > INT32_MAX || h > INT32_MAX || frames > INT32_MAX)
    return nm_fail(err, NM_ERR_FORMAT, "%s: DM image has absurd dimensions", src->name);
  out->width = (int)w;
  out->height = (int)h;
  out->frames = (int)frames;
  out->channels = lay.rgba ? 4 : 1;
  out->bits = lay.rgba ? 8 : lay.bytes * 8;
  out->sample_float = nm_sample_is_float(lay.kind);
  out->sample_signed = nm_sample_is_signed(lay.kind);
  if (w * h > opts->max_pixels)
    return nm_fail(err, NM_ERR_TOOBIG, "%s: %llux%llu pixels is over the cap of %llu pixels",
                   src->name, (unsigned long long)w, (unsigned long long)h,
                   (unsigned long long)opts->max_pixels);
  if ((uint64_t)opts->frame >= frames)
    return nm_fail(err, NM_ERR_ARG, "%s: frame %d requested but the file has %llu frame(s)",
                   src->name, opts->frame, (unsigned long long)frames);
  const dm_node *data = &f->nodes[im.data];
  if (!nm_mul_ok(w * h, (uint64_t)lay.bytes, &plane) || !nm_mul_ok(plane, frames, &total) ||
      data->nbytes < total)
    return nm_fail(err, NM_ERR_FORMAT,
                   "%s: DM image data (%llu bytes) is shorter than %llux%llux%llu pixels of %d bytes",
                   src->name, (unsigned long long)data->nbytes, (unsigned long long)w,
                   (unsigned long long)h, (unsigned long long)frames, lay.bytes);
  calibrate(f, child(f, child_at(f, child(f, 0, "ImageList"), im.entry), "ImageData"),
            &out->calib);
  if (opts->header_only) return NM_OK;
  out->px = nm_malloc((size_t)(w * h), sizeof(float), err);
  if (!out->px) return err ? err->code : NM_ERR_NOMEM;
  const uint8_t *p = src->buf + data->off + plane * (uint64_t)opts->frame;
  for (uint64_t i = 0; i < w * h; i++, p += lay.bytes) {
    if (lay.rgba) /* bytes B, G, R, A */
      out->px[i] = (float)(0.299 * p[2] + 0.587 * p[1] + 0.114 * p[0]);
    else
      out->px[i] = nm_sample_get(p, lay.kind, f->little);
  }
  return NM_OK;
}

nm_status nm_read_dm(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                     nm_error *err) {
  dm_file f = {0};
  f.src = src;
  f.err = err;
  nm_bytes b = nm_bytes_at(src->buf, src->n, 0);
  uint32_t version = nm_u32be(&b);
  if (b.bad || (version != 3 && version != 4))
    return nm_fail(err, NM_ERR_FORMAT, "%s: not a DM3/DM4 file", src->name);
  f.wide = version == 4;
  snprintf(out->format, sizeof out->format, "dm%u", (unsigned)version);
  (void)word(&f, &b); /* file length: not needed, the buffer is the file */
  f.little = nm_u32be(&b) == 1;
  if (b.bad) return nm_fail(err, NM_ERR_FORMAT, "%s: truncated DM header", src->name);
  nm_status s;
  f.info = malloc(DM_MAX_INFO * sizeof *f.info);
  if (!f.info || add_node(&f, -1) != 0) {
    s = nm_fail(err, NM_ERR_NOMEM, "%s: out of memory", src->name);
  } else {
    f.nodes[0].kind = DM_GROUP;
    s = parse_group(&f, &b, 0, 0);
    if (s == NM_OK) s = decode_image(&f, opts, out);
  }
  free(f.info);
  free(f.nodes);
  return s;
}

int nm_sniff_dm(const uint8_t *buf, size_t n) {
  if (n < 24) return 0;
  nm_bytes b = nm_bytes_at(buf, n, 0);
  uint32_t version = nm_u32be(&b);
  if (version != 3 && version != 4) return 0;
  (void)(version == 4 ? nm_u64be(&b) : nm_u32be(&b));
  uint32_t order = nm_u32be(&b);
  return !b.bad && order <= 1;
}
