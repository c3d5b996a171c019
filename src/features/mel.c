#include "features/mel.h"

#include <math.h>

static double hz_to_mel(double f)
{
	return 2595.0 * log10(1.0 + f / 700.0);
}

static double mel_to_hz(double m)
{
	return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

double drsn__mel_bin_hz(const drsn_features_params *p, int k)
{
	int n_bins = p->n_fft / 2 + 1;
	return (double)(p->sample_rate / 2) * k / (n_bins - 1);
}

double drsn__mel_edge_hz(const drsn_features_params *p, int i)
{
	double m_min = hz_to_mel(p->f_min), m_max = hz_to_mel(p->f_max);
	return mel_to_hz(m_min + (m_max - m_min) * i / (p->n_mels + 1));
}

/* Triangle of band m (edges e0 < e1 < e2) at frequency f. */
static double triangle(double f, double e0, double e1, double e2)
{
	double down = (f - e0) / (e1 - e0), up = (e2 - f) / (e2 - e1);
	double w = down < up ? down : up;
	return w > 0.0 ? w : 0.0;
}

double drsn__mel_weight(const drsn_features_params *p, int k, int m)
{
	return triangle(drsn__mel_bin_hz(p, k), drsn__mel_edge_hz(p, m),
			drsn__mel_edge_hz(p, m + 1), drsn__mel_edge_hz(p, m + 2));
}

void drsn__mel_band_range(const drsn_features_params *p, int m, int *lo, int *n)
{
	/* The band's three edges once, not per bin: validation runs this for
	 * every band at each model load. */
	double e0 = drsn__mel_edge_hz(p, m), e1 = drsn__mel_edge_hz(p, m + 1),
	       e2 = drsn__mel_edge_hz(p, m + 2);
	int n_bins = p->n_fft / 2 + 1, first = -1, last = -1;
	for (int k = 0; k < n_bins; k++) {
		if (triangle(drsn__mel_bin_hz(p, k), e0, e1, e2) > 0.0) {
			if (first < 0)
				first = k;
			last = k;
		}
	}
	*lo = first < 0 ? 0 : first;
	*n = first < 0 ? 0 : last - first + 1;
}
