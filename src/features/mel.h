/*
 * The mel filterbank of the front end, in double precision, following
 * torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk") formula
 * for formula so that C and the Python reference share one definition:
 *
 *   bin k (0 <= k < n_bins = n_fft/2+1) sits at  k * (sample_rate/2) / (n_bins-1) Hz
 *     (sample_rate/2 rounded down, as torch.linspace(0, sr // 2, n_bins) does);
 *   edge i (0 <= i < n_mels+2) is  hz(mel(f_min) + i * (mel(f_max)-mel(f_min)) / (n_mels+1))
 *     with mel(f) = 2595 log10(1 + f/700) and hz its inverse;
 *   weight(k, m) = max(0, min((f_k - e_m) / (e_{m+1} - e_m),
 *                             (e_{m+2} - f_k) / (e_{m+2} - e_{m+1}))).
 */
#ifndef DRSN_SRC_FEATURES_MEL_H
#define DRSN_SRC_FEATURES_MEL_H

#include "drsn/features.h"

/* Centre frequency of FFT bin k, Hz. */
double drsn__mel_bin_hz(const drsn_features_params *p, int k);

/* Filter edge i (0 .. n_mels+1), Hz. */
double drsn__mel_edge_hz(const drsn_features_params *p, int i);

/* Weight of bin k in band m (0 outside the triangle). */
double drsn__mel_weight(const drsn_features_params *p, int k, int m);

/* The nonzero bins of band m: [*lo, *lo + *n). *n == 0 if the band is empty
 * (n_mels too large for n_fft); the bins of a triangle are contiguous. */
void drsn__mel_band_range(const drsn_features_params *p, int m, int *lo, int *n);

#endif
