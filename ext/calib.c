/*
** calib.c — pixel sizes in nm from the units microscope files use.
*/
#include "calib.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void nm_calib_unknown(nm_calib *c, const char *reason) {
  memset(c, 0, sizeof *c);
  c->nm_per_px_x = NAN;
  c->nm_per_px_y = NAN;
  c->mode = NM_MODE_IMAGE;
  snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "no calibration in the file");
}

/* Unit spellings seen in DM, SER/EMI, EMD, MRC and TIFF metadata. */
static const struct {
  const char *name;
  double to_nm;
} units[] = {
    {"nm", 1.0},         {"nanometer", 1.0}, {"nanometers", 1.0},
    {"pm", 1e-3},        {"a", 0.1},         {"\xc3\x85", 0.1} /* Å */,
    {"\xe2\x84\xab", 0.1} /* Å (angstrom sign) */, {"angstrom", 0.1},
    {"um", 1e3},         {"\xc2\xb5m", 1e3} /* µm micro sign */,
    {"\xce\xbcm", 1e3} /* μm greek mu */, {"micron", 1e3}, {"microns", 1e3},
    {"micrometer", 1e3}, {"mm", 1e6},       {"m", 1e9},
    {"meter", 1e9},      {"meters", 1e9},   {"cm", 1e7},
};

static double lookup(const char *unit) {
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcasecmp(unit, units[i].name) == 0) return units[i].to_nm;
  return 0.0;
}

double nm_unit_to_nm(const char *unit) {
  if (!unit) return 0.0;
  while (*unit == ' ') unit++;
  char u[32];
  snprintf(u, sizeof u, "%s", unit);
  size_t len = strlen(u);
  while (len && (u[len - 1] == ' ' || u[len - 1] == '\0')) u[--len] = 0;
  if (!len) return 0.0;
  /* Reciprocal: "1/nm", "nm^-1", "1/m". */
  if (strncmp(u, "1/", 2) == 0) return lookup(u + 2) > 0 ? -1.0 : 0.0;
  if (len > 3 && strcmp(u + len - 3, "^-1") == 0) {
    u[len - 3] = 0;
    return lookup(u) > 0 ? -1.0 : 0.0;
  }
  return lookup(u);
}

int nm_calib_set(nm_calib *c, double value_x, double value_y, const char *unit,
                 const char *source) {
  double k = nm_unit_to_nm(unit);
  if (k == 0.0) {
    nm_calib_unknown(c, NULL);
    snprintf(c->reason, sizeof c->reason, "unknown length unit '%s'", unit ? unit : "");
    return -1;
  }
  if (k < 0) {
    nm_calib_unknown(c, NULL);
    c->mode = NM_MODE_DIFFRACTION;
    snprintf(c->source, sizeof c->source, "%s", source ? source : "");
    snprintf(c->reason, sizeof c->reason,
             "diffraction pattern (reciprocal unit '%s'): no real-space pixel size", unit);
    return 0;
  }
  if (!(value_x > 0) || !(value_y > 0) || !isfinite(value_x) || !isfinite(value_y)) {
    nm_calib_unknown(c, "pixel size in the file is zero, negative or not a number");
    return -1;
  }
  memset(c, 0, sizeof *c);
  c->nm_per_px_x = value_x * k;
  c->nm_per_px_y = value_y * k;
  c->mode = NM_MODE_IMAGE;
  snprintf(c->source, sizeof c->source, "%s", source ? source : "");
  return 0;
}

int nm_calib_known(const nm_calib *c) {
  return c->mode == NM_MODE_IMAGE && isfinite(c->nm_per_px_x) && isfinite(c->nm_per_px_y) &&
         c->nm_per_px_x > 0 && c->nm_per_px_y > 0;
}
