/*
** formats/emd_parse.h — the EMD parser without its child process.
**
** nm_read_emd (reader.h) runs libhdf5 in a fork()ed child, because libhdf5
** 1.10 can crash on a hostile file (docs/reliability.md, finding 5). This is
** the same parser run in the calling process, and the forking reader with
** the child's wait status. Only the fuzz target uses them: libFuzzer sees
** coverage only in its own process, and a sanitizer report in the child
** (exit status 1) must not pass for a libhdf5 crash (a signal). Never call
** nm_read_emd_inprocess on untrusted bytes in a process that must survive.
*/
#ifndef NM_FORMATS_EMD_PARSE_H
#define NM_FORMATS_EMD_PARSE_H

#include "reader.h"

nm_status nm_read_emd_inprocess(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                                nm_error *err);

/* nm_read_emd, also giving the child's waitpid() status (-1 when unknown:
** the host reaps children itself, or the child was not started). */
nm_status nm_read_emd_forked(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                             nm_error *err, int *child_status);

/* What nm_read_emd uses: the helper process when it can start (see emd.c:
** a re-executed small copy of the host that forks one worker per file),
** else a fork() of the calling process. child_status is the worker's
** waitpid() status in both cases (-1 when unknown). */
nm_status nm_read_emd_isolated(const nm_source *src, const nm_read_opts *opts, nm_image *out,
                               nm_error *err, int *child_status);

/* Tests and benchmarks: AUTO (default) uses the helper when it can start,
** FORK always forks the calling process. */
enum { NM_EMD_ISOLATION_AUTO = 0, NM_EMD_ISOLATION_FORK = 1 };
void nm_emd_set_isolation(int mode);

/* The helper's pid while it runs for this process, else 0. */
int nm_emd_helper_pid(void);

#endif /* NM_FORMATS_EMD_PARSE_H */
