/* libvvm's flag syntax and profile validation, the rules vvmfs enforces
 * on user.imap.flags and profile/ writes. */
#include <errno.h>
#include <string.h>
#include <glib.h>

#include "vvm-flags.h"
#include "vvm-profile.h"

static void test_flags_parse(void)
{
	enum vvm_flags_op op;
	uint32_t flags;
	const char *bad;
	size_t bad_len;
	const char *text = "+\\SEEN  \\deleted\n";

	g_assert_cmpint(vvm_flags_parse(text, strlen(text), &op, &flags, &bad,
					&bad_len), ==, 0);
	g_assert_cmpint(op, ==, VVM_FLAGS_ADD);
	g_assert_cmpuint(flags, ==, VVM_FLAG_SEEN | VVM_FLAG_DELETED);
	text = "$AppleVM-ActiveGreeting";
	g_assert_cmpint(vvm_flags_parse(text, strlen(text), &op, &flags, &bad,
					&bad_len), ==, 0);
	g_assert_cmpint(op, ==, VVM_FLAGS_REPLACE);
	g_assert_cmpuint(flags, ==, VVM_FLAG_GREETING_ON);
	text = "-\\Seen \\Recent";
	g_assert_cmpint(vvm_flags_parse(text, strlen(text), &op, &flags, &bad,
					&bad_len), ==, -EINVAL);
	g_assert_cmpmem(bad, bad_len, "\\Recent", 7);
	g_assert_cmpint(vvm_flags_parse("", 0, &op, &flags, &bad, &bad_len), ==, 0);
	g_assert_cmpuint(flags, ==, 0);
}

static void test_flags_format(void)
{
	g_autoptr(GString) out = g_string_new(NULL);

	vvm_flags_format(VVM_FLAGS_ALL, out);
	g_assert_cmpstr(out->str, ==, "\\Answered \\Flagged \\Deleted \\Seen "
				      "\\Draft $CNS-Greeting-On");
	g_assert_cmpuint(vvm_flags_apply(VVM_FLAG_SEEN, VVM_FLAGS_REMOVE,
					 VVM_FLAG_SEEN | VVM_FLAG_DRAFT), ==, 0);
}

static int validate(const char *key, const char *value)
{
	struct vvm_profile_limits limits;
	const char *reason = NULL;
	int ret;

	vvm_profile_limits_default(&limits);
	ret = vvm_profile_validate(vvm_profile_key_find(key), &limits, value,
				   strlen(value), &reason);
	g_assert_true(ret == 0 || reason != NULL);
	return ret;
}

static void test_profile(void)
{
	static const struct {
		const char *key, *value;
		int expect;
	} cases[] = {
		{ "status", "R", 0 }, { "status", "X", -EINVAL },
		{ "status", "", -EINVAL }, { "status", "RR", -EINVAL },
		{ "tui_password", "1234", 0 }, { "tui_password", "", 0 },
		{ "tui_password", "123", -EINVAL },
		{ "tui_password", "1234567890123456", -EINVAL },
		{ "tui_password", "12a4", -EINVAL },
		{ "imap_password", "s3cr;t", -EINVAL },
		{ "imap_password", "a b", -EINVAL },
		{ "imap_password", "a=b", -EINVAL },
		{ "imap_password", "Secr3t!", 0 },
		{ "imap_user", "", -EINVAL },
		{ "imap_password", "123456789012345678901234567890", 0 },
		{ "imap_password", "1234567890123456789012345678901", -EINVAL },
		{ "app_port", "16999", 0 }, { "app_port", "17000", -EINVAL },
		{ "app_port", "-1", -EINVAL },
		{ "quota_storage_kb", "18014398509481983", 0 },
		{ "quota_storage_kb", "99999999999999999999", -EINVAL },
		{ "transcription", "on", 0 }, { "transcription", "yes", -EINVAL },
		{ "accept", "audio/amr, audio/wav; codec=g711a", 0 },
		{ "accept", "audio", -EINVAL }, { "accept", "a/b/c", -EINVAL },
		{ "options", "tutorial=on", 0 }, { "options", "a\tb", -EINVAL },
		{ "client_prefix", "//VVM", 0 }, { "client_prefix", "", -EINVAL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("%s = '%s'", cases[i].key, cases[i].value);
		g_assert_cmpint(validate(cases[i].key, cases[i].value), ==,
				cases[i].expect);
	}
	g_assert_null(vvm_profile_key_find("nonexistent"));
	g_assert_true(vvm_profile_key_find("tui_password")->secret);
}

static void test_status_transitions(void)
{
	static const char *const allowed[] = {
		"UP", "PN", "PR", "NR", "NP", "RP", "RB", "BR", "RU", "PP",
	};
	static const char *const refused[] = { "UN", "UR", "UB", "RN", "BX" };
	const char *reason = NULL;

	for (size_t i = 0; i < G_N_ELEMENTS(allowed); i++)
		g_assert_cmpint(vvm_status_transition(allowed[i][0],
						      allowed[i][1], &reason),
				==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
		reason = NULL;
		g_assert_cmpint(vvm_status_transition(refused[i][0],
						      refused[i][1], &reason),
				==, -EINVAL);
		g_assert_nonnull(reason);
	}
	g_assert_true(vvm_status_active('N') && vvm_status_active('R'));
	g_assert_false(vvm_status_active('P') || vvm_status_active('B') ||
		       vvm_status_active('U'));
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flags/parse", test_flags_parse);
	g_test_add_func("/flags/format", test_flags_format);
	g_test_add_func("/profile/validate", test_profile);
	g_test_add_func("/profile/status-transitions", test_status_transitions);
	return g_test_run();
}
