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
  c->inv_nm_per_px_x = NAN;
  c->inv_nm_per_px_y = NAN;
  c->mode = NM_MODE_IMAGE;
  snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "no calibration in the file");
}

/* Unit spellings seen in DM, SER/EMI, EMD, MRC and TIFF metadata. */
static const struct {
  const char *name;
  double to_nm;
} units[] = {
    {"nm", 1.0},         {"nanometer", 1.0}, {"nanometers", 1.0}, {"nanometre", 1.0},
    {"pm", 1e-3},        {"picometer", 1e-3},
    {"a", 0.1},          {"\xc3\x85", 0.1} /* Å latin capital A with ring */,
    {"\xe2\x84\xab", 0.1} /* Å angstrom sign */, {"angstrom", 0.1}, {"angstroms", 0.1},
    {"um", 1e3},         {"\xc2\xb5m", 1e3} /* µm micro sign */,
    {"\xce\xbcm", 1e3} /* μm greek mu */, {"\xb5m", 1e3} /* Latin-1 micro sign */,
    {"micron", 1e3},     {"microns", 1e3},  {"micrometer", 1e3}, {"micrometre", 1e3},
    {"mm", 1e6},         {"millimeter", 1e6},
    {"cm", 1e7},         {"m", 1e9},        {"meter", 1e9},      {"meters", 1e9},
    {"metre", 1e9},
};

static double lookup(const char *unit) {
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcasecmp(unit, units[i].name) == 0) return units[i].to_nm;
  return 0.0;
}

static int blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

double nm_unit_to_nm(const char *unit) {
  if (!unit) return 0.0;
  while (blank(*unit)) unit++;
  char u[32];
  size_t len = strlen(unit);
  if (len >= sizeof u) return 0.0;
  memcpy(u, unit, len + 1);
  while (len && blank(u[len - 1])) u[--len] = 0;
  if (!len) return 0.0;
  /* Reciprocal: "1/nm", "1 / nm", "nm^-1", "1/m". */
  if (u[0] == '1') {
    char *p = u + 1;
    while (blank(*p)) p++;
    if (*p == '/') {
      p++;
      while (blank(*p)) p++;
      double k = lookup(p);
      return k > 0 ? -k : 0.0;
    }
  }
  if (len > 3 && strcmp(u + len - 3, "^-1") == 0) {
    u[len - 3] = 0;
    double k = lookup(u);
    return k > 0 ? -k : 0.0;
  }
  return lookup(u);
}

int nm_calib_set(nm_calib *c, double value_x, double value_y, const char *unit,
                 const char *source) {
  double k = nm_unit_to_nm(unit);
  if (k == 0.0) {
    nm_calib_unknown(c, NULL);
    snprintf(c->reason, sizeof c->reason, "unknown length unit '%.40s'", unit ? unit : "");
    return -1;
  }
  int valid = value_x > 0 && value_y > 0 && isfinite(value_x) && isfinite(value_y);
  if (k < 0) {
    /* value per 1/U: in 1/nm it is value / (nm per U). */
    nm_calib_unknown(c, NULL);
    c->mode = NM_MODE_DIFFRACTION;
    snprintf(c->source, sizeof c->source, "%s", source ? source : "");
    if (valid) {
      c->inv_nm_per_px_x = value_x / -k;
      c->inv_nm_per_px_y = value_y / -k;
      snprintf(c->reason, sizeof c->reason,
               "diffraction pattern (%.6g 1/nm per pixel): no real-space pixel size",
               c->inv_nm_per_px_x);
    } else {
      snprintf(c->reason, sizeof c->reason,
               "diffraction pattern (reciprocal unit '%.40s'): no real-space pixel size", unit);
    }
    return 0;
  }
  if (!valid) {
    nm_calib_unknown(c, "pixel size in the file is zero, negative or not a number");
    return -1;
  }
  nm_calib_unknown(c, NULL);
  c->reason[0] = 0;
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
