/* lib/vvm-config: the strict readers every program reads its numbers and
 * switches with. A key that is there but malformed must be an error that
 * names it, never its default; only an absent key is. */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "vvm-config.h"

static GKeyFile *key_file(const char *text)
{
	GKeyFile *kf = g_key_file_new();

	g_assert_true(g_key_file_load_from_data(kf, text, (gsize)-1,
						G_KEY_FILE_NONE, NULL));
	return kf;
}

/* Reads [g] k with fallback 7 in [0, 100]; returns what the reader
 * returned, the value in *value_r and the message in *error_r. */
static int read_uint(const char *text, unsigned int *value_r,
		     char **error_r)
{
	g_autoptr(GKeyFile) kf = key_file(text);
	unsigned int value = 12345;
	int ret;

	*error_r = NULL;
	ret = vvm_config_uint(kf, "g", "k", 7, 0, 100, &value, error_r);
	if (ret < 0)
		g_assert_cmpuint(value, ==, 12345); /* written only on success */
	*value_r = value;
	return ret;
}

static void test_uint_good(void)
{
	static const struct {
		const char *text;
		unsigned int value;
	} cases[] = {
		{ "[g]\nk=0\n", 0 },
		{ "[g]\nk=42\n", 42 },
		{ "[g]\nk = 100 \n", 100 },
		{ "[g]\nk=007\n", 7 },
		/* absent: the fallback */
		{ "[g]\nother=x\n", 7 },
		{ "[h]\nk=x\n", 7 },
		{ "", 7 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *error = NULL;
		unsigned int value;

		g_test_message("%s", cases[i].text);
		g_assert_cmpint(read_uint(cases[i].text, &value, &error), ==, 0);
		g_assert_cmpuint(value, ==, cases[i].value);
		g_assert_null(error);
	}
}

static void test_uint_bad(void)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "[g]\nk=abc\n", "[g] k: 'abc' is not a number from 0 to 100" },
		{ "[g]\nk=\n", "[g] k: '' is not a number from 0 to 100" },
		{ "[g]\nk=-1\n", "[g] k: '-1' is not a number from 0 to 100" },
		{ "[g]\nk=+5\n", "[g] k: '+5' is not a number from 0 to 100" },
		{ "[g]\nk=5x\n", "[g] k: '5x' is not a number from 0 to 100" },
		{ "[g]\nk=5 6\n", "[g] k: '5 6' is not a number from 0 to 100" },
		{ "[g]\nk=1.5\n", "[g] k: '1.5' is not a number from 0 to 100" },
		{ "[g]\nk=0x10\n", "[g] k: '0x10' is not a number from 0 to 100" },
		{ "[g]\nk=101\n", "[g] k: '101' is not a number from 0 to 100" },
		{ "[g]\nk=99999999999999999999999\n",
		  "[g] k: '99999999999999999999999' is not a number from 0 "
		  "to 100" },
		/* A value GLib cannot read is no absent key either. */
		{ "[g]\nk=1\\x\n", "[g] k: '1\\x' is not a number from 0 to 100" },
		{ "[g]\nk=1\xff\n", "[g] k: '1\xff' is not a number from 0 to "
				     "100" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *error = NULL;
		unsigned int value;

		g_test_message("%s", cases[i].text);
		g_assert_cmpint(read_uint(cases[i].text, &value, &error), ==,
				-EINVAL);
		g_assert_cmpstr(error, ==, cases[i].error);
	}
}

static void test_uint_limits(void)
{
	g_autoptr(GKeyFile) kf = key_file("[g]\nmax=4294967295\n"
					  "over=4294967296\nlow=0\n");
	g_autofree char *error = NULL;
	unsigned int value = 1;

	g_assert_cmpint(vvm_config_uint(kf, "g", "max", 0, 0, G_MAXUINT,
					&value, &error), ==, 0);
	g_assert_cmpuint(value, ==, G_MAXUINT);
	g_assert_cmpint(vvm_config_uint(kf, "g", "over", 0, 0, G_MAXUINT,
					&value, &error), ==, -EINVAL);
	g_assert_cmpstr(error, ==, "[g] over: '4294967296' is not a number "
				   "from 0 to 4294967295");
	g_clear_pointer(&error, g_free);
	g_assert_cmpint(vvm_config_uint(kf, "g", "low", 5, 1, 10, &value,
					&error), ==, -EINVAL);
	g_assert_cmpstr(error, ==, "[g] low: '0' is not a number from 1 to 10");
}

