// A C++ program that embeds libdrsn (tests/cxx/check_cxx.py builds it with
// g++ and clang++, -std=c++11 and -std=c++20, -Wall -Wextra -Wpedantic
// -Werror, against the shared and the static libdrsn of a `meson install
// --destdir`, through pkg-config).
//
//   embed MODEL WAV
//
// Loads MODEL, runs the detection pipeline over WAV (as `drsn detect` does)
// and prints one JSON line per detection in `drsn detect`'s form without
// "file" (check_cxx.py compares them with the C CLI's), then denoises the
// first half second and prints what the denoiser reports. Exit 0, or 1 with
// the library's message on stderr.
#include <drsn/drsn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#if DRSN_VERSION_NUMBER < DRSN_VERSION_ENCODE(0, 1, 0)
#error "needs libdrsn >= 0.1.0"
#endif

namespace {

// RAII over the C handles: each destroy function accepts NULL.
struct model_free { void operator()(drsn_model *m) const { drsn_model_free(m); } };
struct pipeline_free { void operator()(drsn_pipeline *p) const { drsn_pipeline_destroy(p); } };
struct denoise_free { void operator()(drsn_denoise *d) const { drsn_denoise_destroy(d); } };
struct c_free { void operator()(float *x) const { std::free(x); } };

struct detection {
	std::string label;
	double score, start, end;
};

// cJSON's way of printing a number (drsn detect rounds to 1e-4 first).
std::string num(double x)
{
	char buf[64];
	std::snprintf(buf, sizeof buf, "%.15g", std::round(x * 1e4) / 1e4);
	return buf;
}

int fail(const char *what, const drsn_error &e)
{
	std::fprintf(stderr, "embed: %s: %s\n", what, e.msg);
	return 1;
}

}  // namespace

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: embed MODEL WAV\n");
		return 2;
	}
	if (drsn_version_number() != DRSN_VERSION_NUMBER) {
		std::fprintf(stderr, "embed: headers %s, library %s\n", DRSN_VERSION_STRING, drsn_version());
		return 1;
	}
	drsn_error e;
	drsn_model *mp = nullptr;
	if (drsn_model_load(&mp, argv[1], &e) < 0)
		return fail("model", e);
	std::unique_ptr<drsn_model, model_free> model(mp);

	drsn_pipeline *pp = nullptr;
	if (drsn_pipeline_create(&pp, model.get(), nullptr, &e) < 0)
		return fail("pipeline", e);
	std::unique_ptr<drsn_pipeline, pipeline_free> pipeline(pp);

	drsn_audio_opts ao;
	drsn_audio_opts_default(&ao);
	ao.target_rate = drsn_model_features_params(model.get())->sample_rate;
	float *xp = nullptr;
	size_t n = 0;
	if (drsn_audio_read_all(argv[2], &ao, &xp, &n, &e) < 0)
		return fail("audio", e);
	std::unique_ptr<float, c_free> audio(xp);

	// A captureless lambda as the C callback; it must not throw
	// (drsn/pipeline.h): nothing here can.
	std::vector<detection> found;
	found.reserve(64);   // push_back below does not allocate for a short file
	drsn_pipeline_events ev = {};
	ev.detection = [](void *user, const drsn_detection *d) {
		auto *v = static_cast<std::vector<detection> *>(user);
		if (v->size() < v->capacity())
			v->push_back(detection{d->name, d->score, d->start, d->end});
	};
	const size_t chunk = 1600;   // drsn detect's
	for (size_t i = 0; i < n; i += chunk)
		drsn_pipeline_push(pipeline.get(), audio.get() + i, n - i < chunk ? n - i : chunk, &ev, &found);
	drsn_pipeline_finish(pipeline.get(), &ev, &found);
	for (const detection &d : found)
		std::printf("{\"label\":\"%s\",\"score\":%s,\"start\":%s,\"end\":%s}\n", d.label.c_str(),
			    num(d.score).c_str(), num(d.start).c_str(), num(d.end).c_str());

	// Denoise the first half second (or all of a shorter file).
	drsn_denoise_opts dopts;
	drsn_denoise_opts_default(&dopts);
	drsn_denoise *dp = nullptr;
	if (drsn_denoise_create(&dp, ao.target_rate, &dopts, &e) < 0)
		return fail("denoise", e);
	std::unique_ptr<drsn_denoise, denoise_free> den(dp);
	size_t dn = std::min(n, static_cast<size_t>(ao.target_rate / 2));
	std::vector<float> out(dn);
	drsn_denoise_process(den.get(), audio.get(), dn, out.data());
	double energy = 0;
	for (float v : out) {
		if (!std::isfinite(v)) {
			std::fprintf(stderr, "embed: denoiser output is not finite\n");
			return 1;
		}
		energy += static_cast<double>(v) * v;
	}
	std::printf("denoise: %zu samples, latency %d, hop %d, frames %llu, energy %s\n", dn,
		    drsn_denoise_latency(den.get()), drsn_denoise_hop(den.get()),
		    static_cast<unsigned long long>(drsn_denoise_frames(den.get())), energy > 0 ? "> 0" : "0");
	return 0;
}
