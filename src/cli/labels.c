/* A model's labels as text: drsn info's list and detect's errors. */
#include <stdio.h>
#include "common/label.h"
#include "drsn/model.h"

#include "cli/cli.h"

void drsn__cli_put_label(FILE *f, const char *label)
{
	char text[DRSN__LABEL_TEXT_MAX];
	drsn__label_text(label, text, sizeof text);
	fputs(text, f);
}

void drsn__cli_put_labels(FILE *f, const struct drsn_model *m, const char *sep)
{
	for (int i = 0; i < drsn_model_n_labels(m); i++) {
		if (i)
			fputs(sep, f);
		drsn__cli_put_label(f, drsn_model_label(m, i));
	}
}
