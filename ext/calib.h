/*
** calib.h — the calibration model: how big one pixel is, per axis, in nm,
** whether the image is real space or a diffraction pattern, and which tag or
** rule gave the number.
**
** Unknown sizes are NAN with a reason; a wrong size is worse than none.
*/
#ifndef NM_CALIB_H
#define NM_CALIB_H

typedef enum nm_calib_mode {
  NM_MODE_IMAGE = 0,      /* real-space micrograph */
  NM_MODE_DIFFRACTION = 1 /* reciprocal units: no nm size */
} nm_calib_mode;

typedef struct nm_calib {
  double nm_per_px_x;   /* NAN when unknown */
  double nm_per_px_y;   /* NAN when unknown */
  nm_calib_mode mode;
  char source[32];      /* "dm", "ser+emi", "emd", "mrc", "tiff:fei", "tiff:zeiss",
                           "tiff:imagej", "tiff:resolution", "scale_bar", "user", ... ;
                           "" when unknown */
  char reason[160];     /* why the size is unknown, "" when known */
  int databar_rows;     /* rows of a vendor data bar cropped off the bottom (0 if none) */
  char databar_rule[64];/* how the bar was found, e.g. "FEI [Image] ResolutionY";
                           "" when databar_rows is 0 */
  double inv_nm_per_px_x; /* diffraction only: reciprocal pixel size in 1/nm, else NAN */
  double inv_nm_per_px_y;
} nm_calib;

/* Unknown calibration, mode image, with the given reason (may be NULL). */
void nm_calib_unknown(nm_calib *c, const char *reason);

/* Sets both axes from a value and a unit string as seen in files
** ("nm", "pm", "A", "Å", "um", "µm", "micron", "mm", "m", "1/nm", "1/m", ...).
** Reciprocal units set mode = diffraction and leave the sizes NAN with a reason
** that states the reciprocal size; inv_nm_per_px_x/y then hold it in 1/nm.
** Units are matched case-insensitively after trimming blanks; the micro sign
** may be UTF-8 U+00B5, U+03BC or a lone Latin-1 0xB5 byte (DM-exported TIFFs).
** Returns 0 when the unit was understood, -1 otherwise (calibration unknown). */
int nm_calib_set(nm_calib *c, double value_x, double value_y, const char *unit,
                 const char *source);

/* Multiplier that turns a length in `unit` into nm; 0 for an unknown unit,
** a negative value for a reciprocal unit (-k where k is the multiplier of
** the unit under the "1/"). */
double nm_unit_to_nm(const char *unit);

/* 1 when both axes are known finite positive sizes. */
int nm_calib_known(const nm_calib *c);

#endif /* NM_CALIB_H */
