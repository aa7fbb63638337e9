/*
** test_calib.c — the calibration model: every unit spelling microscope files
** use, reciprocal units as diffraction (never a size), bad values.
*/
#include <math.h>
#include <string.h>

#include "../../ext/calib.h"
#include "check.h"

static void units(void) {
  struct {
    const char *unit;
    double nm;
  } cases[] = {
      {"nm", 1},           {"NM", 1},           {" nm ", 1},          {"nanometer", 1},
      {"pm", 1e-3},        {"A", 0.1},          {"a", 0.1},           {"\xc3\x85", 0.1},
      {"\xe2\x84\xab", 0.1}, {"angstrom", 0.1}, {"um", 1e3},          {"\xc2\xb5m", 1e3},
      {"\xce\xbcm", 1e3},  {"\xb5m", 1e3},      {"micron", 1e3},      {"microns", 1e3},
      {"micrometer", 1e3}, {"mm", 1e6},         {"cm", 1e7},          {"m", 1e9},
      {"meter", 1e9},      {"m\r\n", 1e9},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double k = nm_unit_to_nm(cases[i].unit);
    CHECK_NEAR(k, cases[i].nm, 1e-12 * cases[i].nm);
    if (fabs(k - cases[i].nm) > 1e-12 * cases[i].nm) fprintf(stderr, "  unit '%s'\n", cases[i].unit);
  }
  CHECK(nm_unit_to_nm("") == 0);
  CHECK(nm_unit_to_nm(NULL) == 0);
  CHECK(nm_unit_to_nm("px") == 0);
  CHECK(nm_unit_to_nm("pixel") == 0);
  CHECK(nm_unit_to_nm("inch") == 0); /* dpi is never a calibration */
  CHECK(nm_unit_to_nm("a very long unit name that overflows any buffer we have") == 0);
  /* reciprocal */
  CHECK_NEAR(nm_unit_to_nm("1/nm"), -1, 0);
  CHECK_NEAR(nm_unit_to_nm("1 / nm"), -1, 0);
  CHECK_NEAR(nm_unit_to_nm("1/m"), -1e9, 0);
  CHECK_NEAR(nm_unit_to_nm("nm^-1"), -1, 0);
  CHECK_NEAR(nm_unit_to_nm("1/\xc3\x85"), -0.1, 1e-15);
  CHECK(nm_unit_to_nm("1/furlong") == 0);
}

static void set_length(void) {
  nm_calib c;
  CHECK(nm_calib_set(&c, 0.1686747, 0.1686747, "\xc2\xb5m", "tiff:dm") == 0);
  CHECK(nm_calib_known(&c));
  CHECK_NEAR(c.nm_per_px_x, 168.6747, 1e-9);
  CHECK(!strcmp(c.source, "tiff:dm"));
  CHECK(c.reason[0] == 0);
  CHECK(isnan(c.inv_nm_per_px_x));
  /* per-axis values with one unit */
  CHECK(nm_calib_set(&c, 1.0, 2.0, "\xc3\x85", "dm") == 0);
  CHECK_NEAR(c.nm_per_px_x, 0.1, 1e-15);
  CHECK_NEAR(c.nm_per_px_y, 0.2, 1e-15);
  /* metres, as FEI and Olympus store them */
  CHECK(nm_calib_set(&c, 3.3724e-6, 3.3724e-6, "m", "tiff:fei") == 0);
  CHECK_NEAR(c.nm_per_px_x, 3372.4, 1e-9);
}

static void set_reciprocal(void) {
  nm_calib c;
  CHECK(nm_calib_set(&c, 114429680.2, 114429680.2, "1/m", "emd") == 0);
  CHECK(c.mode == NM_MODE_DIFFRACTION);
  CHECK(!nm_calib_known(&c));
  CHECK(isnan(c.nm_per_px_x) && isnan(c.nm_per_px_y));
  CHECK_NEAR(c.inv_nm_per_px_x, 0.1144296802, 1e-10);
  CHECK(strstr(c.reason, "diffraction") != NULL);
  CHECK(!strcmp(c.source, "emd"));
  CHECK(nm_calib_set(&c, 0.174433, 0.174433, "1/nm", "dm") == 0);
  CHECK(c.mode == NM_MODE_DIFFRACTION);
  CHECK_NEAR(c.inv_nm_per_px_y, 0.174433, 1e-12);
  /* a reciprocal unit with a bad value is still diffraction, never a size */
  CHECK(nm_calib_set(&c, 0, 0, "1/nm", "dm") == 0);
  CHECK(c.mode == NM_MODE_DIFFRACTION && isnan(c.nm_per_px_x) && isnan(c.inv_nm_per_px_x));
}

static void set_bad(void) {
  nm_calib c;
  CHECK(nm_calib_set(&c, 1.0, 1.0, "px", "x") == -1);
  CHECK(!nm_calib_known(&c) && c.reason[0] && c.source[0] == 0);
  CHECK(strstr(c.reason, "px") != NULL);
  CHECK(nm_calib_set(&c, 0.0, 1.0, "nm", "x") == -1);
  CHECK(!nm_calib_known(&c));
  CHECK(nm_calib_set(&c, -1.0, -1.0, "nm", "x") == -1);
  CHECK(nm_calib_set(&c, NAN, 1.0, "nm", "x") == -1);
  CHECK(nm_calib_set(&c, INFINITY, 1.0, "nm", "x") == -1);
  CHECK(!nm_calib_known(&c));
  nm_calib_unknown(&c, NULL);
  CHECK(isnan(c.nm_per_px_x) && c.mode == NM_MODE_IMAGE && c.reason[0] && c.databar_rows == 0);
  nm_calib_unknown(&c, "because");
  CHECK(!strcmp(c.reason, "because"));
}

int main(void) {
  units();
  set_length();
  set_reciprocal();
  set_bad();
  return check_summary("test_calib");
}
