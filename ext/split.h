/*
** split.h — a second, intensity-aware split of the pieces the distance
** transform left merged.
**
** The watershed of the distance transform splits touching particles only
** where their union has a neck. Faceted particles touching face to face
** (rafts of cubes, triangles along an edge) have none: their union is
** itself convex. What separates them in the image is the lighter line
** between them (a gap, or the thinner edges of both particles). So a piece
** that is suspect — larger than 1.5 typical particles (pi d^2/4 for the
** scale d) or clearly non-convex (solidity < 0.8) — is split again on the
** distance transform weighted by the image: each pixel's distance is
** multiplied by (1 - depth)^power, depth being how far the pixel lies below
** the local particle level (a grey closing of width ~d/4, which bridges any
** gap narrower than that), relative to that level, at pixel scale (Gaussian
** sigma 1 px). Gap lines become deep saddles; the markers are h-maxima of
** the weighted map with the same h as the first split.
** A cut is then kept only if it runs along a real line: two new pieces of
** one old piece are merged back unless the mean depth along their shared
** boundary, read on a smoother image (sigma 3 px: the watershed line runs
** through the deepest pixels by construction, and in pixel noise those are
** deep by chance; on small particles this only keeps more merges), is at least 0.1 and at least twice the mean
** depth inside either piece (texture inside a particle is as deep inside
** as on any line through it). Pieces of normal size and shape are not
** touched. With merge_cap (segment.c: sharp-edged bright field), the weak
** cuts are merged back weakest first and a merge whose piece would exceed
** merge_cap typical particles is refused: on a raft of touching crystals
** many cuts are weak (faint lines, crystals of different darkness), and
** merged transitively they rebuilt the whole raft as one piece, which then
** touched the image border and was lost (docs/accuracy.md, session 6).
** A weak cut the cap would keep is still merged back when nothing in the
** image supports it: both its ends lie on the union's convex hull (no
** notch at least `notch` px deep: segment.c passes the concave step's
** max(2 px, 0.05 d)) and it runs along no line at pixel scale (its mean
** depth on the 1 px map under twice the rest of the union's). Such cuts
** cross one convex crystal along fringes or twin planes; the cap's size
** test alone kept them because d is read low on faceted particles
** (docs/accuracy.md, session 8).
** Measured on ../shared/data (docs/accuracy.md): au-tetra-prism F1 0.592 ->
** 0.70, nanoshapes 0.734 -> 0.79, tem-np-sparse and msa-bf-tem unchanged
** within noise.
*/
#ifndef NM_SPLIT_H
#define NM_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "nm_common.h"

/* Area of the convex hull of the pixel squares listed as corner points
** p[0..n) (x, y pairs; sorted in place). scratch: 2n+2 points. */
typedef struct nm_ipt {
  int x, y;
} nm_ipt;
double nm_hull_area(nm_ipt *p, size_t n, nm_ipt *scratch);

/* The convex hull of p[0..n) (sorted in place) into hull (2n+2 points):
** returns k, hull[0..k) counter-clockwise in x-right/y-up terms, with
** hull[k-1] == hull[0] closing it; 0 when n < 3. */
size_t nm_convex_hull(nm_ipt *p, size_t n, nm_ipt *hull);

/* Convex-hull solidity (area / hull area of the pixel squares) of labels
** 1..count; solidity[count+1] (entry 0 unused). Labels touching nothing are 0. */
nm_status nm_label_solidity(const int32_t *labels, int w, int h, int count, double *solidity,
                            nm_error *err);

/* img: w*h, particles bright (flattened). labels: 0..*count from the
** distance watershed over mask; suspect pieces are replaced by their split,
** new pieces numbered after *count (labels may then have gaps: relabel).
** d: particle scale (px); h_frac: marker height as for the first split
** (fraction of d/2); power: the weight's exponent (0: nothing is done). */
nm_status nm_split_merged(const float *img, const uint8_t *mask, int w, int h, int32_t *labels,
                          int *count, double d, double h_frac, double power,
                          const nm_progress *progress, nm_error *err);
/* The same, given neg_dist: the negated exact distance transform of mask
** (what the first split floods), so it is not computed again; merge_cap > 0:
** weak cuts are merged back weakest first, and a merge whose piece would be
** larger than merge_cap typical particles is refused (0: every weak cut is
** merged, whatever the size of the chain of pieces it joins) unless the cut
** ends in no notch deeper than notch px and runs along no line (0: no such
** test). */
nm_status nm_split_merged_nd(const float *img, const uint8_t *mask, const float *neg_dist, int w,
                             int h, int32_t *labels, int *count, double d, double h_frac,
                             double power, double merge_cap, double notch,
                             const nm_progress *progress, nm_error *err);

/* Adjacent pieces of labels (0..count) whose shared cut nothing in img
** supports — it ends in no notch deeper than notch px and runs along no
** line at pixel scale (as the merge cap's test above) — are merged, the
** faintest cuts first, each merge tested on the union it builds. Labels
** merged away keep no pixels (count unchanged). */
nm_status nm_merge_unsupported(const float *img, int w, int h, int32_t *labels, int count,
                               double d, double notch, nm_error *err);

#endif /* NM_SPLIT_H */
