/*
** register.h — one registration function per binding file. ext/nanomorph.c
** calls them all from sqlite3_nanomorph_init, in this order. Each returns an
** SQLite result code and, on failure, may set *pzErrMsg (sqlite3_malloc'd).
*/
#ifndef NM_REGISTER_H
#define NM_REGISTER_H

#include <sqlite3ext.h>

typedef int (*nm_register_fn)(sqlite3 *db, char **pzErrMsg);

int nm_register_core(sqlite3 *db, char **pzErrMsg);        /* udf/core.c */
int nm_register_micrographs(sqlite3 *db, char **pzErrMsg);  /* vtab/micrographs.c */
int nm_register_segment(sqlite3 *db, char **pzErrMsg);      /* udf/segment.c */
int nm_register_particles(sqlite3 *db, char **pzErrMsg);    /* vtab/particles.c */
int nm_register_shape(sqlite3 *db, char **pzErrMsg);        /* udf/shape.c */
int nm_register_simulate(sqlite3 *db, char **pzErrMsg);     /* vtab/simulate.c */
int nm_register_cnn(sqlite3 *db, char **pzErrMsg);          /* udf/cnn.c */
int nm_register_cnn_params(sqlite3 *db, char **pzErrMsg);   /* vtab/cnn_params.c */
int nm_register_cluster(sqlite3 *db, char **pzErrMsg);      /* udf/cluster.c */
int nm_register_classify(sqlite3 *db, char **pzErrMsg);     /* udf/classify.c */
int nm_register_plot(sqlite3 *db, char **pzErrMsg);         /* udf/plot.c */

/* Function flags: pure functions vs functions that touch the filesystem. */
#define NM_PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define NM_FILES (SQLITE_UTF8 | SQLITE_DIRECTONLY)

#endif /* NM_REGISTER_H */
