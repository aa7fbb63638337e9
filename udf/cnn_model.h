/*
** cnn_model.h — how the CNN bindings (udf/cnn.c, vtab/cnn_params.c) turn a
** model argument into a loaded network: a model BLOB, the name of a row in
** nanomorph_models (kind 'cnn'), or, with no argument, the built-in default
** weights (decoded once per process and shared read-only).
*/
#ifndef NM_UDF_CNN_MODEL_H
#define NM_UDF_CNN_MODEL_H

#include "../ext/cnn.h"
#include "bind.h"

/* arg NULL (no argument given) → the default model, *owned = 0 (never free
** it). Otherwise a freshly loaded model, *owned = 1 (nm_cnn_free it). */
nm_status nm_cnn_bind_model(sqlite3 *db, sqlite3_value *arg, const char *fname,
                            nm_cnn **net, int *owned, nm_error *err);

/* Decodes a crop PNG BLOB into size*size floats in [0,1]. NULL → NM_ERR_ARG
** "crop is NULL"; a crop of another size → an error naming both sizes. */
nm_status nm_cnn_bind_crop(sqlite3_value *arg, int size, float *out, nm_error *err);

#endif /* NM_UDF_CNN_MODEL_H */
