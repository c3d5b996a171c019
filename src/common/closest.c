/* The known names closest to an unknown one, for "did you mean" (closest.h). */
#include "common/closest.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int min3(int a, int b, int c)
{
	int m = a < b ? a : b;
	return m < c ? m : c;
}

int drsn__closest_distance(const char *a, size_t na, const char *b, size_t nb)
{
	if (na > DRSN__CLOSEST_LEN || nb > DRSN__CLOSEST_LEN)
		return INT_MAX;
	/* three rows of the table: i-2, i-1, i */
	int r[3][DRSN__CLOSEST_LEN + 1];
	for (size_t j = 0; j <= nb; j++)
		r[0][j] = (int)j;
	for (size_t i = 1; i <= na; i++) {
		int *cur = r[i % 3], *up = r[(i - 1) % 3], *up2 = r[(i - 2) % 3];
		cur[0] = (int)i;
		for (size_t j = 1; j <= nb; j++) {
			int ca = lower((unsigned char)a[i - 1]), cb = lower((unsigned char)b[j - 1]);
			int d = min3(up[j] + 1, cur[j - 1] + 1, up[j - 1] + (ca != cb));
			if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) &&
			    lower((unsigned char)a[i - 2]) == cb && up2[j - 2] + 1 < d)
				d = up2[j - 2] + 1;
			cur[j] = d;
		}
	}
	return r[na % 3][nb];
}

void drsn__closest_init_n(struct drsn__closest *c, const char *name, size_t n)
{
	memset(c, 0, sizeof *c);
	c->name = name;
	c->name_len = n;
	c->dist = INT_MAX;
}

void drsn__closest_init(struct drsn__closest *c, const char *name)
{
	drsn__closest_init_n(c, name, strlen(name));
}

void drsn__closest_add_n(struct drsn__closest *c, const char *cand, size_t n)
{
	size_t len = c->name_len;
	int d = drsn__closest_distance(c->name, len, cand, n);
	int limit = len < 6 ? 1 : (int)(len / 3);
	if (limit > 2)
		limit = 2;
	if (d > limit || d > c->dist)
		return;
	if (d < c->dist) {
		c->dist = d;
		c->n_best = 0;
	}
	for (int i = 0; i < c->n_best; i++)   /* a name listed twice counts once */
		if (c->best_len[i] == n && !memcmp(c->best[i], cand, n))
			return;
	if (c->n_best < DRSN__CLOSEST_MAX) {
		c->best[c->n_best] = cand;
		c->best_len[c->n_best++] = n;
	}
}

void drsn__closest_add(struct drsn__closest *c, const char *cand)
{
	drsn__closest_add_n(c, cand, strlen(cand));
}

void drsn__closest_add_list(struct drsn__closest *c, const char *list)
{
	for (const char *p = list; *p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n)
			drsn__closest_add_n(c, p, n);
		p += n;
	}
}

void drsn__closest_option(struct drsn__closest *c, const char *arg, const struct option *opts)
{
	arg += strspn(arg, "-");
	drsn__closest_init_n(c, arg, strcspn(arg, "="));
	for (; opts && opts->name; opts++)
		drsn__closest_add(c, opts->name);
}

const char *drsn__closest_hint(struct drsn__closest *c, const char *prefix)
{
	size_t used = 0;
	c->hint[0] = 0;
	for (int i = 0; i < c->n_best; i++) {
		const char *sep = i == 0 ? "; did you mean " : i == c->n_best - 1 ? " or " : ", ";
		int w = snprintf(c->hint + used, sizeof c->hint - used, "%s'%s%.*s'%s", sep, prefix,
				 (int)c->best_len[i], c->best[i], i == c->n_best - 1 ? "?" : "");
		if (w < 0 || (size_t)w >= sizeof c->hint - used) {   /* a long prefix: no hint */
			c->hint[0] = 0;
			break;
		}
		used += (size_t)w;
	}
	return c->hint;
}
