/* A model's label as list text (label.h). */
#include "common/label.h"

#include <string.h>

size_t drsn__label_text(const char *label, char *out, size_t n)
{
	const int quote = strpbrk(label, " ,\"\\") != NULL;
	size_t k = 0;
	/* room for an escape, a character and the closing quote */
	if (quote && k + 1 < n)
		out[k++] = '"';
	for (const char *s = label; *s && k + 2 + (size_t)quote < n; s++) {
		if (quote && (*s == '"' || *s == '\\'))
			out[k++] = '\\';
		out[k++] = *s;
	}
	if (quote && k + 1 < n)
		out[k++] = '"';
	out[k] = '\0';
	return k;
}
