#include "daemon/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int drsn__ring_init(struct drsn__ring *r, size_t min_samples)
{
	memset(r, 0, sizeof *r);
	if (min_samples == 0 || min_samples > ((size_t)1 << 30))
		return -EINVAL;
	size_t cap = 1;
	while (cap < min_samples)
		cap <<= 1;
	r->buf = calloc(cap, sizeof *r->buf);
	if (!r->buf)
		return -ENOMEM;
	r->cap = cap;
	r->mask = cap - 1;
	r->limit = min_samples;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->overflows, 0);
	atomic_init(&r->overflow_samples, 0);
	return 0;
}

void drsn__ring_free(struct drsn__ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->mask = r->limit = 0;
}

void drsn__ring_reset(struct drsn__ring *r, size_t limit)
{
	r->limit = limit < r->cap ? limit : r->cap;
	atomic_store(&r->head, 0);
	atomic_store(&r->tail, 0);
}

size_t drsn__ring_space(const struct drsn__ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t used = (size_t)(head - tail);
	return used < r->limit ? r->limit - used : 0;
}

size_t drsn__ring_used(const struct drsn__ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	return (size_t)(head - tail);
}

int drsn__ring_write(struct drsn__ring *r, const float *x, size_t n)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* acquire: the consumer's reads of the slots it freed happen before we
	 * overwrite them. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t used = (size_t)(head - tail);
	if (used > r->limit || n > r->limit - used) {
		atomic_fetch_add_explicit(&r->overflows, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->overflow_samples, n, memory_order_relaxed);
		return 0;
	}
	if (n == 0)
		return 1;
	size_t at = (size_t)head & r->mask;
	size_t first = r->cap - at < n ? r->cap - at : n;
	memcpy(r->buf + at, x, first * sizeof *x);
	memcpy(r->buf, x + first, (n - first) * sizeof *x);
	/* release: the samples are visible before the new head. */
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return 1;
}

size_t drsn__ring_read(struct drsn__ring *r, float *out, size_t max)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t n = (size_t)(head - tail);
	if (n > max)
		n = max;
	if (n == 0)
		return 0;
	size_t at = (size_t)tail & r->mask;
	size_t first = r->cap - at < n ? r->cap - at : n;
	memcpy(out, r->buf + at, first * sizeof *out);
	memcpy(out + first, r->buf, (n - first) * sizeof *out);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}
