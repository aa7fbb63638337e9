/*
** concavity.h — convexity-defect split of pieces that stay non-convex.
**
** Two particles that overlap in projection (stacked octahedra, tetrahedra
** lying on each other's edge) make one piece with no neck for the distance
** transform and no lighter line for the intensity split: the overlap is
** darker than either particle. What is left of the boundary between them is
** the pair of notches where their outlines cross — the concave points of the
** piece's outline. This step cuts such pieces along the segment between two
** concave points:
**   - only where the image's own particles are convex: the median solidity
**     of its pieces of at least half a typical particle (pi d^2/4; when
**     there are 10 or more) must be at least min_solidity - margin.
**     Textured particles with jagged outlines or arms are themselves
**     non-convex, and their notches are no evidence of overlap (measured:
**     tem-np-sparse, median 0.61-0.86, lost 0.06 F1 without this rule);
**   - a piece is a candidate when its solidity, after a binary closing of
**     radius smooth x d (crevices of outline noise are not notches), is below
**     both min_solidity and that median - margin, and its area is at least
**     half a typical particle;
**   - concave points: each 4-connected defect region (hull minus piece) gives
**     the piece pixel next to it that lies farthest inside the hull; its
**     depth is that distance, and only defects at least max(2 px, depth x d)
**     deep count (outline noise and pixel steps are shallower);
**   - pairs of concave points are tried shortest relative cut first (cut
**     length over the sum of the two depths, a cut at most 1.5 d long and
**     running at least 90 % inside the piece); a cut is kept when both parts
**     hold at least a quarter of a typical particle and the parts' area-
**     weighted solidity is at least `gain` above the piece's: a cut through
**     one convex particle lowers it or leaves it;
**   - the parts are examined again (a chain of three needs two cuts).
** Pixels on the cut line go to the part they touch first (breadth-first).
** Where the image's own particles are irregular (the gate above closed),
** the earlier splits' cuts are checked instead: particles that only touch
** meet at a neck, shorter than either is thick, so two touching pieces whose
** shared boundary's chord spans at least the thickness (twice the largest
** inscribed radius) of the thinner one are one particle cut along its
** wiggles, and are merged (strongest first, each piece once per round, three
** rounds). Labels merged away are left without pixels (*count unchanged).
** Not with keep_cuts (segment.c sets it where the second split read its
** lines on the 1 px copy: sharp edges, particles smooth inside, so the
** irregular pieces come from cuts along image lines, not from texture).
** Measured: tem-np-sparse F1 0.879 -> 0.924 (oversplit particles 25 -> 8),
** nanoshapes 0.837 -> 0.840 (two raft images), others unchanged.
** Measured on ../shared/data (docs/accuracy.md): au-tetra-prism F1 0.702 ->
** 0.772, nanoshapes 0.791 -> 0.813, msa-bf-tem and tem-np-sparse unchanged
** within 0.001.
*/
#ifndef NM_CONCAVITY_H
#define NM_CONCAVITY_H

#include <stdint.h>

#include "nm_common.h"

typedef struct nm_concave_opts {
  double min_solidity; /* pieces below this are examined (0: off) */
  double depth;        /* minimal defect depth, fraction of d */
  double gain;         /* minimal solidity gain of a kept cut */
  double margin;       /* ... and below the image's median piece solidity less this;
                          nothing is cut when that median is below min_solidity - margin */
  double smooth;       /* closing radius of the piece first, fraction of d */
  int keep_cuts;       /* 1: never merge the earlier splits' cuts (see above) */
} nm_concave_opts;

/* labels: w*h, 0..*count; pieces cut are given new labels after *count
** (*count grows). d: the particle scale in px. */
nm_status nm_split_concave(int32_t *labels, int w, int h, int *count, double d,
                           const nm_concave_opts *opts, const nm_progress *progress,
                           nm_error *err);

#endif /* NM_CONCAVITY_H */
