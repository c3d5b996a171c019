#include "features/narrowband.h"

#include <stdio.h>

int drsn__narrowband_note(int source_rate, const drsn_features_params *p, char *out, size_t n)
{
	out[0] = '\0';
	if (source_rate <= 0 || source_rate >= p->sample_rate || source_rate / 2.0 >= p->f_max)
		return 0;
	snprintf(out, n, "source %d Hz is below the model's %d Hz: the model hears no sound above "
		 "%g Hz (its bands reach %g Hz), so expect fewer keywords found "
		 "(models/README.md, \"Narrowband audio\")",
		 source_rate, p->sample_rate, source_rate / 2.0, (double)p->f_max);
	return 1;
}
