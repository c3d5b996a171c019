#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/test_files.h"

char *drsn__test_slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		fail_msg("%s: cannot open", p);
	char *b = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 65536;
			b = realloc(b, cap);
			assert_non_null(b);
		}
		size_t k = fread(b + *n, 1, cap - *n, f);
		if (k == 0)
			break;
		*n += k;
	}
	fclose(f);
	return b;
}

void drsn__test_assert_file_is(const char *p, const char *bytes, size_t n)
{
	size_t m;
	char *b = drsn__test_slurp(p, &m);
	if (m != n || memcmp(b, bytes, n))
		fail_msg("%s changed: %zu bytes, was %zu", p, m, n);
	free(b);
}

void drsn__test_assert_folder_holds(const char *d, const char *names)
{
	struct dirent **e;
	int n = scandir(d, &e, NULL, alphasort);
	assert_true(n >= 0);
	char got[1024] = "";
	for (int i = 0; i < n; i++) {
		size_t k = strlen(got);
		if (strcmp(e[i]->d_name, ".") && strcmp(e[i]->d_name, ".."))
			snprintf(got + k, sizeof got - k, "%s%s", k ? " " : "", e[i]->d_name);
		free(e[i]);
	}
	free(e);
	if (strcmp(got, names))
		fail_msg("%s holds '%s', expected '%s'", d, got, names);
}
