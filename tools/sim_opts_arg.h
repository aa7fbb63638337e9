/*
** sim_opts_arg.h — the -S command-line argument of the CNN tools
** (cnn_model, cnn_eval): "key=value;key=[min,max];..." → simulator options,
** with the same keys and checks as simulate()'s JSON options.
*/
#ifndef NM_TOOLS_SIM_OPTS_ARG_H
#define NM_TOOLS_SIM_OPTS_ARG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/shape.h"

/* "-S key=value;key=[min,max];..." → simulator options (as simulate()'s JSON). */
static int parse_sim_opts(const char *spec, nm_sim_opts *o) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", spec);
  for (char *tok = strtok(buf, ";"); tok; tok = strtok(NULL, ";")) {
    char *eq = strchr(tok, '=');
    nm_error err;
    if (!eq) return fprintf(stderr, "-S: '%s' is not key=value\n", tok), 0;
    *eq = 0;
    const char *v = eq + 1;
    nm_status st = v[0] == '[' ? nm_sim_opts_set(o, tok, 0, v, &err)
                               : nm_sim_opts_set(o, tok, atof(v), NULL, &err);
    if (st != NM_OK) return fprintf(stderr, "-S: %s\n", err.msg), 0;
  }
  return 1;
}

#endif /* NM_TOOLS_SIM_OPTS_ARG_H */
