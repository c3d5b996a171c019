/* What a mock plugin (tests/plugins/mock.c) counts, exported as the symbol
 * "mock_counts" for the loader test (src/daemon/plugins.test.c). */
#ifndef DRSN_TESTS_PLUGINS_MOCK_H
#define DRSN_TESTS_PLUGINS_MOCK_H

struct mock_counts {
	int creates, starts, destroys, closed;
	int events, detections, statuses, resets;
	int audio_blocks, denoised_blocks;
	long audio_samples;
	int models;
	int entry_calls;           /* mock_abi2: must stay 0 (ABI checked first) */
	const void *last_model;
	char last_json[512];
	char greeting[64];
	double pipeline_time;      /* host pipeline fed 1 s of silence in create */
	int pipeline_rc;
	char pipeline_err[512];
	unsigned host_version;     /* host->version at create */
	char instance[64];         /* host->instance at create, "(none)" for NULL */
};

#endif
