#include "engine/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"

/* Largest header we accept: real ones are a few kB. */
#define MAX_HEADER_BYTES (16u << 20)
/* Largest tensor element count (1 GiB of float32). */
#define MAX_NUMEL ((int64_t)1 << 28)

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A JSON number that is an integer in [0, max]; -1 otherwise. */
static int64_t json_uint(const cJSON *v, int64_t max)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!(d >= 0 && d <= (double)max) || d != floor(d))
		return -1;
	return (int64_t)d;
}

struct span {
	uint64_t begin, end;
	int idx;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->idx - y->idx;
}

static int cmp_name(const void *a, const void *b)
{
	const struct drsn__st_tensor *x = a, *y = b;
	return strcmp(x->name, y->name);
}

void drsn__st_shape_str(char *s, size_t n, int ndim, const int64_t *shape)
{
	size_t o = 0;
	o += (size_t)snprintf(s + o, n - o, "[");
	for (int d = 0; d < ndim && o < n; d++)
		o += (size_t)snprintf(s + o, n - o, "%s%lld", d ? "," : "", (long long)shape[d]);
	if (o < n)
		snprintf(s + o, n - o, "]");
}

int drsn__st_parse(struct drsn__st_file *f, const void *buf, size_t len,
		   const char *what, drsn_error *err)
{
	const unsigned char *b = buf;
	struct span *spans = NULL;
	int rc = -EBADMSG;

	memset(f, 0, sizeof *f);
	if (!buf || len < 8)
		return drsn__fail(err, -EBADMSG, "%s: %zu bytes is too short for a safetensors file (needs an 8-byte header length)",
				  what, len);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | b[i];
	/* an impossible length and no JSON after it: some other kind of file
	 * (an audio file given as the model, say), not a truncated model */
	if ((hlen > len - 8 || hlen > MAX_HEADER_BYTES) && len > 8 && b[8] != '{') {
		char magic[5] = {0};
		for (int i = 0; i < 4; i++)
			magic[i] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '.';
		return drsn__fail(err, -EBADMSG, "%s: not a safetensors model (no 8-byte "
				  "header length and JSON header; the file starts with \"%s\")",
				  what, magic);
	}
	if (hlen > len - 8)
		return drsn__fail(err, -EBADMSG, "%s: header length %llu exceeds the file size (%zu bytes after the length): truncated file?",
				  what, (unsigned long long)hlen, len - 8);
	if (hlen > MAX_HEADER_BYTES)
		return drsn__fail(err, -EBADMSG, "%s: header length %llu is absurd (limit %u)",
				  what, (unsigned long long)hlen, MAX_HEADER_BYTES);
	if (hlen < 2)
		return drsn__fail(err, -EBADMSG, "%s: header length %llu is too short for a JSON object",
				  what, (unsigned long long)hlen);
	const char *hdr = (const char *)b + 8;
	const unsigned char *data = b + 8 + hlen;
	size_t data_len = len - 8 - (size_t)hlen;

	if (memchr(hdr, '\0', (size_t)hlen))
		return drsn__fail(err, -EBADMSG, "%s: header contains a NUL byte", what);
	const char *end = NULL;
	f->root = drsn__json_parse(hdr, (size_t)hlen, &end, 0);
	if (!f->root) {
		long at = end ? (long)(end - hdr) : -1;
		if (at < 0 || at > (long)hlen)
			at = -1;
		rc = drsn__fail(err, -EBADMSG, "%s: header is not valid JSON (error near byte %ld of %llu)",
				what, at, (unsigned long long)hlen);
		goto fail;
	}
	for (const char *p = end; p < hdr + hlen; p++)
		if (!is_space((unsigned char)*p)) {
			rc = drsn__fail(err, -EBADMSG, "%s: header has trailing bytes after the JSON object (byte %ld)",
					what, (long)(p - hdr));
			goto fail;
		}
	if (!cJSON_IsObject(f->root)) {
		rc = drsn__fail(err, -EBADMSG, "%s: header is JSON but not an object", what);
		goto fail;
	}

	int n = 0, n_meta = 0;
	for (cJSON *it = f->root->child; it; it = it->next) {
		if (!it->string) {
			rc = drsn__fail(err, -EBADMSG, "%s: header entry without a name", what);
			goto fail;
		}
		if (!strcmp(it->string, "__metadata__")) {
			if (n_meta++) {
				rc = drsn__fail(err, -EBADMSG, "%s: __metadata__ appears twice", what);
				goto fail;
			}
			continue;
		}
		if (++n > DRSN__ST_MAX_TENSORS) {
			rc = drsn__fail(err, -EBADMSG, "%s: more than %d tensors", what, DRSN__ST_MAX_TENSORS);
			goto fail;
		}
	}

	f->metadata = cJSON_GetObjectItemCaseSensitive(f->root, "__metadata__");
	if (f->metadata) {
		if (!cJSON_IsObject(f->metadata)) {
			rc = drsn__fail(err, -EBADMSG, "%s: __metadata__ must be an object of strings", what);
			goto fail;
		}
		int m = 0;
		for (cJSON *it = f->metadata->child; it; it = it->next) {
			for (cJSON *o = f->metadata->child; o != it && it->string; o = o->next)
				if (o->string && !strcmp(o->string, it->string)) {
					rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.%s appears twice", what, it->string);
					goto fail;
				}
			if (++m > DRSN__ST_MAX_META) {
				rc = drsn__fail(err, -EBADMSG, "%s: __metadata__ has more than %d entries", what, DRSN__ST_MAX_META);
				goto fail;
			}
			if (!it->string || !cJSON_IsString(it)) {
				rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.%s must be a string (nested JSON is stored as a JSON string)",
						what, it->string ? it->string : "?");
				goto fail;
			}
		}
	}

	f->t = calloc(n ? (size_t)n : 1, sizeof *f->t);
	spans = calloc(n ? (size_t)n : 1, sizeof *spans);
	if (!f->t || !spans) {
		rc = drsn__fail(err, -ENOMEM, "%s: out of memory", what);
		goto fail;
	}
	int i = 0;
	for (cJSON *it = f->root->child; it; it = it->next) {
		if (!strcmp(it->string, "__metadata__"))
			continue;
		const char *nm = it->string;
		struct drsn__st_tensor *t = &f->t[i];
		t->name = nm;
		if (!cJSON_IsObject(it)) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': entry is not an object", what, nm);
			goto fail;
		}
		for (cJSON *k = it->child; k; k = k->next)
			if (!k->string || (strcmp(k->string, "dtype") && strcmp(k->string, "shape") &&
					   strcmp(k->string, "data_offsets"))) {
				rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': unknown key '%s'", what, nm,
						k->string ? k->string : "?");
				goto fail;
			}
		if (cJSON_GetArraySize(it) != 3) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': needs exactly dtype, shape and data_offsets", what, nm);
			goto fail;
		}
		const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
		const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
		const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
		if (!cJSON_IsString(dt)) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': missing or non-string dtype", what, nm);
			goto fail;
		}
		if (strcmp(dt->valuestring, "F32")) {
			rc = drsn__fail(err, -ENOTSUP, "%s: tensor '%s': dtype '%.32s' is not supported (F32 only)",
					what, nm, dt->valuestring);
			goto fail;
		}
		if (!cJSON_IsArray(sh)) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': missing or non-array shape", what, nm);
			goto fail;
		}
		t->numel = 1;
		for (const cJSON *d = sh->child; d; d = d->next) {
			if (t->ndim == DRSN__ST_MAX_DIMS) {
				rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': more than %d dimensions", what, nm,
						DRSN__ST_MAX_DIMS);
				goto fail;
			}
			int64_t v = json_uint(d, MAX_NUMEL);
			if (v < 0) {
				rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': shape[%d] is not an integer in [0, %lld]",
						what, nm, t->ndim, (long long)MAX_NUMEL);
				goto fail;
			}
			t->shape[t->ndim++] = v;
			t->numel *= v;
			if (t->numel > MAX_NUMEL) {
				rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': more than %lld elements", what, nm,
						(long long)MAX_NUMEL);
				goto fail;
			}
		}
		if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': data_offsets must be [begin, end]", what, nm);
			goto fail;
		}
		int64_t ob = json_uint(off->child, INT64_C(1) << 53);
		int64_t oe = json_uint(off->child->next, INT64_C(1) << 53);
		if (ob < 0 || oe < 0 || ob > oe) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': data_offsets must be integers in [0, 2^53] "
					"with begin <= end", what, nm);
			goto fail;
		}
		if ((uint64_t)oe > data_len) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': data_offsets [%lld, %lld] run past the data section (%zu bytes): truncated file?",
					what, nm, (long long)ob, (long long)oe, data_len);
			goto fail;
		}
		if (oe - ob != t->numel * 4) {
			char s[128];
			drsn__st_shape_str(s, sizeof s, t->ndim, t->shape);
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': %lld bytes at data_offsets but shape %s needs %lld",
					what, nm, (long long)(oe - ob), s, (long long)t->numel * 4);
			goto fail;
		}
		t->data = data + ob;
		spans[i].begin = (uint64_t)ob;
		spans[i].end = (uint64_t)oe;
		spans[i].idx = i;
		i++;
	}
	f->n = n;

	/* Offsets: ordered, no overlap, no hole, exactly the data section. */
	qsort(spans, (size_t)n, sizeof *spans, cmp_span);
	uint64_t pos = 0;
	for (int k = 0; k < n; k++) {
		const char *nm = f->t[spans[k].idx].name;
		if (spans[k].begin < pos) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s'",
					what, nm, (unsigned long long)spans[k].begin,
					(unsigned long long)spans[k].end, f->t[spans[k - 1].idx].name);
			goto fail;
		}
		if (spans[k].begin > pos) {
			rc = drsn__fail(err, -EBADMSG, "%s: data section bytes [%llu, %llu) before tensor '%s' belong to no tensor",
					what, (unsigned long long)pos, (unsigned long long)spans[k].begin, nm);
			goto fail;
		}
		pos = spans[k].end;
	}
	if (pos != data_len) {
		rc = drsn__fail(err, -EBADMSG, "%s: data section has %zu bytes but the tensors cover %llu",
				what, data_len, (unsigned long long)pos);
		goto fail;
	}

	qsort(f->t, (size_t)n, sizeof *f->t, cmp_name);
	for (int k = 1; k < n; k++)
		if (!strcmp(f->t[k - 1].name, f->t[k].name)) {
			rc = drsn__fail(err, -EBADMSG, "%s: tensor '%s' appears twice", what, f->t[k].name);
			goto fail;
		}
	free(spans);
	return 0;
fail:
	free(spans);
	drsn__st_free(f);
	return rc;
}

void drsn__st_free(struct drsn__st_file *f)
{
	if (!f)
		return;
	cJSON_Delete(f->root);
	free(f->t);
	memset(f, 0, sizeof *f);
}

const struct drsn__st_tensor *drsn__st_find(const struct drsn__st_file *f, const char *name)
{
	int lo = 0, hi = f->n - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(f->t[mid].name, name);
		if (!c)
			return &f->t[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

const char *drsn__st_meta(const struct drsn__st_file *f, const char *key)
{
	if (!f->metadata)
		return NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->metadata, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}
