#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/npy.h"

#include "common/test_files.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/drsn-npy-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *tmp(const char *name)
{
	static char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static void test_roundtrip_streamed(void **state)
{
	(void)state;
	float data[7 * 3];
	for (int i = 0; i < 21; i++)
		data[i] = (float)i * 0.5f - 3.0f;
	drsn__npy_writer *w;
	assert_int_equal(drsn__npy_open(&w, tmp("a.npy"), 3, NULL), 0);
	assert_int_equal(drsn__npy_append(w, data, 2, NULL), 0);
	assert_int_equal(drsn__npy_append(w, data + 6, 0, NULL), 0);
	assert_int_equal(drsn__npy_append(w, data + 6, 5, NULL), 0);
	assert_int_equal(drsn__npy_close(w, NULL), 0);

	/* The header is what NumPy writes/reads: v1.0, 64-byte aligned. */
	FILE *f = fopen(tmp("a.npy"), "rb");
	unsigned char h[128];
	assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
	fclose(f);
	assert_memory_equal(h, "\x93NUMPY\x01\x00", 8);
	assert_int_equal(10 + (h[8] | h[9] << 8), 128);
	assert_int_equal(h[127], '\n');
	assert_memory_equal(h + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 3), }", 59);

	float *back;
	size_t r, c;
	assert_int_equal(drsn__npy_read_f32(tmp("a.npy"), &back, &r, &c, NULL), 0);
	assert_int_equal(r, 7);
	assert_int_equal(c, 3);
	assert_memory_equal(back, data, sizeof data);
	free(back);
}

static void test_one_dim_and_empty(void **state)
{
	(void)state;
	float v[4] = {1, 2, 3, 4};
	float *back;
	size_t r, c;
	assert_int_equal(drsn__npy_write_f32(tmp("v.npy"), v, 4, 0, NULL), 0);
	assert_int_equal(drsn__npy_read_f32(tmp("v.npy"), &back, &r, &c, NULL), 0);
	assert_int_equal(r, 4);
	assert_int_equal(c, 0);
	assert_memory_equal(back, v, sizeof v);
	free(back);
	assert_int_equal(drsn__npy_write_f32(tmp("e.npy"), NULL, 0, 40, NULL), 0);
	assert_int_equal(drsn__npy_read_f32(tmp("e.npy"), &back, &r, &c, NULL), 0);
	assert_int_equal(r, 0);
	assert_int_equal(c, 40);
	free(back);
}

static void expect_read_error(const char *name, int code, const char *needle)
{
	float *back = (float *)1;
	size_t r, c;
	drsn_error e = {0};
	assert_int_equal(drsn__npy_read_f32(tmp(name), &back, &r, &c, &e), code);
	assert_null(back);
	if (!strstr(e.msg, needle) || !strstr(e.msg, name))
		fail_msg("message \"%s\" lacks \"%s\" or the file name", e.msg, needle);
}

static void test_read_errors(void **state)
{
	(void)state;
	expect_read_error("missing.npy", -ENOENT, "cannot open");
	write_bytes(tmp("text.npy"), "hello world", 11);
	expect_read_error("text.npy", -EBADMSG, "not a .npy");

	float v[6] = {0};
	assert_int_equal(drsn__npy_write_f32(tmp("t.npy"), v, 3, 2, NULL), 0);
	FILE *f = fopen(tmp("t.npy"), "rb");
	unsigned char b[128 + 24];
	assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
	fclose(f);
	write_bytes(tmp("trunc.npy"), b, sizeof b - 4);
	expect_read_error("trunc.npy", -EBADMSG, "truncated");
	write_bytes(tmp("trunchdr.npy"), b, 60);
	expect_read_error("trunchdr.npy", -EBADMSG, "truncated");
	b[127] = '\0';
	char *descr = strstr((char *)b + 10, "<f4"), *fo = strstr((char *)b + 10, "False");
	assert_non_null(descr);
	assert_non_null(fo);
	b[127] = '\n';
	memcpy(descr, "<f8", 3);
	write_bytes(tmp("f8.npy"), b, sizeof b);
	expect_read_error("f8.npy", -ENOTSUP, "'<f4'");
	memcpy(descr, "<f4", 3);
	memcpy(fo, "True ", 5);
	write_bytes(tmp("fo.npy"), b, sizeof b);
	expect_read_error("fo.npy", -ENOTSUP, "Fortran");

	/* 2^32 + 1 floats declared, one present: with a 32-bit size_t the count
	 * wrapped to 1 and the file was read as one float */
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967297,), }";
	memset(b, ' ', 127);
	memcpy(b, "\x93NUMPY\x01\x00\x76\x00", 10);   /* v1.0, 118-byte header */
	memcpy(b + 10, dict, strlen(dict));
	b[127] = '\n';
	write_bytes(tmp("huge.npy"), b, 128 + sizeof(float));
	expect_read_error("huge.npy", -EBADMSG, "truncated (expected 4294967297 floats)");
}

