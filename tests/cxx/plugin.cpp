// A drsnd plugin written in C++ against include/drsn/plugin.h
// (tests/cxx/check_cxx.py builds it as cxxdemo.so with g++ and clang++ and
// has `drsnd --list-plugins` load it). Key "greeting" (any text); it logs
// each detection. Every callback catches what it could throw: drsnd is C.
#include <drsn/plugin.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

namespace {

class demo {
public:
	explicit demo(const drsn_plugin_host *host) : host_(host), greeting_("hello") {}
	int configure(const drsn_plugin_config *cfg, char *err, size_t err_size)
	{
		for (int i = 0; i < cfg->n; i++) {
			if (std::strcmp(cfg->kv[i].key, "greeting") != 0) {
				std::snprintf(err, err_size, "%s: unknown key '%s' (known: greeting)",
					      cfg->kv[i].where, cfg->kv[i].key);
				return -EINVAL;
			}
			greeting_ = cfg->kv[i].value;
		}
		return 0;
	}
	void event(const drsn_plugin_event *ev) const
	{
		if (ev->type == DRSN_PLUGIN_EVENT_DETECTION && ev->detection)
			host_->log(host_, DRSN_PLUGIN_LOG_INFO, "%s: %s on %s", greeting_.c_str(),
				   ev->detection->name, ev->stream);
	}

private:
	const drsn_plugin_host *host_;
	std::string greeting_;
};

int demo_create(void **self, const drsn_plugin_host *host, const drsn_plugin_config *cfg,
		char *err, size_t err_size) noexcept
{
	*self = nullptr;
	try {
		demo *d = new demo(host);
		int rc = d->configure(cfg, err, err_size);
		if (rc < 0) {
			delete d;
			return rc;
		}
		*self = d;
		return 0;
	} catch (const std::bad_alloc &) {
		std::snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	} catch (...) {
		std::snprintf(err, err_size, "unexpected C++ exception");
		return -EIO;
	}
}

void demo_destroy(void *self) noexcept
{
	delete static_cast<demo *>(self);
}

void demo_on_event(void *self, const drsn_plugin_event *ev) noexcept
{
	try {
		static_cast<const demo *>(self)->event(ev);
	} catch (...) {
		// nothing may reach drsnd's C frames
	}
}

// Positional: designated initializers are C++20 only.
const drsn_plugin cxx_plugin = {
	DRSN_PLUGIN_ABI_VERSION,
	"cxxdemo",
	"a C++ plugin (tests/cxx/plugin.cpp)",
	0,
	demo_create,
	demo_destroy,
	nullptr,
	demo_on_event,
	nullptr,
	nullptr,
};

}  // namespace

DRSN_PLUGIN_DEFINE(cxx_plugin)