static void test_u64(void)
{
	g_autoptr(GKeyFile) kf = key_file("[g]\nbig=18446744073709551615\n"
					  "size=10M\n");
	g_autofree char *error = NULL;
	uint64_t value = 0;

	g_assert_cmpint(vvm_config_u64(kf, "g", "big", 0, 0, G_MAXUINT64,
				       &value, &error), ==, 0);
	g_assert_cmpuint(value, ==, G_MAXUINT64);
	g_assert_cmpint(vvm_config_u64(kf, "g", "none", 9, 1, 10, &value,
				       &error), ==, 0);
	g_assert_cmpuint(value, ==, 9);
	g_assert_cmpint(vvm_config_u64(kf, "g", "size", 1, 1, 1u << 30,
				       &value, &error), ==, -EINVAL);
	g_assert_cmpstr(error, ==, "[g] size: '10M' is not a number from 1 "
				   "to 1073741824");
	g_assert_cmpuint(value, ==, 9);
}

static void test_bool(void)
{
	static const struct {
		const char *value;
		int ret;
		bool result;
	} cases[] = {
		{ "true", 0, true },   { "false", 0, false },
		{ "TRUE", 0, true },   { "False", 0, false },
		{ "1", 0, true },      { "0", 0, false },
		{ " true ", 0, true },
		/* a typo must not flip a switch to its default */
		{ "flase", -EINVAL, false }, { "yes please", -EINVAL, false },
		{ "", -EINVAL, false },      { "2", -EINVAL, false },
		{ "true;", -EINVAL, false }, { "off", -EINVAL, false },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = g_strdup_printf("[g]\nk=%s\n",
							cases[i].value);
		g_autoptr(GKeyFile) kf = key_file(text);
		g_autofree char *error = NULL;
		bool value = !cases[i].result;
		bool before = value;

		g_test_message("'%s'", cases[i].value);
		g_assert_cmpint(vvm_config_bool(kf, "g", "k", true, &value,
						&error), ==, cases[i].ret);
		if (cases[i].ret == 0) {
			g_assert_cmpint(value, ==, cases[i].result);
			g_assert_null(error);
		} else {
			g_autofree char *stripped =
				g_strstrip(g_strdup(cases[i].value));
			g_autofree char *want = g_strdup_printf(
				"[g] k: '%s' is not true or false", stripped);

			g_assert_cmpstr(error, ==, want);
			g_assert_cmpint(value, ==, before);
		}
	}
}

static void test_bool_absent(void)
{
	g_autoptr(GKeyFile) kf = key_file("[g]\nother=1\n");
	g_autofree char *error = NULL;
	bool value = false;

	g_assert_cmpint(vvm_config_bool(kf, "g", "k", true, &value, &error),
			==, 0);
	g_assert_true(value);
}

/* A file: the message names it, as every program prints it. */
static void test_open_and_name(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "vvm.conf", NULL);
	g_autoptr(GKeyFile) kf = NULL;
	g_autofree char *error = NULL;
	unsigned int value;

	g_assert_true(g_file_set_contents(path, "[imap]\nidle_timeout = 30m\n",
					  -1, NULL));
	g_assert_cmpint(vvm_config_open(path, &kf, &error), ==, 0);
	g_assert_cmpstr(vvm_config_path(path), ==, path);
	g_assert_cmpint(vvm_config_uint(kf, "imap", "idle_timeout", 1800, 0,
					G_MAXUINT, &value, &error), ==, -EINVAL);
	vvm_config_error_in(path, &error);
	g_autofree char *want = g_strdup_printf(
		"%s: [imap] idle_timeout: '30m' is not a number from 0 to "
		"4294967295", path);
	g_assert_cmpstr(error, ==, want);
	g_clear_pointer(&error, g_free);
	g_clear_pointer(&kf, g_key_file_unref);

	/* A string GLib cannot read would pass for absent through every
	 * string reader: the file is refused, naming the key but not the
	 * value, which may be a secret. */
	g_assert_true(g_file_set_contents(path, "[imap]\nknown_clients = "
					  "s3cret\xff\n", -1, NULL));
	g_assert_cmpint(vvm_config_open(path, &kf, &error), ==, -EINVAL);
	g_assert_null(kf);
	g_assert_nonnull(strstr(error, ": [imap] known_clients: the value is "
				       "not valid UTF-8"));
	g_assert_null(strstr(error, "s3cret"));
	g_assert_true(g_str_has_prefix(error, path));
	g_clear_pointer(&error, g_free);

	g_assert_cmpint(g_unlink(path), ==, 0);
	g_assert_cmpint(vvm_config_open(path, &kf, &error), ==, -ENOENT);
	g_assert_true(g_str_has_prefix(error, path));
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/uint/good", test_uint_good);
	g_test_add_func("/config/uint/bad", test_uint_bad);
	g_test_add_func("/config/uint/limits", test_uint_limits);
	g_test_add_func("/config/u64", test_u64);
	g_test_add_func("/config/bool", test_bool);
	g_test_add_func("/config/bool/absent", test_bool_absent);
	g_test_add_func("/config/open", test_open_and_name);
	return g_test_run();
}
