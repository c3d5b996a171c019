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

#endif
