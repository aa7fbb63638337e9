/*
** test_specks.c — film texture specks (specks.h): on a field of small faint
** grains around large particles the grains are flagged and the particles
** kept; a few grains among the particles (under the share) are not flagged;
** labels already excluded are left alone.
*/
#include <stdlib.h>
#include <string.h>

#include "../../ext/filter.h"
#include "../../ext/segment.h"
#include "../../ext/specks.h"
#include "check.h"

enum { W = 256, H = 256, DISCS = 16 };
static float img[W * H], smooth[W * H];
static int32_t labels[W * H];
static uint8_t excluded[400];
static const double D = 24; /* the particle scale: discs of radius 12 */

static int count;

/* 16 bright discs (particles bright, as segment.c hands them over) on a
** 4 x 4 grid */
static void draw_discs(void) {
  memset(img, 0, sizeof img);
  memset(labels, 0, sizeof labels);
  for (int i = 0; i < W * H; i++) img[i] = 0.3f;
  count = 0;
  for (int gy = 0; gy < 4; gy++)
    for (int gx = 0; gx < 4; gx++) {
      int cx = 32 + 64 * gx, cy = 32 + 64 * gy;
      count++;
      for (int y = cy - 12; y <= cy + 12; y++)
        for (int x = cx - 12; x <= cx + 12; x++)
          if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= 144) {
            img[y * W + x] = 0.9f;
            labels[y * W + x] = count;
          }
    }
}

/* n grains of 3 x 3 px, a little brighter than the film, away from the discs
** (a fixed LCG: the same grains every run) */
static void draw_grains(int n) {
  unsigned state = 12345;
  int placed = 0;
  while (placed < n) {
    state = state * 1103515245u + 12345u;
    int x = 2 + (int)((state >> 8) % (W - 4));
    state = state * 1103515245u + 12345u;
    int y = 2 + (int)((state >> 8) % (H - 4));
    int cx = 32 + 64 * (x / 64), cy = 32 + 64 * (y / 64);
    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < 18 * 18) continue;
    int free_spot = 1;
    for (int yy = y - 2; yy <= y + 2; yy++)
      for (int xx = x - 2; xx <= x + 2; xx++) free_spot &= labels[yy * W + xx] == 0;
    if (!free_spot) continue;
    count++;
    placed++;
    for (int yy = y - 1; yy <= y + 1; yy++)
      for (int xx = x - 1; xx <= x + 1; xx++) {
        img[yy * W + xx] = 0.55f;
        labels[yy * W + xx] = count;
      }
  }
}

static int run(int *flagged) {
  float *tmp = malloc(sizeof(float) * nm_filter_tmp_size(W, H));
  nm_error err;
  nm_error_clear(&err);
  nm_status st = nm_specks_flag(img, W, H, labels, count, D, NM_EXCL_TEXTURE, excluded, smooth,
                                tmp, flagged, &err);
  free(tmp);
  return st;
}

static void test_textured_field(void) {
  draw_discs();
  draw_grains(150);
  memset(excluded, 0, sizeof excluded);
  excluded[DISCS + 1] = NM_EXCL_EDGE; /* one grain already excluded */
  int flagged = -1;
  CHECK(run(&flagged) == NM_OK);
  CHECK(flagged == 149);
  for (int l = 1; l <= DISCS; l++) CHECK(excluded[l] == NM_EXCL_NONE);
  CHECK(excluded[DISCS + 1] == NM_EXCL_EDGE);
  int texture = 0;
  for (int l = DISCS + 2; l <= count; l++) texture += excluded[l] == NM_EXCL_TEXTURE;
  CHECK(texture == 149);
  CHECK(strcmp(nm_exclusion_name(NM_EXCL_TEXTURE), "texture") == 0);
}

/* 6 grains among 16 particles: 27 % of the detections, under the share: a
** few small faint blobs may be small faint particles, nothing is flagged */
static void test_few_grains(void) {
  draw_discs();
  draw_grains(6);
  memset(excluded, 0, sizeof excluded);
  int flagged = -1;
  CHECK(run(&flagged) == NM_OK);
  CHECK(flagged == 0);
  for (int l = 1; l <= count; l++) CHECK(excluded[l] == NM_EXCL_NONE);
}

int main(void) {
  test_textured_field();
  test_few_grains();
  return check_summary("test_specks");
}
