/* test_watershed.c — reconstruction, h-maxima, and the split of two touching
** discs into two particles along the neck. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/morph.h"
#include "../../ext/watershed.h"
#include "check.h"

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  /* reconstruction of a 1-D profile: a small bump under h disappears */
  {
    float f[7] = {0, 1, 3, 1, 5, 1, 0}, J[7];
    for (int i = 0; i < 7; i++) J[i] = f[i] - 2.5f;
    CHECK_OK(nm_reconstruct(J, f, 7, 1, &err), err);
    CHECK_NEAR(J[4], 2.5, 1e-6);
    CHECK_NEAR(J[2], 1.0, 1e-6); /* the bump at 3 is filled to the saddle (1) reached from the peak */
    int32_t mk[7];
    int cnt = 0;
    CHECK_OK(nm_hmax_markers(f, NULL, 7, 1, 1.5, mk, &cnt, &err), err);
    CHECK(cnt == 2); /* dynamics 2 (at 3) and 5 (at 5) both >= 1.5 */
    CHECK_OK(nm_hmax_markers(f, NULL, 7, 1, 2.5, mk, &cnt, &err), err);
    CHECK(cnt == 1 && mk[4] == 1);
  }
  /* two discs of radius 15 whose centres are 24 px apart (overlapping) */
  {
    int w = 80, h = 50;
    size_t n = (size_t)w * h;
    uint8_t *m = malloc(n);
    float *d = malloc(sizeof(float) * n);
    int32_t *lab = malloc(sizeof(int32_t) * n);
    int area = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int a = (x - 28) * (x - 28) + (y - 25) * (y - 25) <= 225;
        int b = (x - 52) * (x - 52) + (y - 25) * (y - 25) <= 225;
        area += m[y * w + x] = a || b;
      }
    CHECK_OK(nm_edt(m, w, h, 0, d, &err), err);
    int cnt = 0;
    CHECK_OK(nm_hmax_markers(d, m, w, h, 2.0, lab, &cnt, &err), err);
    CHECK(cnt == 2);
    for (size_t i = 0; i < n; i++) d[i] = -d[i];
    CHECK_OK(nm_watershed(d, m, w, h, lab, NULL, &err), err);
    int a1 = 0, a2 = 0, un = 0;
    for (size_t i = 0; i < n; i++) {
      if (!m[i]) {
        CHECK(lab[i] == 0);
        continue;
      }
      a1 += lab[i] == lab[25 * w + 28];
      a2 += lab[i] == lab[25 * w + 52];
      un += lab[i] == 0;
    }
    CHECK(lab[25 * w + 28] != lab[25 * w + 52]);
    CHECK(un == 0);
    CHECK(a1 + a2 == area);
    CHECK_NEAR(a1, a2, 0.03 * area); /* symmetric split */
    /* the cut runs along the neck at x = 40 */
    CHECK(lab[25 * w + 38] == lab[25 * w + 28]);
    CHECK(lab[25 * w + 42] == lab[25 * w + 52]);
    free(m);
    free(d);
    free(lab);
  }
  return check_summary("test_watershed");
}
