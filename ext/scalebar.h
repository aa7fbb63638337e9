/*
** scalebar.h — burned-in scale bars: find the bar and its annotation box
** (geometry only, used by segmentation to exclude them) and read the label
** with Tesseract to calibrate images whose file carries no pixel size.
*/
#ifndef NM_SCALEBAR_H
#define NM_SCALEBAR_H

#include "nm_common.h"

typedef struct nm_scalebar {
  int found;                 /* 1 when a bar was found */
  int box_x, box_y, box_w, box_h;   /* region to exclude: bar + label (+ solid box) */
  int bar_x, bar_y, bar_w, bar_h;   /* the bar itself */
  double bar_length_px;      /* measured bar length, px */
  double value;              /* label value in `unit`, NAN when unread */
  char unit[8];              /* "nm", "um", ... as read */
  double nm_per_px;          /* NAN unless both bar and label are certain */
  char reason[160];          /* why nm_per_px is NAN */
} nm_scalebar;

/* Geometry only (fast, no OCR): finds a long thin uniform bar near an edge or
** in a solid box, and the box around it and its label. */
nm_status nm_scalebar_detect(const float *px, int width, int height,
                             nm_scalebar *out, nm_error *err);

/* Given a found bar (bar_* and box_* filled, found = 1): measure the bar to a
** fraction of a pixel, find and read its label, compute nm_per_px (NAN with a
** reason unless certain). nm_scalebar_read = detect + this. */
nm_status nm_scalebar_measure(const float *px, int width, int height,
                              nm_scalebar *inout, nm_error *err);

/* Detect, then read the label with Tesseract and compute nm_per_px. */
nm_status nm_scalebar_read(const float *px, int width, int height,
                           nm_scalebar *out, nm_error *err);

#endif /* NM_SCALEBAR_H */