static void test_write_errors(void **state)
{
	(void)state;
	drsn__npy_writer *w = (drsn__npy_writer *)1;
	drsn_error e = {0};
	assert_true(drsn__npy_open(&w, "/nonexistent-dir/x.npy", 3, &e) < 0);
	assert_null(w);
	assert_non_null(strstr(e.msg, "/nonexistent-dir/x.npy"));
}

/* The file is replaced only by a successful close: open truncates nothing,
 * abort (as after an input that failed half way) leaves it as it was and no
 * temporary file behind, and close keeps its permissions. */
static void test_replace_only_when_complete(void **state)
{
	(void)state;
	char sub[128], keep[160];
	snprintf(sub, sizeof sub, "%s", tmp("replace"));
	assert_int_equal(mkdir(sub, 0777), 0);
	snprintf(keep, sizeof keep, "%s/keep.npy", sub);
	write_bytes(keep, "precious", 8);
	assert_int_equal(chmod(keep, 0640), 0);
	float v[6] = {1, 2, 3, 4, 5, 6};

	drsn__npy_writer *w;
	assert_int_equal(drsn__npy_open(&w, keep, 3, NULL), 0);
	drsn__test_assert_file_is(keep, "precious", 8);
	assert_int_equal(drsn__npy_append(w, v, 1, NULL), 0);
	drsn__npy_abort(w);
	drsn__test_assert_file_is(keep, "precious", 8);
	drsn__test_assert_folder_holds(sub, "keep.npy");

	assert_int_equal(drsn__npy_open(&w, keep, 3, NULL), 0);
	assert_int_equal(drsn__npy_append(w, v, 2, NULL), 0);
	drsn__test_assert_file_is(keep, "precious", 8);
	assert_int_equal(drsn__npy_close(w, NULL), 0);
	drsn__test_assert_folder_holds(sub, "keep.npy");
	float *back;
	size_t r, c;
	assert_int_equal(drsn__npy_read_f32(keep, &back, &r, &c, NULL), 0);
	assert_int_equal(r, 2);
	assert_int_equal(c, 3);
	assert_memory_equal(back, v, sizeof v);
	free(back);
	struct stat st;
	assert_int_equal(stat(keep, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	/* a new file: created only by close */
	char fresh[160];
	snprintf(fresh, sizeof fresh, "%s/fresh.npy", sub);
	assert_int_equal(drsn__npy_open(&w, fresh, 0, NULL), 0);
	assert_int_equal(access(fresh, F_OK), -1);
	drsn__npy_abort(w);
	drsn__test_assert_folder_holds(sub, "keep.npy");
}

/* Through a symbolic link the link's target is replaced and the link stays;
 * a device is written in place and never removed. */
static void test_link_and_device(void **state)
{
	(void)state;
	char sub[128], target[160], link_path[160];
	snprintf(sub, sizeof sub, "%s", tmp("links"));
	assert_int_equal(mkdir(sub, 0777), 0);
	snprintf(target, sizeof target, "%s/target.npy", sub);
	snprintf(link_path, sizeof link_path, "%s/link.npy", sub);
	write_bytes(target, "old", 3);
	assert_int_equal(symlink("target.npy", link_path), 0);
	float v[2] = {7, 8};
	assert_int_equal(drsn__npy_write_f32(link_path, v, 2, 0, NULL), 0);
	struct stat st;
	assert_int_equal(lstat(link_path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	float *back;
	size_t r, c;
	assert_int_equal(drsn__npy_read_f32(target, &back, &r, &c, NULL), 0);
	assert_int_equal(r, 2);
	assert_memory_equal(back, v, sizeof v);
	free(back);
	drsn__test_assert_folder_holds(sub, "link.npy target.npy");

	drsn__npy_writer *w;
	assert_int_equal(drsn__npy_open(&w, "/dev/null", 2, NULL), 0);
	assert_int_equal(drsn__npy_append(w, v, 1, NULL), 0);
	drsn__npy_abort(w);
	assert_int_equal(drsn__npy_write_f32("/dev/null", v, 1, 2, NULL), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_streamed),
		cmocka_unit_test(test_one_dim_and_empty),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_replace_only_when_complete),
		cmocka_unit_test(test_link_and_device),
	};
	return cmocka_run_group_tests_name("npy", tests, setup, teardown);
}
