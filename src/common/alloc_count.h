/*
 * Counting the malloc family, for the tests that prove a hot path allocates
 * nothing (the front end's push, the engine's run, the pipeline's push, the
 * denoiser's process). Test-only: link alloc_count.c with
 * alloc_count_link_args (src/common/meson.build), which route malloc, calloc,
 * realloc, posix_memalign, aligned_alloc and free, from libdrsn and the test
 * alike, through counters that count only between start and stop:
 *
 *     drsn__alloc_count_start();
 *     drsn_ctx_run(c, x, probs);
 *     assert_int_equal(drsn__alloc_count_stop(), 0);
 *     assert_int_equal(drsn__frees, 0);
 */
#ifndef DRSN_COMMON_ALLOC_COUNT_H
#define DRSN_COMMON_ALLOC_COUNT_H

extern volatile long drsn__allocs;   /* malloc, calloc, realloc, posix_memalign, aligned_alloc */
extern volatile long drsn__frees;    /* free() of a non-NULL pointer */
extern volatile int drsn__alloc_counting;

/* Zero the counters and start counting. */
static inline void drsn__alloc_count_start(void)
{
	drsn__allocs = 0;
	drsn__frees = 0;
	drsn__alloc_counting = 1;
}

/* Stop counting; the allocations since start (drsn__frees has the frees). */
static inline long drsn__alloc_count_stop(void)
{
	drsn__alloc_counting = 0;
	return drsn__allocs;
}

#endif
