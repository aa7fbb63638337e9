/*
** outliers.h — which segmented particles are not like the rest.
**
** particles() flags, among the particles not already excluded, those whose
** area or solidity is extreme for the image's population (excluded =
** 'outlier'): unsplit clumps, pieces of film, fragments with a bite out of
** them. "The population" is the typical particle's: the one that holds the
** median particle pixel (the way the segmentation's scale is chosen, segment.h
** step 3) and the particles within 4x of its area. Fences from all particles
** counted one each let a crowd of small texture specks define "typical", so
** that on a textured film the real particles fell outside the fences and the
** specks stayed in; fences from area-weighted quartiles let one large clump
** widen them until it passed itself.
*/
#ifndef NM_OUTLIERS_H
#define NM_OUTLIERS_H

#include <stdint.h>

#include "features.h"

/* Fewer eligible particles than this: nothing is flagged. */
#define NM_OUTLIERS_MIN_COUNT 8

/* Sets excluded[k] = NM_EXCL_OUTLIER (segment.h) for each label k with
** excluded[k] == 0 and area > 0 whose
**   area is over Q3 + 3 IQR, or
**   solidity is below both Q1s - 3 IQRs and the median solidity - 0.1,
** the quartiles (linear between ranks) taken over the core: the eligible
** particles with area within [A/4, 4A], A the smallest area at which the
** eligible areas, summed in ascending order, reach half their total. Nothing
** is flagged when fewer than NM_OUTLIERS_MIN_COUNT particles are eligible or
** in the core, or without memory (the flags are advisory). The second
** solidity condition keeps a tight, regular population from flagging ordinary
** particles. No lower area fence: a small particle is the size distribution's
** tail, not an error to hide (Q1 - 3 IQR of a tight population is ~0.6 of the
** typical area); what is too small to be a particle is segment.h's too_small
** and texture. f[k-1] holds label k's features; excluded has n_labels + 1
** entries indexed by label. Returns the number flagged. */
int nm_outliers_flag(const nm_features *f, int n_labels, uint8_t *excluded);

#endif
