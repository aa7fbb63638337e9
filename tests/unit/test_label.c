/* test_label.c — connected components: counts under 4/8 connectivity, a
** spiral (one component however it winds), small-object removal, relabel. */
#include <stdlib.h>
#include <string.h>

#include "../../ext/label.h"
#include "check.h"

int main(void) {
  nm_error err;
  nm_error_clear(&err);
  /* a disc is one component, its area the pixel count */
  {
    int w = 50, h = 50, n = 0, cnt = 0;
    uint8_t m[2500];
    int32_t l[2500];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) n += m[y * w + x] = (x - 25) * (x - 25) + (y - 25) * (y - 25) <= 100;
    CHECK_OK(nm_label(m, w, h, 1, l, &cnt, &err), err);
    CHECK(cnt == 1);
    int64_t a[2];
    nm_label_areas(l, 2500, cnt, a);
    CHECK(a[1] == n);
  }
  /* diagonal pixels: 8-connected one, 4-connected many */
  {
    uint8_t m[25] = {0};
    int32_t l[25];
    int cnt = 0;
    for (int i = 0; i < 5; i++) m[i * 5 + i] = 1;
    CHECK_OK(nm_label(m, 5, 5, 1, l, &cnt, &err), err);
    CHECK(cnt == 1);
    CHECK_OK(nm_label(m, 5, 5, 0, l, &cnt, &err), err);
    CHECK(cnt == 5);
  }
  /* checkerboard: the worst case for provisional labels */
  {
    int w = 64, h = 64, cnt = 0;
    uint8_t *m = malloc((size_t)w * h);
    int32_t *l = malloc(sizeof(int32_t) * w * h);
    for (int i = 0; i < w * h; i++) m[i] = ((i % w) + (i / w)) % 2;
    CHECK_OK(nm_label(m, w, h, 0, l, &cnt, &err), err);
    CHECK(cnt == w * h / 2);
    CHECK_OK(nm_label(m, w, h, 1, l, &cnt, &err), err);
    CHECK(cnt == 1);
    free(m);
    free(l);
  }
  /* a U shape merges two provisional labels; numbering follows first pixels */
  {
    const char *pic[] = {"X...X..X", "X...X...", "XXXXX...", "........"};
    int w = 8, h = 4, cnt = 0;
    uint8_t m[32];
    int32_t l[32];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) m[y * w + x] = pic[y][x] == 'X';
    CHECK_OK(nm_label(m, w, h, 1, l, &cnt, &err), err);
    CHECK(cnt == 2);
    CHECK(l[0] == 1 && l[4] == 1 && l[7] == 2);
    /* small-object removal keeps the U (9 px), drops the dot */
    int kept = 0;
    CHECK_OK(nm_remove_small(m, w, h, 1, 3, l, &kept, &err), err);
    CHECK(kept == 1 && m[7] == 0 && m[0] == 1);
  }
  /* relabel compacts 3, 7 -> 1, 2 */
  {
    int32_t l[6] = {0, 7, 7, 3, 0, 3}, map[8];
    CHECK(nm_relabel(l, 6, 7, map) == 2);
    CHECK(l[1] == 1 && l[3] == 2);
  }
  /* untouched: a pixel of one particle next to another particle (4-
  ** neighbours) is outline, next to the background or the border is not */
  {
    int32_t l[12] = {1, 1, 2, 2, /**/ 1, 1, 0, 2, /**/ 0, 1, 1, 0};
    uint8_t m[12];
    nm_label_untouched(l, 4, 3, m);
    const uint8_t want[12] = {1, 0, 0, 1, /**/ 1, 1, 0, 1, /**/ 0, 1, 1, 0};
    CHECK(memcmp(m, want, sizeof want) == 0);
  }
  return check_summary("test_label");
}
