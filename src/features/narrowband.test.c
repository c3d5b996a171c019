/* The note for audio below the model's rate (narrowband.h): given for a
 * rate whose half is below the front end's top mel edge, and only then. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "drsn/features.h"
#include "features/narrowband.h"

static void test_telephone_rate_noted(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);   /* 16000 Hz, bands to 8000 Hz */
	char note[512];
	assert_int_equal(drsn__narrowband_note(8000, &p, note, sizeof note), 1);
	assert_non_null(strstr(note, "source 8000 Hz is below the model's 16000 Hz"));
	assert_non_null(strstr(note, "no sound above 4000 Hz"));
	assert_non_null(strstr(note, "models/README.md"));
	assert_null(strchr(note, '\n'));
	assert_int_equal(drsn__narrowband_note(11025, &p, note, sizeof note), 1);
	assert_non_null(strstr(note, "no sound above 5512.5 Hz"));
	/* cut short, still a string */
	char small[16];
	assert_int_equal(drsn__narrowband_note(8000, &p, small, sizeof small), 1);
	assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_wideband_rates_not_noted(void **state)
{
	(void)state;
	drsn_features_params p;
	drsn_features_params_default(&p);
	char note[512];
	static const int rates[] = {16000, 22050, 44100, 48000, 96000, 0, -1};
	for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		memcpy(note, "x", 2);
		assert_int_equal(drsn__narrowband_note(rates[i], &p, note, sizeof note), 0);
		assert_string_equal(note, "");
	}
	/* a front end whose bands stop at 7000 Hz loses nothing at 14 kHz */
	p.f_max = 7000.0f;
	assert_int_equal(drsn__narrowband_note(14000, &p, note, sizeof note), 0);
	assert_int_equal(drsn__narrowband_note(13000, &p, note, sizeof note), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_telephone_rate_noted),
		cmocka_unit_test(test_wideband_rates_not_noted),
	};
	return cmocka_run_group_tests_name("narrowband", tests, NULL, NULL);
}
