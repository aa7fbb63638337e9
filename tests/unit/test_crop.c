/* test_crop.c — the canonical crop: centring, scale, anti-aliasing, errors. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/crop.h"
#include "check.h"

/* Moments of a crop: mass, centroid, and the radius where the profile along
** +x crosses 0.5. */
static void crop_moments(const float *c, int n, double *mass, double *mx, double *my) {
  double s = 0, sx = 0, sy = 0;
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++) {
      double v = c[y * n + x];
      s += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  *mass = s;
  *mx = sx / s;
  *my = sy / s;
}

int main(void) {
  nm_error err;
  const int S = NM_CROP_SIZE;
  float *c = malloc(sizeof(float) * S * S);

  /* A disc of radius 40 px off-centre in a 150×120 mask. */
  {
    int w = 150, h = 120;
    double r = 40, ox = 90.3, oy = 50.7;
    uint8_t *m = calloc((size_t)w * h, 1);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        m[y * w + x] = (x - ox) * (x - ox) + (y - oy) * (y - oy) <= r * r;
    CHECK_OK(nm_crop_from_mask(m, w, h, w, S, c, &err), err);
    double mass, mx, my;
    crop_moments(c, S, &mass, &mx, &my);
    CHECK_NEAR(mx, S / 2.0, 0.05);
    CHECK_NEAR(my, S / 2.0, 0.05);
    /* the disc's crop has radius FRACTION*S: area π(f·S)² within 3 % */
    double want = M_PI * pow(NM_CROP_RADIUS_FRACTION * S, 2);
    CHECK_NEAR(mass / want, 1.0, 0.03);
    /* profile along the row through the centre crosses 0.5 at f·S from the centre */
    int row = S / 2;
    double edge = -1;
    for (int x = S / 2; x < S - 1; x++) {
      double a = 0.5 * (c[(row - 1) * S + x] + c[row * S + x]);
      double b = 0.5 * (c[(row - 1) * S + x + 1] + c[row * S + x + 1]);
      if (a >= 0.5 && b < 0.5) {
        edge = (x + 0.5) + (a - 0.5) / (a - b) - S / 2.0;
        break;
      }
    }
    CHECK_NEAR(edge, NM_CROP_RADIUS_FRACTION * S, 0.5);
    /* anti-aliased: some values strictly between 0 and 1, all in [0,1] */
    int partial = 0, inrange = 1;
    for (int i = 0; i < S * S; i++) {
      if (c[i] > 0.01f && c[i] < 0.99f) partial++;
      if (c[i] < 0 || c[i] > 1) inrange = 0;
    }
    CHECK(partial > 50);
    CHECK(inrange);
    /* same mask → same bytes; a stride larger than w gives the same crop */
    float *c2 = malloc(sizeof(float) * S * S);
    uint8_t *m2 = calloc((size_t)(w + 7) * h, 1);
    for (int y = 0; y < h; y++) memcpy(m2 + y * (w + 7), m + y * w, (size_t)w);
    CHECK_OK(nm_crop_from_mask(m2, w, h, w + 7, S, c2, &err), err);
    CHECK(memcmp(c, c2, sizeof(float) * S * S) == 0);
    /* the same disc given as a label in a label image */
    int32_t *lab = calloc((size_t)w * h, sizeof(int32_t));
    for (int i = 0; i < w * h; i++) lab[i] = m[i] ? 7 : (i % 3 == 0 ? 2 : 0);
    for (int i = 0; i < w * h; i++) if (!m[i] && i % 3 == 0) m[i] = 0;
    /* label 2 noise pixels must not count: crop the whole image for label 7 */
    CHECK_OK(nm_crop_from_labels(lab, w, h, 7, 0, 0, w, h, S, c2, &err), err);
    CHECK(memcmp(c, c2, sizeof(float) * S * S) == 0);
    CHECK(nm_crop_from_labels(lab, w, h, 9, 0, 0, w, h, S, c2, &err) == NM_ERR_ARG);
    CHECK(nm_crop_from_labels(lab, w, h, 7, 100, 0, 60, h, S, c2, &err) == NM_ERR_ARG);
    CHECK(nm_crop_from_labels(lab, w, h, 7, -1, 0, 10, 10, S, c2, &err) == NM_ERR_ARG);
    free(lab);
    free(m2);
    free(c2);
    free(m);
  }

  /* Orientation is kept: a horizontal bar stays horizontal, its left end on the left. */
  {
    int w = 60, h = 20;
    uint8_t *m = calloc((size_t)w * h, 1);
    for (int y = 8; y < 12; y++)
      for (int x = 0; x < 60; x++) m[y * w + x] = 1;
    for (int y = 4; y < 16; y++) m[y * w + 0] = m[y * w + 1] = 1; /* a T-bar on the left */
    CHECK_OK(nm_crop_from_mask(m, w, h, w, S, c, &err), err);
    double colL = 0, colR = 0, row0 = 0;
    for (int y = 0; y < S; y++) {
      colL += c[y * S + 8];
      colR += c[y * S + S - 8];
    }
    for (int x = 0; x < S; x++) row0 += c[(S / 2 - 10) * S + x];
    CHECK(colL > colR);
    CHECK(row0 < 1.0);
    free(m);
  }

  /* A single pixel is a valid mask (a small disc in the middle). */
  {
    uint8_t one = 1;
    CHECK_OK(nm_crop_from_mask(&one, 1, 1, 1, S, c, &err), err);
    CHECK(c[(S / 2) * S + S / 2] == 1.0f);
    CHECK(c[0] == 0.0f);
  }

  /* Errors. */
  {
    uint8_t z[4] = {0};
    CHECK(nm_crop_from_mask(z, 2, 2, 2, S, c, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "empty") != NULL);
    CHECK(nm_crop_from_mask(z, 0, 2, 2, S, c, &err) == NM_ERR_ARG);
    CHECK(nm_crop_from_mask(z, 2, 2, 1, S, c, &err) == NM_ERR_ARG);
    CHECK(nm_crop_from_mask(NULL, 2, 2, 2, S, c, &err) == NM_ERR_ARG);
    z[0] = 1;
    CHECK(nm_crop_from_mask(z, 2, 2, 2, 2, c, &err) == NM_ERR_ARG);
    CHECK(nm_crop_from_mask(z, 2, 2, 2, 100000, c, &err) == NM_ERR_ARG);
    CHECK(nm_crop_from_labels(NULL, 2, 2, 1, 0, 0, 1, 1, S, c, &err) == NM_ERR_ARG);
  }

  /* PNG form. */
  {
    uint8_t one = 1;
    unsigned char *png = NULL;
    size_t n = 0;
    CHECK_OK(nm_crop_from_mask(&one, 1, 1, 1, S, c, &err), err);
    CHECK_OK(nm_crop_encode_png(c, S, &png, &n, &err), err);
    CHECK(n > 8 && png && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
    free(png);
  }
  free(c);
  return check_summary("test_crop");
}
