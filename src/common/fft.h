/*
 * Thread-safe FFTW3f plan creation. FFTW's planner is not thread-safe; plan
 * execution (fftwf_execute_dft_r2c & co. on new arrays) is. Every module
 * creates and destroys its plans through these calls, which hold one
 * process-wide mutex, and imports FFTW wisdom once if a wisdom file was set.
 */
#ifndef DRSN_SRC_COMMON_FFT_H
#define DRSN_SRC_COMMON_FFT_H

#include <fftw3.h>

/* n-point real-to-complex / complex-to-real plans: FFTW_MEASURE if wisdom was
 * loaded (drsn_fft_wisdom_load), else FFTW_ESTIMATE. MEASURE may scribble on
 * in/out while planning, so plan before filling them. in/out must come from
 * fftwf_malloc (or be equally aligned). NULL on failure. */
fftwf_plan drsn__fft_plan_r2c(int n, float *in, fftwf_complex *out);
fftwf_plan drsn__fft_plan_c2r(int n, fftwf_complex *in, float *out);
void drsn__fft_destroy(fftwf_plan p);

/* Double precision (libfftw3) r2c, same locking and flags. The front end uses
 * it: a float32 FFT's rounding noise (~1e-7 of the frame's energy) swamps
 * quiet bands of loud frames at a 1e-6 log floor (see features.c). */
fftw_plan drsn__fft_plan_r2c_f64(int n, double *in, fftw_complex *out);
void drsn__fft_destroy_f64(fftw_plan p);

#endif
