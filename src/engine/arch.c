#include "engine/arch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"

const char *drsn__variant_name(enum drsn__variant v)
{
	switch (v) {
	case DRSN__CW: return "cw";
	case DRSN__CS: return "cs";
	case DRSN__RESNET: return "resnet";
	}
	return "?";
}

/* obj.key as an integer in [lo, hi]; field names the key in messages. */
static int get_int(int *out, const cJSON *obj, const char *key, int lo, int hi,
		   const char *what, const char *field, drsn_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return drsn__fail(err, -EBADMSG, "%s: architecture: missing %s", what, field);
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return drsn__fail(err, -EBADMSG, "%s: architecture: %s must be an integer", what, field);
	if (!(v->valuedouble >= lo && v->valuedouble <= hi))
		return drsn__fail(err, -EBADMSG, "%s: architecture: %s = %g is out of range [%d, %d]",
				  what, field, v->valuedouble, lo, hi);
	*out = (int)v->valuedouble;
	return 0;
}

static int check_keys(const cJSON *obj, const char *const *keys, const char *what,
		      const char *field, drsn_error *err)
{
	for (const cJSON *it = obj->child; it; it = it->next) {
		int ok = 0;
		for (const char *const *k = keys; *k; k++)
			ok |= it->string && !strcmp(it->string, *k);
		if (!ok)
			return drsn__fail(err, -EBADMSG, "%s: architecture: unknown key '%s%s%s'", what,
					  field, *field ? "." : "", it->string ? it->string : "?");
		for (const cJSON *o = obj->child; o != it; o = o->next)
			if (!strcmp(o->string, it->string))
				return drsn__fail(err, -EBADMSG, "%s: architecture: key '%s%s%s' appears twice",
						  what, field, *field ? "." : "", it->string);
	}
	return 0;
}

/* Conv block {"channels","kernel","stride"} at field (e.g. "units[3]"). */
static int get_conv(const cJSON *o, int *c, int *k, int *s, const char *what,
		    const char *field, drsn_error *err)
{
	static const char *const keys[] = {"channels", "kernel", "stride", NULL};
	char f[64];
	int rc;
	if (!cJSON_IsObject(o))
		return drsn__fail(err, -EBADMSG, "%s: architecture: %s must be an object", what, field);
	if ((rc = check_keys(o, keys, what, field, err)))
		return rc;
	snprintf(f, sizeof f, "%s.channels", field);
	if ((rc = get_int(c, o, "channels", 1, DRSN__MAX_CHANNELS, what, f, err)))
		return rc;
	snprintf(f, sizeof f, "%s.kernel", field);
	if ((rc = get_int(k, o, "kernel", 1, DRSN__MAX_KERNEL, what, f, err)))
		return rc;
	if (*k % 2 == 0)
		return drsn__fail(err, -EBADMSG, "%s: architecture: %s must be odd (got %d)", what, f, *k);
	snprintf(f, sizeof f, "%s.stride", field);
	return get_int(s, o, "stride", 1, DRSN__MAX_STRIDE, what, f, err);
}

/* An optional string key with two values: *on = 0 when absent or off, 1 when on. */
static int get_option(int *on, const cJSON *o, const char *key, const char *off, const char *on_name,
		      const char *what, drsn_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	*on = 0;
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return drsn__fail(err, -EBADMSG, "%s: architecture: %s must be a string", what, key);
	if (!strcmp(v->valuestring, on_name))
		*on = 1;
	else if (strcmp(v->valuestring, off))
		return drsn__fail(err, -ENOTSUP, "%s: architecture: %s '%.32s' is not %s or %s",
				  what, key, v->valuestring, off, on_name);
	return 0;
}

