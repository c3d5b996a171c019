/*
 * A model's label in a list that people read (drsn info, drsn detect's and
 * drsnd's "no such label" messages): as it is, or in double quotes with \"
 * and \\ inside when it holds a blank, ',', '"' or '\', so that "hey box"
 * reads as one label, not two.
 */
#ifndef DRSN_COMMON_LABEL_H
#define DRSN_COMMON_LABEL_H

#include <stddef.h>

/* Longest text a label of at most 255 bytes can become, with its NUL. */
#define DRSN__LABEL_TEXT_MAX (2 * 255 + 3)

/* The label as list text in out[n] (n > 0; cut short if it does not fit).
 * Returns the text's length. */
size_t drsn__label_text(const char *label, char *out, size_t n);

/* s to f as it is (quote 0), or in double quotes with '"' and '\\' escaped
 * (drsnd.conf's rule: src/daemon/config.c's unquote reads it back). */
#include <stdio.h>
void drsn__label_put_quoted(FILE *f, const char *s, int quote);

/* A label as a key of drsnd.conf's [thresholds] (drsnd --print-config, drsn
 * tune's block): quoted when inih would not read it back as it is: with
 * '=', ':' or ';' in it, '"', '[', '#' first, blanks at an end. */
void drsn__label_put_conf_key(FILE *f, const char *label);

#endif
