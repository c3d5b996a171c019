/*
 * Lock-free single-producer / single-consumer ring of float samples.
 *
 * Built for the real-time audio callback: the producer (PortAudio's callback
 * thread, or a reader thread) writes, the consumer (the libuv loop thread)
 * reads. Neither side ever blocks, locks, allocates or makes a system call:
 * two C11 atomic indices, release on publish, acquire on observe.
 *
 * It holds exactly the samples asked for at create time (the only
 * allocation, rounded up to a power of two for the indexing), so a full ring
 * is as much audio as was configured, not up to twice that. Indices are free-running 64-bit counters, so "used" is always
 * head - tail and there is no full/empty ambiguity.
 *
 * A write that does not fit writes NOTHING and returns 0 (the caller counts
 * the overflow); partial writes would tear an audio block in two.
 */
#ifndef DRSN_DAEMON_RING_H
#define DRSN_DAEMON_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct drsn__ring {
	float *buf;
	size_t cap;            /* power of two */
	size_t mask;
	size_t limit;          /* usable samples (<= cap): a write beyond is refused */
	/* Each index on its own cache line: producer and consumer do not
	 * false-share. */
	_Alignas(64) _Atomic uint64_t head;   /* written by the producer */
	_Alignas(64) _Atomic uint64_t tail;   /* written by the consumer */
	_Alignas(64) _Atomic uint64_t overflows;      /* writes refused (ring full) */
	_Atomic uint64_t overflow_samples;            /* samples lost that way */
};

/* Allocate a ring holding min_samples floats. 0 or -ENOMEM/-EINVAL. */
int drsn__ring_init(struct drsn__ring *r, size_t min_samples);
void drsn__ring_free(struct drsn__ring *r);

/* Producer: copy n samples in, all or nothing. Returns 1 if written, 0 if the
 * ring lacked room (the overflow counters are bumped). Wait-free. */
int drsn__ring_write(struct drsn__ring *r, const float *x, size_t n);

/* Producer: free space now (a lower bound: the consumer may free more). */
size_t drsn__ring_space(const struct drsn__ring *r);

/* Consumer: copy up to max samples out; returns the count (0 if empty). */
size_t drsn__ring_read(struct drsn__ring *r, float *out, size_t max);

/* Consumer: samples ready now (a lower bound). */
size_t drsn__ring_used(const struct drsn__ring *r);

/* Either side: reset is NOT thread-safe; call only with both sides stopped.
 * Empties the ring and makes it hold limit samples (at most its cap). */
void drsn__ring_reset(struct drsn__ring *r, size_t limit);

#endif