int drsn__arch_parse(struct drsn__arch *a, const char *json, const char *what, drsn_error *err)
{
	static const char *const keys[] = {"variant", "bands", "frames", "stem", "units",
					   "shortcut", "bn_eps", "classes", "input", "pool", NULL};
	int rc;
	memset(a, 0, sizeof *a);
	/* require_null_terminated: nothing but white space after the object */
	cJSON *r = drsn__json_parse(json, strlen(json) + 1, NULL, 1);
	if (!r)
		return drsn__fail(err, -EBADMSG, "%s: __metadata__.architecture is not valid JSON", what);
	if (!cJSON_IsObject(r)) {
		rc = drsn__fail(err, -EBADMSG, "%s: __metadata__.architecture must be a JSON object", what);
		goto out;
	}
	if ((rc = check_keys(r, keys, what, "", err)))
		goto out;

	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "variant");
	if (!cJSON_IsString(v)) {
		rc = drsn__fail(err, -EBADMSG, "%s: architecture: missing or non-string variant", what);
		goto out;
	}
	if (!strcmp(v->valuestring, "cw"))
		a->variant = DRSN__CW;
	else if (!strcmp(v->valuestring, "cs"))
		a->variant = DRSN__CS;
	else if (!strcmp(v->valuestring, "resnet"))
		a->variant = DRSN__RESNET;
	else {
		rc = drsn__fail(err, -ENOTSUP, "%s: architecture: variant '%.32s' is not one of cw, cs, resnet",
				what, v->valuestring);
		goto out;
	}
	if ((rc = get_int(&a->bands, r, "bands", 1, DRSN__MAX_BANDS, what, "bands", err)) ||
	    (rc = get_int(&a->frames, r, "frames", 1, DRSN__MAX_FRAMES, what, "frames", err)) ||
	    (rc = get_int(&a->classes, r, "classes", 1, DRSN__MAX_CLASSES, what, "classes", err)) ||
	    (rc = get_conv(cJSON_GetObjectItemCaseSensitive(r, "stem"), &a->c0, &a->k0, &a->s0,
			   what, "stem", err)))
		goto out;

	v = cJSON_GetObjectItemCaseSensitive(r, "shortcut");
	if (!cJSON_IsString(v)) {
		rc = drsn__fail(err, -EBADMSG, "%s: architecture: missing or non-string shortcut", what);
		goto out;
	}
	if (!strcmp(v->valuestring, "projection"))
		a->projection = 1;
	else if (strcmp(v->valuestring, "zero_pad")) {
		rc = drsn__fail(err, -ENOTSUP, "%s: architecture: shortcut '%.32s' is not zero_pad or projection",
				what, v->valuestring);
		goto out;
	}

	if ((rc = get_option(&a->pcen, r, "input", "log", "pcen", what, err)) ||
	    (rc = get_option(&a->attention, r, "pool", "mean", "attention", what, err)))
		goto out;

	v = cJSON_GetObjectItemCaseSensitive(r, "bn_eps");
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1)) {
		rc = drsn__fail(err, -EBADMSG, "%s: architecture: bn_eps must be a number in (0, 1)", what);
		goto out;
	}
	a->eps = v->valuedouble;

	a->t0 = (a->frames - 1) / a->s0 + 1;
	const cJSON *units = cJSON_GetObjectItemCaseSensitive(r, "units");
	if (!cJSON_IsArray(units)) {
		rc = drsn__fail(err, -EBADMSG, "%s: architecture: missing or non-array units", what);
		goto out;
	}
	int c = a->c0, t = a->t0, i = 0;
	for (const cJSON *u = units->child; u; u = u->next, i++) {
		char f[32];
		if (i == DRSN__MAX_UNITS) {
			rc = drsn__fail(err, -EBADMSG, "%s: architecture: more than %d units", what, DRSN__MAX_UNITS);
			goto out;
		}
		struct drsn__unit_arch *ua = &a->u[i];
		snprintf(f, sizeof f, "units[%d]", i);
		if ((rc = get_conv(u, &ua->cout, &ua->k, &ua->s, what, f, err)))
			goto out;
		if (ua->cout < c) {
			rc = drsn__fail(err, -EBADMSG, "%s: architecture: units[%d].channels = %d is fewer than its input's %d (units cannot shrink channels)",
					what, i, ua->cout, c);
			goto out;
		}
		ua->cin = c;
		ua->t_in = t;
		ua->t_out = (t - 1) / ua->s + 1;
		ua->proj = a->projection && (ua->cin != ua->cout || ua->s != 1);
		c = ua->cout;
		t = ua->t_out;
	}
	a->n_units = i;
	a->c_last = c;
	a->t_last = t;
	rc = 0;
out:
	cJSON_Delete(r);
	return rc;
}

int64_t drsn__arch_params(const struct drsn__arch *a)
{
	int64_t n = (int64_t)a->c0 * a->bands * a->k0 + a->c0 + (a->pcen ? 4 * (int64_t)a->bands : 0);
	for (int i = 0; i < a->n_units; i++) {
		const struct drsn__unit_arch *u = &a->u[i];
		n += 2 * u->cin + (int64_t)u->cout * u->cin * u->k + 2 * u->cout +
		     (int64_t)u->cout * u->cout * u->k;
		if (a->variant != DRSN__RESNET) {
			int n2 = a->variant == DRSN__CW ? u->cout : 1;
			n += (int64_t)u->cout * u->cout + u->cout + 2 * u->cout + (int64_t)n2 * u->cout + n2;
		}
		if (u->proj)
			n += (int64_t)u->cout * u->cin + u->cout;
	}
	if (a->attention)
		n += a->c_last + 1;
	return n + 2 * a->c_last + (int64_t)a->classes * a->c_last + a->classes;
}

int64_t drsn__arch_macs(const struct drsn__arch *a)
{
	int64_t n = (int64_t)a->t0 * a->bands * a->c0 * a->k0;
	for (int i = 0; i < a->n_units; i++) {
		const struct drsn__unit_arch *u = &a->u[i];
		n += (int64_t)u->t_out * u->k * (int64_t)u->cout * (u->cin + u->cout);
		if (u->proj)
			n += (int64_t)u->t_out * u->cin * u->cout;
		if (a->variant != DRSN__RESNET)
			n += (int64_t)u->cout * u->cout + (int64_t)u->cout * (a->variant == DRSN__CW ? u->cout : 1);
	}
	if (a->attention)
		n += (int64_t)a->t_last * a->c_last;
	return n + (int64_t)a->c_last * a->classes;
}
