/* drsn info MODEL [--json]: what a model file is (architecture, size, cost,
 * labels, front end, provenance), after full validation by the loader. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "drsn/drsn.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: drsn info [MODEL.safetensors] [--json]\n\n"
		   "Validates the model and prints its architecture, parameter count, MACs per\n"
		   "window, labels, front-end parameters and provenance (--json: one JSON object).\n"
		   "Without MODEL: the default model (now %s).\n", drsn_default_model_path());
}

/* A metadata value that holds JSON, parsed (NULL if absent or not JSON). */
static cJSON *meta_json(const drsn_model *m, const char *key)
{
	const char *s = drsn_model_metadata(m, key);
	return s ? cJSON_Parse(s) : NULL;
}

static int print_json(const char *path, const drsn_model *m)
{
	cJSON *o = cJSON_CreateObject();
	char *fe = drsn_features_params_to_json(drsn_model_features_params(m));
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "format_version", drsn_model_metadata(m, "format_version"));
	cJSON_AddStringToObject(o, "variant", drsn_model_variant(m));
	cJSON_AddNumberToObject(o, "frames", drsn_model_frames(m));
	cJSON_AddNumberToObject(o, "bands", drsn_model_bands(m));
	cJSON_AddNumberToObject(o, "parameters", (double)drsn_model_n_params(m));
	cJSON_AddNumberToObject(o, "macs_per_window", (double)drsn_model_macs(m));
	cJSON *labels = cJSON_AddArrayToObject(o, "labels");
	for (int i = 0; i < drsn_model_n_labels(m); i++)
		cJSON_AddItemToArray(labels, cJSON_CreateString(drsn_model_label(m, i)));
	cJSON *arch = meta_json(m, "architecture"), *prov = meta_json(m, "provenance");
	cJSON_AddItemToObject(o, "architecture", arch ? arch : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "frontend", fe ? cJSON_Parse(fe) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "provenance", prov ? prov : cJSON_CreateNull());
	char *s = cJSON_Print(o);
	int rc = s ? 0 : 1;
	if (s)
		printf("%s\n", s);
	free(s);
	free(fe);
	cJSON_Delete(o);
	return rc;
}

static void print_text(const char *path, const drsn_model *m)
{
	static const char *const long_name[] = {"cw", "DRSN-CW (channel-wise thresholds)",
						"cs", "DRSN-CS (one shared threshold)",
						"resnet", "ResNet baseline (no shrinkage)"};
	const char *v = drsn_model_variant(m), *vn = v;
	for (int i = 0; i < 6; i += 2)
		if (!strcmp(v, long_name[i]))
			vn = long_name[i + 1];
	printf("model       %s (format %s)\n", path, drsn_model_metadata(m, "format_version"));
	printf("variant     %s\n", vn);
	cJSON *a = meta_json(m, "architecture");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(a, "input");
	printf("input       %d frames x %d mel bands%s\n", drsn_model_frames(m), drsn_model_bands(m),
	       cJSON_IsString(in) && !strcmp(in->valuestring, "pcen") ? ", PCEN before the stem" : "");

	const cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "stem");
	int c = cJSON_GetObjectItemCaseSensitive(st, "channels")->valueint;
	int t = drsn_model_frames(m), s0 = cJSON_GetObjectItemCaseSensitive(st, "stride")->valueint;
	t = (t - 1) / s0 + 1;
	printf("stem        conv %d -> %d, kernel %d, stride %d -> %d frames\n", drsn_model_bands(m), c,
	       cJSON_GetObjectItemCaseSensitive(st, "kernel")->valueint, s0, t);
	int i = 0;
	const cJSON *u;
	cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(a, "units")) {
		int co = cJSON_GetObjectItemCaseSensitive(u, "channels")->valueint;
		int s = cJSON_GetObjectItemCaseSensitive(u, "stride")->valueint;
		int to = (t - 1) / s + 1;
		printf("unit %-2d     %3d -> %3d channels, kernel %d, stride %d, %d -> %d frames\n", i++, c, co,
		       cJSON_GetObjectItemCaseSensitive(u, "kernel")->valueint, s, t, to);
		c = co;
		t = to;
	}
	printf("shortcut    %s\n", cJSON_GetObjectItemCaseSensitive(a, "shortcut")->valuestring);
	const cJSON *pool = cJSON_GetObjectItemCaseSensitive(a, "pool");
	printf("head        BN, ReLU, %s over %d frames, FC %d -> %d\n",
	       cJSON_IsString(pool) && !strcmp(pool->valuestring, "attention") ? "attention (softmax-weighted sum)" : "mean",
	       t, c, drsn_model_n_labels(m));
	cJSON_Delete(a);

	printf("parameters  %lld\n", (long long)drsn_model_n_params(m));
	printf("MACs/window %lld (%.2f M)\n", (long long)drsn_model_macs(m), drsn_model_macs(m) / 1e6);
	printf("labels      %d:", drsn_model_n_labels(m));
	putchar(' ');
	drsn__cli_put_labels(stdout, m, " ");
	char *fe = drsn_features_params_to_json(drsn_model_features_params(m));
	cJSON *fj = fe ? cJSON_Parse(fe) : NULL;
	char *fc = fj ? cJSON_PrintUnformatted(fj) : NULL;
	printf("\nfront end   %s\n", fc ? fc : "?");
	free(fc);
	cJSON_Delete(fj);
	free(fe);
	cJSON *p = meta_json(m, "provenance");
	if (cJSON_IsObject(p)) {
		printf("provenance\n");
		const cJSON *it;
		cJSON_ArrayForEach(it, p) {
			char *val = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
			printf("  %-14s %s\n", it->string, val ? val : it->valuestring);
			free(val);
		}
	} else {
		printf("provenance  %s\n", drsn_model_metadata(m, "provenance") ? drsn_model_metadata(m, "provenance") : "(none)");
	}
	cJSON_Delete(p);
}

int drsn__cmd_info(int argc, char **argv)
{
	const char *path = NULL;
	int json = 0, opts = 1;
	for (int i = 1; i < argc; i++) {
		if (opts && !strcmp(argv[i], "--")) {   /* the end of options: MODEL may start with '-' */
			opts = 0;
		} else if (opts && !strcmp(argv[i], "--json")) {
			json = 1;
		} else if (opts && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
			usage(stdout);
			return 0;
		} else if ((opts && argv[i][0] == '-') || path) {
			drsn__cli_err("info: unexpected argument '%s'", argv[i]);
			usage(stderr);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path)
		path = drsn_default_model_path();
	drsn_model *m = NULL;
	drsn_error err = {0};
	if (drsn_model_load(&m, path, &err)) {
		drsn__cli_model_error("info", path, drsn__cli_model_from_env(path), err.msg);
		return 1;
	}
	int rc = 0;
	if (json)
		rc = print_json(path, m);
	else
		print_text(path, m);
	drsn_model_free(m);
	return rc;
}
