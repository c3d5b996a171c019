/* A model's label as list text (label.h). */
#include "common/label.h"

#include <ctype.h>
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

void drsn__label_put_quoted(FILE *f, const char *s, int quote)
{
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void drsn__label_put_conf_key(FILE *f, const char *k)
{
	size_t n = strlen(k);
	drsn__label_put_quoted(f, k, !n || strpbrk(k, "=:;") || strchr("\"[#", k[0]) ||
				     isspace((unsigned char)k[0]) || isspace((unsigned char)k[n - 1]));
}
