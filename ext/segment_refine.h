/*
** segment_refine.h — per-particle outline refinement of a label image.
**
** A global threshold puts every particle's edge at one level; a particle
** fainter or darker than average then comes out too small or too large (a
** soft rim is half in, half out). The physical edge of a particle is where
** the intensity crosses mid-way between the particle's own level and the
** background right around it. This step moves each outline there:
**   - core level: median of the particle's deep interior (pixels at least
**     half its maximal depth from its outline);
**   - background level: median of a ring of unlabelled pixels around it
**     (geodesic distance from ra to rb from the particle, nearest to this
**     particle rather than another one);
**   - the particle's pixels, and the unlabelled pixels nearest to it within
**     `grow` x its radius, are re-thresholded at
**     background + level x (core - background); the part connected to the
**     core is kept, its enclosed holes filled. A pixel belongs to at most one
**     candidate particle (its watershed basin if labelled, else the nearest
**     particle), so contested pixels cannot change hands and splits stay.
** Textured or noisy film: where twice the robust sigma of a particle's
** background ring exceeds half its contrast, the soft rim is within the
** film's fluctuation and a pixel threshold follows texture out (and, raised,
** breaks the particle on its own interior texture). Such a particle's
** outline is moved as a whole to where its perimeter-averaged profile
** (mean intensity against signed distance from the outline) crosses
** background + 2 sigma (at most 0.85 of the contrast). Not done when the
** image's outlines were put on their steepest iso-lines (sharp edges);
** those are moved to their edge's outer foot instead (see
** nm_refine_outlines_fine).
** Runs in O(pixels) (breadth-first passes, linear-time medians, distance
** transforms).
*/
#ifndef NM_SEGMENT_REFINE_H
#define NM_SEGMENT_REFINE_H

#include <stdint.h>

#include "nm_common.h"

typedef struct nm_refine_stats {
  int refined;   /* particles whose outline was re-thresholded */
  int kept;      /* particles left as they were (no ring, no contrast) */
} nm_refine_stats;

/* img: w*h, particles brighter than background. labels: 0..count, changed in
** place (no label disappears: a particle whose core falls below its own level
** keeps its old pixels). level in (0,1): 0.5 = half-way. grow: how far (in
** particle radii) an outline may move outwards. edge_search: instead of the
** fixed level, take per particle the level in 0.2..0.8 whose iso-line has the
** steepest mean gradient (the edge of a blurred step) — decided once per
** image: only when the median particle's steepest iso-line is at least
** edge_ratio times steeper than the mean gradient of its background ring
** (sharp edges, not film texture; 0: always). fill_holes: fill holes
** enclosed by one particle. stats may be NULL. */
nm_status nm_refine_outlines(const float *img, int w, int h, int32_t *labels, int count,
                             double level, double grow, int edge_search, double edge_ratio,
                             double anchor, double anchor_weight, int fill_holes,
                             nm_refine_stats *stats, nm_error *err);

/* The same with a second, lightly smoothed copy of img (same flattening,
** particles bright; NULL: none). When the first pass opens the steepest-edge
** gate on img, the outlines are then put on the steepest iso-lines of fine
** (two passes, no anchor): the particle-scale smoothing of img moves the
** steepest line of an asymmetric edge (a thinning grey rim inside a sharp
** step, as on projected tetrahedra and octahedra) inwards by a good part
** of its sigma. Images whose gate stays closed never read fine.
** When the gate opens on fine too, every outline is then moved to the outer
** foot of its edge: where the tangent at the steepest point of the
** perimeter-averaged profile (mean intensity against signed distance from
** the outline) meets the background. The steepest line is half-way up a
** blurred step, but a particle begins where its edge leaves the film, and a
** thinning rim (projected tetrahedra, spheres) makes the edge a ramp whose
** tangent runs down to that foot. The profile is read on raw (the same
** flattening, unsmoothed; NULL: on fine): averaging along the perimeter
** removes the noise, and smoothing would widen the edge and push its foot
** out. */
nm_status nm_refine_outlines_fine(const float *img, const float *fine, const float *raw, int w,
                                  int h, int32_t *labels, int count, double level, double grow,
                                  int edge_search, double edge_ratio, double anchor,
                                  double anchor_weight, int fill_holes, nm_refine_stats *stats,
                                  nm_error *err);

#endif /* NM_SEGMENT_REFINE_H */
