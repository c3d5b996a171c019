#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

/* The character at s[0..n): its length (1..4) if it is valid, else minus the
 * length of its maximal subpart (the bytes that start a valid sequence but
 * do not complete one; at least 1). Unicode's Table 3-7. */
static int next_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	int need;
	unsigned char lo = 0x80, hi = 0xbf;   /* range of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;        /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;        /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;        /* no overlong forms */
		else if (c == 0xf4)
			hi = 0x8f;        /* nothing above U+10FFFF */
	} else {
		return -1;                /* 80..C1, F5..FF: never a lead byte */
	}
	for (int i = 1; i < need; i++) {
		if ((size_t)i >= n)
			return -i;
		unsigned char b = s[i];
		if (i == 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf)
			return -i;
	}
	return need;
}

size_t drsn__utf8_check(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		int k = next_char(u + i, n - i);
		if (k < 0)
			return i;
		i += (size_t)k;
	}
	return n;
}

int drsn__utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n < max)
		return (int)n;    /* all of s fits */
	/* s[max] exists (it may be the NUL): cut before the character that
	 * byte is inside of */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

char *drsn__utf8_fix(const char *s, size_t n, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	/* at worst every byte becomes 3 */
	if (n > (((size_t)-1) - 1) / 3)
		return NULL;
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		int k = u[i] < 0x80 ? 1 : next_char(u + i, n - i);
		if (k > 0) {
			memcpy(out + o, s + i, (size_t)k);
			o += (size_t)k;
			i += (size_t)k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += (size_t)-k;
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

cJSON *drsn__utf8_add_string(cJSON *obj, const char *name, const char *s)
{
	size_t n = strlen(s);
	if (drsn__utf8_check(s, n) == n)
		return cJSON_AddStringToObject(obj, name, s);
	char *fixed = drsn__utf8_fix(s, n, NULL);
	if (!fixed)
		return NULL;
	cJSON *item = cJSON_AddStringToObject(obj, name, fixed);
	free(fixed);
	return item;
}
