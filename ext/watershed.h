/*
** watershed.h — marker-controlled watershed by flooding (Meyer), with
** markers from h-maxima so that one particle gives one marker.
**
** The flood uses a hierarchical queue (one FIFO per quantised level, 4096
** levels between the lowest and highest cost in the mask): every pixel is
** queued once, so a pass is O(pixels + levels) with no heap and no
** per-pixel allocation. A pixel takes the label of the neighbour that
** reached it first; there are no watershed lines (basins tile the mask).
*/
#ifndef NM_WATERSHED_H
#define NM_WATERSHED_H

#include <stdint.h>

#include "nm_common.h"

/* Grey reconstruction by dilation of marker under mask_img (8-connected,
** Vincent's hybrid raster + FIFO algorithm). marker is updated in place and
** must be <= mask_img everywhere. */
nm_status nm_reconstruct(float *marker, const float *mask_img, int w, int h,
                         nm_error *err);

/* h-maxima markers of f inside roi (roi NULL = whole image): the connected
** (8) sets where f - R(f - h) >= h, R the reconstruction under f, i.e. the
** maxima whose dynamic is at least h. markers gets 0 or 1..count. */
nm_status nm_hmax_markers(const float *f, const uint8_t *roi, int w, int h,
                          double hval, int32_t *markers, int *count, nm_error *err);

/* Floods cost (lowest first) from the labelled pixels of labels (> 0) over
** the pixels where roi != 0 (roi NULL = all). Unreached roi pixels (a
** component without a marker) stay 0; pixels outside roi are left as they
** are. 8-connected. */
nm_status nm_watershed(const float *cost, const uint8_t *roi, int w, int h,
                       int32_t *labels, const nm_progress *progress, nm_error *err);

#endif /* NM_WATERSHED_H */
