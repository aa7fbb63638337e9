/*
** linkage.h — agglomerative hierarchical clustering, cutting a tree into K
** groups, dendrogram leaf order and the cophenetic correlation coefficient.
**
** Trees are returned in SciPy's linkage-matrix convention, so the numbers
** can be compared with scipy.cluster.hierarchy directly: merge t joins
** clusters a < b (ids < n are rows, id n + s is the cluster formed by merge
** s) at `height`, giving a cluster of `size` rows; merges are sorted by
** height (stable), heights are Euclidean-scale like SciPy's (Ward's height
** is sqrt(2 * increase in within-cluster sum of squares)).
**
** Algorithms:
**   ward                     nearest-neighbour chain (Murtagh) on cluster
**                            centroids and sizes, no distance matrix: Ward's
**                            squared height 2 na nb / (na + nb) |ca - cb|^2 is
**                            evaluated exactly in double for the few
**                            candidates a float pre-filter with a rigorous
**                            error bound cannot rule out, so every choice of
**                            the chain is that of an exact scan (ties: the
**                            first position, the chain's previous element
**                            first). O(n^2 d) time, O(n d) memory; max_rows
**                            still applies (a time guard).
**   average, complete        nearest-neighbour chain over a full n x n
**                            distance matrix built by cblas_dgemm and
**                            updated by the Lance–Williams formulas (a merge
**                            writes the new cluster's row only; other rows
**                            copy its entry when they are next read):
**                            O(n^2) time and 8 n^2 bytes (20,000 rows: 3.2 GB;
**                            max_rows guards it).
**   single                   Prim's minimum spanning tree with distances
**                            computed on the fly: O(n^2 d) time, O(n d)
**                            memory, so any n.
**
** The cophenetic correlation (nm_cophenetic_corr) needs no n x n memory
** either: in dendrogram leaf order the cophenetic distance of leaves p < q is
** the largest merge height between neighbours p..q, so one pass over row
** blocks of distances (dgemm) accumulates the correlation. Valid for
** monotone trees, which all four methods give.
*/
#ifndef NM_LINKAGE_H
#define NM_LINKAGE_H

#include "cluster.h"

typedef enum nm_linkage_method {
  NM_LINK_WARD = 0,
  NM_LINK_AVERAGE,
  NM_LINK_COMPLETE,
  NM_LINK_SINGLE
} nm_linkage_method;

/* "ward" / "average" / "complete" / "single"; -1 when unknown. */
int nm_linkage_parse(const char *name);
const char *nm_linkage_name(nm_linkage_method m);

typedef struct nm_merge {
  int a, b;      /* cluster ids, a < b */
  double height; /* merge distance */
  int size;      /* rows in the merged cluster */
} nm_merge;

/* Default cap on rows for ward, average and complete (the last two hold an
** n x n matrix: 8 n^2 bytes). */
#define NM_LINKAGE_MAX_ROWS 20000

/*
** Builds the tree of the n rows of x (n >= 2) into z[0..n-2]. max_rows caps n
** for ward, average and complete (0 = NM_LINKAGE_MAX_ROWS); single linkage has
** no cap. Ward refuses non-finite values.
*/
nm_status nm_linkage(const double *x, size_t n, int d, nm_linkage_method method,
                     size_t max_rows, nm_merge *z, const nm_progress *progress,
                     nm_error *err);

/* Tests only: nonzero forces the portable kernel of Ward's float pre-filter
** instead of the AVX + FMA one (the tree must not change); 0 restores the
** automatic choice. Not thread-safe. */
void nm_linkage_ward_force_portable(int on);

/* Cuts the tree into exactly k clusters (undoing the last k-1 merges);
** labels numbered 0..k-1 by first appearance. 1 <= k <= n. */
nm_status nm_linkage_cut(const nm_merge *z, size_t n, int k, int *labels, nm_error *err);

/* Dendrogram leaf order (left subtree first): order[0..n) holds row ids. */
nm_status nm_linkage_leaf_order(const nm_merge *z, size_t n, size_t *order, nm_error *err);

/* Pearson correlation between the cophenetic distances of z and the
** Euclidean distances of the rows of x (as scipy's cophenet(Z, pdist(X))). */
nm_status nm_cophenetic_corr(const double *x, size_t n, int d, const nm_merge *z, double *ccc,
                             const nm_progress *progress, nm_error *err);

#endif /* NM_LINKAGE_H */
