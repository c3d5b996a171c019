/* The --wrap'ed malloc family behind alloc_count.h (tests only). */
#include <stddef.h>

#include "common/alloc_count.h"

volatile long drsn__allocs, drsn__frees;
volatile int drsn__alloc_counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t s);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
	drsn__allocs += drsn__alloc_counting;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t s)
{
	drsn__allocs += drsn__alloc_counting;
	return __real_calloc(n, s);
}

void *__wrap_realloc(void *p, size_t n)
{
	drsn__allocs += drsn__alloc_counting;
	return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	drsn__frees += drsn__alloc_counting && p;
	__real_free(p);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	drsn__allocs += drsn__alloc_counting;
	return __real_posix_memalign(p, a, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	drsn__allocs += drsn__alloc_counting;
	return __real_aligned_alloc(a, n);
}
