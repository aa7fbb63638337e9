/*
** eval_shape.c — analysis by synthesis on real particles: for every interior
** ground-truth particle of ../shared/data/au-tetra-prism (tetrahedra and
** prisms apart) and msa-bf-tem (round), the re-simulation Jaccard (fit.h
** protocol) of an equal-area circle, of the moment ellipse, and of the
** shape_fit triplet; the share of d = 3 among triangles; shape_fit's speed
** (particles per CPU second, mask preparation included).
**
**   usage: eval_shape [DATA_DIR (default ../shared/data)] [max particles per set]
**
** Particles touching the image border and specks under 20 px are left out.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ext/fit.h"
#include "../ext/image.h"
#include "gt_labels.h"
#include "pairs_tsv.h"

enum { SET_TETRA, SET_PRISM, SET_ROUND, NSET };
static const char *set_name[NSET] = {"tetrahedra", "prisms", "round"};

typedef struct acc {
  long n, d3;
  double circle, ellipse, fit, secs;
  long dh[13];
} acc;

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void run_image(const char *path, int binary, acc *a, long cap) {
  nm_image img;
  nm_read_opts ro;
  nm_error err;
  memset(&img, 0, sizeof img);
  nm_read_opts_default(&ro);
  if (nm_image_read_file(path, &ro, &img, &err) != NM_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return;
  }
  int w = img.width, h = img.height, nl = 0;
  int32_t *lab = gt_labels(&img, !binary, &nl);
  if (!lab) {
    fprintf(stderr, "eval_shape: cannot label %s\n", path);
    nm_image_free(&img);
    return;
  }
  int *x0 = malloc(sizeof(int) * (nl + 1) * 5), *x1 = x0 + nl + 1, *y0 = x1 + nl + 1,
      *y1 = y0 + nl + 1, *cnt = y1 + nl + 1;
  for (int k = 0; k <= nl; k++) {
    x0[k] = y0[k] = 1 << 30;
    x1[k] = y1[k] = -1;
    cnt[k] = 0;
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int k = lab[(size_t)y * w + x];
      if (k <= 0) continue;
      cnt[k]++;
      if (x < x0[k]) x0[k] = x;
      if (x > x1[k]) x1[k] = x;
      if (y < y0[k]) y0[k] = y;
      if (y > y1[k]) y1[k] = y;
    }
  for (int k = 1; k <= nl && a->n < cap; k++) {
    if (cnt[k] < 20 || x0[k] == 0 || y0[k] == 0 || x1[k] == w - 1 || y1[k] == h - 1) continue;
    int bw = x1[k] - x0[k] + 1, bh = y1[k] - y0[k] + 1;
    uint8_t *m = malloc((size_t)bw * bh);
    for (int y = 0; y < bh; y++)
      for (int x = 0; x < bw; x++) m[y * bw + x] = lab[(size_t)(y + y0[k]) * w + x + x0[k]] == k;
    nm_fit_mask *fm;
    double t0 = cpu_now();
    if (nm_fit_mask_prepare(m, bw, bh, bw, &fm, &err) == NM_OK) {
      nm_fit_opts o;
      nm_fit_opts_default(&o);
      if (getenv("NM_FIT_OPTS")) { /* e.g. "max_evals=30,restarts=0" for tuning */
        char buf[256], *save = NULL;
        snprintf(buf, sizeof buf, "%s", getenv("NM_FIT_OPTS"));
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
          char *eq = strchr(t, '=');
          if (!eq) continue;
          *eq = 0;
          nm_fit_opts_set(&o, t, atof(eq + 1), NULL, &err);
        }
      }
      nm_fit_result r;
      if (nm_shape_fit(fm, &o, &r, &err) == NM_OK) {
        a->secs += cpu_now() - t0;
        double jc, je;
        nm_fit_baselines(fm, &jc, &je, NULL, &err);
        a->n++;
        a->circle += jc;
        a->ellipse += je;
        a->fit += r.jaccard;
        a->d3 += r.d == 3;
        a->dh[(int)r.d]++;
      }
      nm_fit_mask_free(fm);
    }
    free(m);
  }
  free(x0);
  free(lab);
  nm_image_free(&img);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "../shared/data";
  long cap = argc > 2 ? atol(argv[2]) : 1000000;
  acc a[NSET];
  memset(a, 0, sizeof a);
  static const char *sets[2] = {"au-tetra-prism", "msa-bf-tem"};
  for (int s = 0; s < 2; s++) {
    char p[4096];
    FILE *f = pairs_open(dir, sets[s]);
    if (!f) {
      fprintf(stderr, "eval_shape: cannot open %s/%s/pairs.tsv (data not present?)\n", dir, sets[s]);
      return s == 0 ? 0 : 1;
    }
    pairs_row r;
    while (pairs_next(f, &r)) {
      int set = s == 1 ? SET_ROUND : strstr(r.img, "tetra") ? SET_TETRA : SET_PRISM;
      snprintf(p, sizeof p, "%s/%s/%s", dir, sets[s], r.gt);
      run_image(p, strcmp(r.kind, "labels") != 0, &a[set], cap);
    }
    fclose(f);
  }
  printf("# shape_fit on real ground-truth particles (fit.h protocol; border particles left out)\n");
  printf("%-11s %5s %8s %8s %9s %6s %s\n", "set", "n", "circle", "ellipse", "shape_fit", "d=3",
         "particles/s  d histogram 1..6");
  for (int s = 0; s < NSET; s++) {
    acc *x = &a[s];
    if (!x->n) continue;
    printf("%-11s %5ld %8.3f %8.3f %9.3f %5.0f%% %8.0f     ", set_name[s], x->n, x->circle / x->n,
           x->ellipse / x->n, x->fit / x->n, 100.0 * x->d3 / x->n, x->n / x->secs);
    for (int d = 1; d <= 6; d++) printf(" %ld", x->dh[d]);
    printf("\n");
  }
  return 0;
}
