/*
 * UTF-8 for text that goes into JSON. drsnd's protocol and the CLI's JSON
 * lines promise UTF-8, but file names, a client's bytes or a config value
 * need not be: check them, or replace what is not UTF-8 with U+FFFD.
 *
 * Valid means well-formed per Unicode (RFC 3629): no overlong forms, no
 * surrogates (U+D800..DFFF), nothing above U+10FFFF. A bad stretch is
 * replaced the way Unicode recommends (and Python's errors="replace" does):
 * one U+FFFD per maximal subpart, so a character cut short is one U+FFFD and
 * a stray byte is one U+FFFD.
 */
#ifndef DRSN_COMMON_UTF8_H
#define DRSN_COMMON_UTF8_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Offset of the first byte of s[0..n) that is not part of valid UTF-8, or n
 * if all of it is valid. */
size_t drsn__utf8_check(const char *s, size_t n);

/* The longest prefix of the valid UTF-8 string s that is at most max bytes
 * and does not end inside a character (for "%.*s"). */
int drsn__utf8_prefix(const char *s, size_t max);

/* A malloc'd, NUL-terminated copy of s[0..n) with every invalid stretch
 * replaced by U+FFFD (EF BF BD); *out_len (if not NULL) gets its length.
 * NULL on ENOMEM. */
char *drsn__utf8_fix(const char *s, size_t n, size_t *out_len);

/* cJSON_AddStringToObject(obj, name, s) with s made valid UTF-8 first:
 * file names and messages that name files go into JSON through this. The
 * added item, or NULL on ENOMEM. */
cJSON *drsn__utf8_add_string(cJSON *obj, const char *name, const char *s);

#endif
