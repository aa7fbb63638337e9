/*
** fuzz_options.c — libFuzzer target for every engine option setter: the
** functions the SQL layer calls once per key of an options JSON object
** (udf/bind.c nm_bind_options). The engine is called directly, no SQLite.
**
** Input: lines "key=value". The value is handed over the way nm_bind_options
** hands over a JSON value: `"text"` → text; true / false → 1 / 0; an array or
** object (starts with [ or {) → its text; anything strtod reads whole (nan
** and inf included, which JSON cannot carry but the setters must survive) →
** a number with text NULL; anything else → text as is.
** Every pair goes to every setter: nm_segment_opts_set,
** nm_micrograph_opts_set, nm_particles_opts_set (with and without `labels`
** allowed), nm_fit_opts_set, nm_sim_opts_set and nm_plot_opt_set for each
** figure kind. Properties: each call either accepts or fails with NM_ERR_ARG
** (or NOMEM) and a message; the fit and simulation options stay consistent
** after any sequence of calls (their *_check passes); a plot setter accepts
** only keys without spaces (one word of its key list).
** tests/fuzz/options.dict holds every key.
*/
#include "fuzz_util.h"

#include <math.h>

#include "../../ext/fit.h"
#include "../../ext/micrograph.h"
#include "../../ext/particles.h"
#include "../../ext/plot.h"
#include "../../ext/segment.h"
#include "../../ext/shape.h"

#define MAX_LINE 4096

static void expect(nm_status st, const nm_error *err) {
  if (st == NM_OK) return;
  FUZZ_REQUIRE(err->msg[0] != 0);
  FUZZ_REQUIRE(st == NM_ERR_ARG || st == NM_ERR_NOMEM);
  FUZZ_REQUIRE(err->code == st);
}

static void set_all(const char *key, double num, const char *text, nm_segment_opts *seg,
                    nm_micrograph_opts *mg, nm_particles_opts *po[2], nm_fit_opts *fo,
                    nm_sim_opts *so, nm_plot_opts *plot) {
  nm_error err;
  nm_status st;
#define CALL(expr)                \
  do {                            \
    memset(&err, 0, sizeof err);  \
    st = (expr);                  \
    expect(st, &err);             \
  } while (0)
  CALL(nm_segment_opts_set(seg, key, num, text, &err));
  CALL(nm_micrograph_opts_set(mg, key, num, text, &err));
  for (int i = 0; i < 2; i++) CALL(nm_particles_opts_set(po[i], key, num, text, &err));
  CALL(nm_fit_opts_set(fo, key, num, text, &err));
  FUZZ_REQUIRE(nm_fit_opts_check(fo, &err) == NM_OK);
  CALL(nm_sim_opts_set(so, key, num, text, &err));
  FUZZ_REQUIRE(nm_sim_opts_check(so, &err) == NM_OK);
  for (int k = 0; k < NM_PLOT_KIND_COUNT; k++) {
    CALL(nm_plot_opt_set(&plot[k], key, num, text, &err));
    if (st == NM_OK) FUZZ_REQUIRE(key[0] && !strchr(key, ' '));
  }
#undef CALL
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nm_segment_opts *seg = nm_segment_opts_new();
  nm_particles_opts *po[2] = {nm_particles_opts_new(), nm_particles_opts_new()};
  FUZZ_REQUIRE(seg && po[0] && po[1]);
  nm_particles_opts_allow_labels(po[1], 0);
  nm_micrograph_opts mg;
  nm_micrograph_opts_default(&mg);
  nm_fit_opts fo;
  nm_fit_opts_default(&fo);
  nm_sim_opts so;
  nm_sim_opts_default(&so);
  nm_error err = {0};
  FUZZ_REQUIRE(nm_fit_opts_check(&fo, &err) == NM_OK && nm_sim_opts_check(&so, &err) == NM_OK);
  nm_plot_opts plot[NM_PLOT_KIND_COUNT];
  for (int k = 0; k < NM_PLOT_KIND_COUNT; k++) nm_plot_opts_init(&plot[k], (nm_plot_kind)k);

  char line[MAX_LINE + 1];
  size_t pos = 0;
  int pairs = 0;
  while (pos < size && pairs < 64) {
    size_t end = pos;
    while (end < size && data[end] != '\n') end++;
    size_t len = end - pos < MAX_LINE ? end - pos : MAX_LINE;
    memcpy(line, data + pos, len);
    line[len] = 0;
    pos = end + 1;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    const char *key = line, *val = eq + 1;
    double num = NAN;
    const char *text = NULL;
    char *endp = NULL;
    size_t vl = strlen(val);
    if (val[0] == '"') {
      text = val + 1;
      if (vl >= 2 && val[vl - 1] == '"') ((char *)val)[vl - 1] = 0;
    } else if (!strcmp(val, "true") || !strcmp(val, "false")) {
      num = val[0] == 't';
    } else if (val[0] == '[' || val[0] == '{') {
      text = val;
    } else if (val[0] && (num = strtod(val, &endp), endp && *endp == 0)) {
      /* a number */
    } else {
      num = NAN;
      text = val;
    }
    set_all(key, num, text, seg, &mg, po, &fo, &so, plot);
    pairs++;
  }

  nm_segment_opts_free(seg);
  nm_particles_opts_free(po[0]);
  nm_particles_opts_free(po[1]);
  for (int k = 0; k < NM_PLOT_KIND_COUNT; k++) nm_plot_opts_free(&plot[k]);
  return 0;
}

static void write_seeds(void) {
  static const char *const seeds[] = {
      "polarity=\"dark\"\nthreshold=\"local\"\nflatten=\"tophat\"\nscale_px=12\n"
      "denoise=0.1\nsplit=false\nmin_area_px=20\n",
      "frame=2\npage=0\nmax_pixels=1000000\nnm_per_px=0.25\nscale_bar=false\n"
      "labels=\"labels.png\"\n",
      "start=[4, 2, 1.5]\np=[2, 8]\nd=[1, 3]\nlratio=2\nrestarts=3\ngrid_starts=1\n"
      "max_evals=50\nseed=9\n",
      "p=[3, 6]\nd=2\nlratio=[1, 2]\nphi=[0, 90]\nfill=[0.5, 0.9]\nframe=[40, 60]\n"
      "contrast=[0.2, 0.5]\ndose=[50, 500]\nblur=0.8\ncorner_a=0.5\ncorner_g=-1\n"
      "noise=true\nsize=64\n",
      "width=800\nheight=600\ndpi=150\nfont_size=12\ntitle=\"sizes\"\nxlabel=\"p\"\n"
      "ylabel=\"count\"\nzlabel=\"z\"\nlegend=false\nbins=20\nfit=true\nalpha=0.5\n"
      "azimuth=-30\nelevation=20\npoint_size=4\n",
      "names=[\"p\", \"d\", \"Lratio\"]\nmax_components=3\nleaves=20\nk=4\nlinkage=\"average\"\n"
      "standardize=true\nnormalize=true\ncell=32\nper_group=10\ncolumns=8\ninvert=true\n"
      "line_width=2\nfill=false\nlabels=true\n",
      "names=a, b ,c\nstretch_low=1\nstretch_high=99\nmedian=0.2\nbackground=3\n"
      "local_radius=2\nlocal_offset=-0.1\nthreshold_bias=1.2\nh=0.5\nerode=0.2\n"
      "min_area=0.5\nfill_holes=true\nexclude_edge=false\nexclude_scale_bar=true\n",
  };
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "options-%zu.txt", i);
    fuzz_write_seed(name, seeds[i], strlen(seeds[i]));
  }
}

NM_FUZZ_INIT(write_seeds)
