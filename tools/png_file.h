/*
** png_file.h — writes 8-bit grey or RGB samples to a PNG file with the
** engine's nm_png_encode, for tools that dump crops to look at. Returns 0,
** or -1 when encoding, opening or writing failed (nothing is reported: a
** dump is a side product of a tool's run).
*/
#ifndef NM_TOOLS_PNG_FILE_H
#define NM_TOOLS_PNG_FILE_H

#include <stdio.h>
#include <stdlib.h>

#include "../ext/image.h"

static inline int png_file_write(const char *path, const unsigned char *samples, int width,
                                 int height, int channels) {
  unsigned char *png = NULL;
  size_t size = 0;
  nm_error err;
  FILE *f = nm_png_encode(samples, width, height, 8, channels, &png, &size, &err) == NM_OK
                ? fopen(path, "wb")
                : NULL;
  int written = f && fwrite(png, 1, size, f) == size;
  if (f && fclose(f) != 0) written = 0;
  free(png);
  return written ? 0 : -1;
}

#endif /* NM_TOOLS_PNG_FILE_H */
