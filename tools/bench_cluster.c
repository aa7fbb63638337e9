/*
** bench_cluster.c — times the clustering engine on a raw float64 file
** (row-major n x d, written by tools/bench_cluster.py, which runs
** scikit-learn / SciPy on the same data in the same invocation).
**
**   bench_cluster kmeans FILE N D K_MIN K_MAX   k-means auto-K (10 restarts)
**   bench_cluster ward FILE N D [OUT]           Ward linkage + cut; OUT gets
**                                               the merges (a b height size
**                                               per line, heights to 17 digits)
**
** Prints one JSON line: timings in seconds and the results to compare.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ext/kmeans.h"
#include "../ext/linkage.h"
#include "../ext/silhouette.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: bench_cluster kmeans|ward FILE N D [K_MIN K_MAX]\n");
    return 2;
  }
  size_t n = strtoull(argv[3], NULL, 10);
  int d = atoi(argv[4]);
  double *x = malloc(n * d * sizeof(double));
  FILE *fp = fopen(argv[2], "rb");
  if (!fp || !x || fread(x, sizeof(double), n * d, fp) != n * d) {
    fprintf(stderr, "cannot read %s\n", argv[2]);
    return 1;
  }
  fclose(fp);
  nm_error err = {0};
  if (!strcmp(argv[1], "kmeans")) {
    int k_min = argc > 5 ? atoi(argv[5]) : 2, k_max = argc > 6 ? atoi(argv[6]) : 12;
    int nk = k_max - k_min + 1;
    nm_kmeans_opts o;
    nm_kmeans_opts_default(&o);
    nm_kmeans_result *fits = calloc(nk, sizeof *fits);
    const int **labs = calloc(nk, sizeof *labs);
    int *ks = calloc(nk, sizeof(int));
    nm_silhouette_result *sr = calloc(nk, sizeof *sr);
    double t0 = now();
    for (int t = 0; t < nk; t++) {
      if (nm_kmeans_fit(x, n, d, k_min + t, &o, 1, &fits[t], NULL, &err) != NM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
      }
      labs[t] = fits[t].labels;
      ks[t] = k_min + t;
    }
    double t1 = now();
    if (nm_silhouette_multi(x, n, d, labs, ks, nk, NULL, sr, NULL, NULL, &err) != NM_OK) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    double t2 = now();
    int win = 0;
    for (int t = 1; t < nk; t++)
      if (sr[t].mean > sr[win].mean) win = t;
    printf("{\"kmeans_s\":%.3f,\"silhouette_s\":%.3f,\"total_s\":%.3f,\"k\":%d,\"sampled\":%d,"
           "\"inertia\":[",
           t1 - t0, t2 - t1, t2 - t0, ks[win], sr[0].sampled);
    for (int t = 0; t < nk; t++) printf("%s%.6g", t ? "," : "", fits[t].inertia);
    printf("],\"silhouette\":[");
    for (int t = 0; t < nk; t++) printf("%s%.6f", t ? "," : "", sr[t].mean);
    printf("]}\n");
    for (int t = 0; t < nk; t++) nm_kmeans_result_free(&fits[t]);
    free(fits);
    free(labs);
    free(ks);
    free(sr);
  } else {
    nm_merge *z = malloc((n - 1) * sizeof *z);
    int *lab = malloc(n * sizeof(int));
    double t0 = now();
    if (nm_linkage(x, n, d, NM_LINK_WARD, n, z, NULL, &err) != NM_OK) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    double t1 = now();
    nm_linkage_cut(z, n, 6, lab, &err);
    printf("{\"ward_s\":%.3f,\"top_height\":%.17g,\"h_last5\":[", t1 - t0, z[n - 2].height);
    for (size_t t = n - 6; t < n - 1; t++) printf("%s%.17g", t > n - 6 ? "," : "", z[t].height);
    printf("]}\n");
    if (argc > 5) {
      FILE *out = fopen(argv[5], "w");
      if (!out) {
        fprintf(stderr, "cannot write %s\n", argv[5]);
        return 1;
      }
      for (size_t t = 0; t + 1 < n; t++)
        fprintf(out, "%d %d %.17g %d\n", z[t].a, z[t].b, z[t].height, z[t].size);
      fclose(out);
    }
    free(z);
    free(lab);
  }
  free(x);
  return 0;
}
