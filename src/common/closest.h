/* "did you mean 'threshold'?" for a name that is not known (closest.c): the
 * known names closest to it by Damerau-Levenshtein distance (optimal string
 * alignment, ASCII case ignored), when close enough to be a typo: at most 2
 * edits and at most a third of the name's length (1 for names shorter than
 * 6). Several equally close: all of them (the first DRSN__CLOSEST_MAX, in the
 * order given). No allocation; the candidates must outlive the struct.
 * Use: drsn__closest_init(&c, name); drsn__closest_add(&c, known) for each
 * known name (or drsn__closest_add_list with "a, b, c"); then
 * drsn__closest_hint(&c, "") to append to a message. In the plugins' helper
 * library too (plugin_helper_src). */
#ifndef DRSN_SRC_COMMON_CLOSEST_H
#define DRSN_SRC_COMMON_CLOSEST_H

#include <stddef.h>

#define DRSN__CLOSEST_MAX 4
#define DRSN__CLOSEST_LEN 64   /* longer names and candidates get no hint */

struct drsn__closest {
	const char *name;
	size_t name_len;
	const char *best[DRSN__CLOSEST_MAX];
	size_t best_len[DRSN__CLOSEST_MAX];
	int n_best, dist;
	char hint[DRSN__CLOSEST_MAX * (DRSN__CLOSEST_LEN + 8) + 24];
};

/* The distance between a and b (at most DRSN__CLOSEST_LEN bytes each, else
 * INT_MAX), ASCII case ignored: insertions, deletions, substitutions and
 * transpositions of two neighbours, 1 each. */
int drsn__closest_distance(const char *a, size_t na, const char *b, size_t nb);

void drsn__closest_init(struct drsn__closest *c, const char *name);
void drsn__closest_init_n(struct drsn__closest *c, const char *name, size_t n);
/* A known name: its first n bytes (n = strlen for the whole string) */
void drsn__closest_add_n(struct drsn__closest *c, const char *cand, size_t n);
void drsn__closest_add(struct drsn__closest *c, const char *cand);
/* Each name of a list "a, b, c" (separated by ',' and blanks) */
void drsn__closest_add_list(struct drsn__closest *c, const char *list);
/* For getopt_long's unknown option arg ("--name" or "--name=VALUE"): init
 * with its name, then add the names of opts (up to the all-zero entry).
 * Give the hint "--" as its prefix. */
struct option;
void drsn__closest_option(struct drsn__closest *c, const char *arg, const struct option *opts);
/* "; did you mean 'x'?", "; did you mean 'x' or 'y'?", "; did you mean 'x',
 * 'y' or 'z'?" (each name after prefix, e.g. "--"), or "" when no known name
 * is close. Valid until the next call on c. */
const char *drsn__closest_hint(struct drsn__closest *c, const char *prefix);

#endif
