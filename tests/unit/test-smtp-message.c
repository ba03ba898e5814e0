/* Tests of the message side of a VVM deposit: the spec's Example J (with
 * the To the header reference requires) passes, every rule refuses with
 * its own reply, the stored copy keeps the client's bytes, and the DSN is
 * a well-formed RFC 3464 report that GMime reads back.
 *
 * Messages are built from the inline fixtures below: the header of
 * Example J edited field by field, and parts around a tiny base64
 * "audio" payload. The checker reads each input placed right before an
 * unmapped page, so reading one byte too far crashes. */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "guard-page.h"
#include "smtp-message.h"

/* ---- fixtures ---- */

#define B "----=_Part_6_16713087.1135179290661"
/* "RIFF$\0\0\0WAVE" */
#define AUDIO "UklGRiQAAABXQVZF"
/* Wed, 21 Dec 2005 15:34:50 +0000, Example J's Date */
#define NOW 1135179290
#define TEXT_PART                                                  \
	"--" B "\r\n"                                              \
	"Content-Type: text/plain; charset=us-ascii\r\n"           \
	"Content-Transfer-Encoding: 8bit\r\n"                      \
	"\r\n"                                                     \
	"Open the attached file\r\n"
#define CLOSE "--" B "--\r\n"

static const char *const deposit_fields[] = {
	"Message-ID: <10545552.1131961091850.JavaMail.icassagn@I20050329>",
	"Date: Wed, 21 Dec 2005 16:34:50 +0100 (CET)",
	"From: 5000250@example.com",
	"To: 5000251@example.com",
	"MIME-Version: 1.0",
	"Content-Type: multipart/mixed;\r\n\tboundary=\"" B "\"",
	"Importance: Normal",
	"Message-Context: voice-message",
	"Content-Duration: 18",
	"Expires: Sat, 31 Dec 2039 00:00:00 +0100 (CET)",
	NULL,
};

static const char *const voice_fields[] = {
	"Content-Type: Audio/wav; codec=g711a",
	"Content-Transfer-Encoding: base64",
	"Content-Disposition: attachment;\r\n filename=\"wav_00000002.wav\"",
	"Content-Duration: 18",
	NULL,
};

static bool same_field(const char *field, const char *name, size_t len)
{
	return strlen(field) > len && field[len] == ':' &&
	       g_ascii_strncasecmp(field, name, len) == 0;
}

/* An entity: the fields of base with the edits applied, the blank line
 * and body. An edit "Name: value" replaces the field Name (or comes last
 * when there is none), "+Name: value" adds one more, "-Name" drops it. */
static char *entity(const char *const *base, const char *const *edits,
		    const char *body)
{
	GPtrArray *fields = g_ptr_array_new();
	GString *out = g_string_new(NULL);
	const char *edit, *name;
	size_t i, len;
	bool done;

	for (i = 0; base[i] != NULL; i++)
		g_ptr_array_add(fields, (gpointer)base[i]);
	for (; edits != NULL && *edits != NULL; edits++) {
		edit = *edits;
		if (edit[0] == '+') {
			g_ptr_array_add(fields, (gpointer)(edit + 1));
			continue;
		}
		name = edit[0] == '-' ? edit + 1 : edit;
		len = strcspn(name, ":");
		done = false;
		for (i = 0; i < fields->len; i++) {
			if (!same_field(fields->pdata[i], name, len))
				continue;
			if (edit[0] == '-')
				g_ptr_array_remove_index(fields, i--);
			else
				fields->pdata[i] = (gpointer)edit;
			done = true;
		}
		if (!done && edit[0] != '-')
			g_ptr_array_add(fields, (gpointer)edit);
	}
	for (i = 0; i < fields->len; i++)
		g_string_append_printf(out, "%s\r\n",
				       (const char *)fields->pdata[i]);
	g_string_append_printf(out, "\r\n%s", body);
	g_ptr_array_free(fields, TRUE);
	return g_string_free(out, FALSE);
}

/* A voice part with its delimiter line; payload NULL for AUDIO. */
static char *voice_part(const char *const *edits, const char *payload)
{
	g_autofree char *body = g_strdup_printf(
		"%s\r\n", payload != NULL ? payload : AUDIO);
	g_autofree char *part = entity(voice_fields, edits, body);

	return g_strdup_printf("--" B "\r\n%s", part);
}

/* An original (for forward and reply) as a message/rfc822 part. */
static char *original_part(const char *const *edits)
{
	g_autofree char *voice = voice_part(NULL, NULL);
	g_autofree char *body = g_strconcat(TEXT_PART, voice, CLOSE, NULL);
	g_autofree char *msg = entity(deposit_fields, edits, body);

	return g_strdup_printf("--" B "\r\nContent-Type: message/rfc822\r\n"
			       "\r\n%s",
			       msg);
}

static char *deposit_with(const char *const *edits, const char *body)
{
	g_autofree char *voice = NULL, *def = NULL;

	if (body == NULL) {
		voice = voice_part(NULL, NULL);
		def = g_strconcat(TEXT_PART, voice, CLOSE, NULL);
		body = def;
	}
	return entity(deposit_fields, edits, body);
}

static void rules_default(struct smtp_message_rules *rules)
{
	*rules = (struct smtp_message_rules){ .now = NOW };
}

/* ---- the checker at a page end ---- */

/* Deposits here stay below this many pages. */
#define GUARD_PAGES 15

static int check_guarded(const char *msg, size_t len,
			 const struct smtp_message_rules *rules,
			 struct smtp_message_info *info_r,
			 struct smtp_refusal *refusal_r)
{
	return smtp_message_check(guard_place(msg, len), len, rules, info_r,
				  refusal_r);
}

static void assert_passes(const char *msg,
			  const struct smtp_message_rules *rules,
			  struct smtp_message_info *info_r)
{
	struct smtp_refusal refusal = { 0 };
	int ret = check_guarded(msg, strlen(msg), rules, info_r, &refusal);

	if (ret != 0)
		g_test_message("refused: %u %s %s", refusal.code,
			       refusal.enhanced, refusal.text);
	g_assert_cmpint(ret, ==, 0);
}

static void assert_refused(const char *msg,
			   const struct smtp_message_rules *rules,
			   const char *reply)
{
	struct smtp_refusal refusal = { 0 };
	struct smtp_message_info info;
	g_autofree char *got = NULL;

	g_assert_cmpint(check_guarded(msg, strlen(msg), rules, &info, &refusal),
			==, -EINVAL);
	got = g_strdup_printf("%u %s %s", refusal.code, refusal.enhanced,
			      refusal.text);
	g_assert_cmpstr(got, ==, reply);
	smtp_refusal_clear(&refusal);
	g_assert_null(refusal.text);
}

/* ---- passing deposits ---- */

static void test_example_j(void)
{
	g_autofree char *msg = deposit_with(NULL, NULL);
	struct smtp_message_rules rules;
	struct smtp_message_info info;

	rules_default(&rules);
	rules.sender_msisdn = "5000250";
	rules.max_duration = 18;
	assert_passes(msg, &rules, &info);
	g_assert_cmpuint(info.duration, ==, 18);
	g_assert_cmpuint(info.voice_parts, ==, 1);
	g_assert_false(info.has_original);
	g_assert_null(info.action);
	g_assert_false(info.high_importance);
	/* Sat, 31 Dec 2039 00:00:00 +0100 */
	g_assert_cmpint(info.expires, ==, 2208898800);
}

static void test_variants_pass(void)
{
	static const char *const edits[] = {
		"MIME-Version: 1.0 (Voice Version 2.0)",
		"Message-Context: Voice-Message",
		"Importance: HIGH",
		"Sensitivity: Confidential",
		"From: \"Alice\" <+5000250@example.com>",
		"To: 5000251@example.com, Group: 5000252@example.com;",
		"Content-Duration: 18 (seconds)",
		"-Expires",
		NULL,
	};
	g_autofree char *msg = deposit_with(edits, NULL);
	struct smtp_message_rules rules;
	struct smtp_message_info info;

	rules_default(&rules);
	rules.sender_msisdn = "5000250";
	assert_passes(msg, &rules, &info);
	g_assert_true(info.high_importance);
	g_assert_cmpint(info.expires, ==, 0);
	rules.sender_msisdn = "+5000250";
	assert_passes(msg, &rules, &info);
}

static void test_two_voice_parts(void)
{
	static const char *const second[] = { "Content-Duration: 7", NULL };
	g_autofree char *v1 = voice_part(NULL, NULL);
	g_autofree char *v2 = voice_part(second, "QUJD\r\nREVG\r\nRw==");
	g_autofree char *body = g_strconcat(TEXT_PART, v1, v2, CLOSE, NULL);
	static const char *const edits[] = { "Content-Duration: 25", NULL };
	g_autofree char *msg = deposit_with(edits, body);
	struct smtp_message_rules rules;
	struct smtp_message_info info;

	rules_default(&rules);
	rules.max_duration = 25;
	assert_passes(msg, &rules, &info);
	g_assert_cmpuint(info.voice_parts, ==, 2);
	g_assert_cmpuint(info.duration, ==, 25);
}

static void test_forward(void)
{
	static const char *const edits[] = { "X-CNS-Messaging-Action: forward",
					     NULL };
	static const char *const orig_edits[] = {
		"From: 5000251@example.com", "Sensitivity: Personal", NULL
	};
	g_autofree char *orig = original_part(orig_edits);
	g_autofree char *voice = voice_part(NULL, NULL);
	g_autofree char *body =
		g_strconcat(TEXT_PART, voice, orig, CLOSE, NULL);
	g_autofree char *msg = deposit_with(edits, body);
	g_autofree char *bare_body = g_strconcat(orig, CLOSE, NULL);
	g_autofree char *bare = deposit_with(edits, bare_body);
	struct smtp_message_rules rules;
	struct smtp_message_info info;

	rules_default(&rules);
	assert_passes(msg, &rules, &info);
	g_assert_true(info.has_original);
	g_assert_cmpstr(info.action, ==, "forward");
	g_assert_cmpuint(info.voice_parts, ==, 1);
	/* The original's voice attachment is the one forwarded. */
	assert_passes(bare, &rules, &info);
	g_assert_true(info.has_original);
	g_assert_cmpuint(info.voice_parts, ==, 0);
}

static void test_reply(void)
{
	static const char *const edits[] = { "X-CNS-Messaging-Action: Reply",
					     NULL };
	static const char *const orig_edits[] = {
		"From: 5000251@example.com", "Sensitivity: Private", NULL
	};
	g_autofree char *orig = original_part(orig_edits);
	g_autofree char *voice = voice_part(NULL, NULL);
	g_autofree char *body = g_strconcat(voice, orig, CLOSE, NULL);
	g_autofree char *msg = deposit_with(edits, body);
	struct smtp_message_rules rules;
	struct smtp_message_info info;

	rules_default(&rules);
	assert_passes(msg, &rules, &info);
	g_assert_true(info.has_original);
	g_assert_cmpstr(info.action, ==, "reply");
}

/* Every cut of a deposit is refused or passes, never crashes. */
static void test_cuts(void)
{
	g_autofree char *msg = deposit_with(NULL, NULL);
	struct smtp_message_rules rules;
	struct smtp_message_info info;
	struct smtp_refusal refusal;
	size_t cut;

	rules_default(&rules);
	for (cut = 0; cut < strlen(msg); cut++) {
		refusal = (struct smtp_refusal){ 0 };
		if (check_guarded(msg, cut, &rules, &info, &refusal) < 0) {
			g_assert_nonnull(refusal.text);
			smtp_refusal_clear(&refusal);
		}
	}
}

/* ---- refusals, one per rule ---- */

enum body_kind {
	BODY_DEFAULT,
	BODY_RAW,          /* raw is the whole message */
	BODY_VOICE,        /* TEXT_PART, a voice part edited, CLOSE */
	BODY_GIVEN,        /* body as given */
	BODY_FORWARD,      /* voice and a Private original */
};

struct refusal_case {
	const char *name;
	const char *edits[4];
	enum body_kind kind;
	const char *body;         /* BODY_GIVEN, BODY_RAW; payload for VOICE */
	const char *voice[3];     /* edits of the voice part */
	const char *msisdn;
	unsigned int max_duration;
	const char *reply;
};

static const struct refusal_case refusal_cases[] = {
	{ "no-from", { "-From" }, .reply = "554 5.6.0 no From header" },
	{ "two-from", { "+From: 5000250@example.com" },
	  .reply = "554 5.6.0 more than one From header" },
	{ "from-name", { "From: alice@example.com" },
	  .reply = "554 5.6.0 From is not <phone-number>@<domain>" },
	{ "from-no-domain", { "From: 5000250" },
	  .reply = "554 5.6.0 From is not <phone-number>@<domain>" },
	{ "from-two", { "From: 5000250@example.com, 5000252@example.com" },
	  .reply = "554 5.6.0 From is not <phone-number>@<domain>" },
	{ "from-long", { "From: 123456789012345678901@example.com" },
	  .reply = "554 5.6.0 From is not <phone-number>@<domain>" },
	{ "from-plus-only", { "From: +@example.com" },
	  .reply = "554 5.6.0 From is not <phone-number>@<domain>" },
	{ "from-other", .msisdn = "+5000299",
	  .reply = "550 5.7.1 From does not match the authenticated "
		   "subscriber" },
	{ "no-to", { "-To" }, .reply = "554 5.6.0 no To header" },
	{ "to-empty", { "To: undisclosed-recipients:;" },
	  .reply = "554 5.6.0 To has no address" },
	{ "no-date", { "-Date" }, .reply = "554 5.6.0 no Date header" },
	{ "bad-date", { "Date: yesterday" },
	  .reply = "554 5.6.0 unparseable Date" },
	{ "two-date", { "+Date: Wed, 21 Dec 2005 16:34:51 +0100" },
	  .reply = "554 5.6.0 more than one Date header" },
	{ "no-mime-version", { "-MIME-Version" },
	  .reply = "554 5.6.0 no MIME-Version header" },
	{ "mime-version-2", { "MIME-Version: 2.0" },
	  .reply = "554 5.6.0 MIME-Version is not 1.0" },
	{ "no-context", { "-Message-Context" },
	  .reply = "554 5.6.1 only voice messages can be deposited" },
	{ "fax", { "Message-Context: fax-message" },
	  .reply = "554 5.6.1 only voice messages can be deposited" },
	{ "voice-prefix", { "Message-Context: voice-messages" },
	  .reply = "554 5.6.1 only voice messages can be deposited" },
	{ "no-duration", { "-Content-Duration" },
	  .reply = "554 5.6.0 no Content-Duration" },
	{ "duration-unit", { "Content-Duration: 18s" },
	  .reply = "554 5.6.0 bad Content-Duration" },
	{ "duration-negative", { "Content-Duration: -1" },
	  .reply = "554 5.6.0 bad Content-Duration" },
	{ "duration-huge", { "Content-Duration: 99999999999" },
	  .reply = "554 5.6.0 bad Content-Duration" },
	{ "no-content-type", { "-Content-Type" },
	  .reply = "554 5.6.0 no Content-Type header" },
	{ "alternative",
	  { "Content-Type: multipart/alternative; boundary=\"" B "\"" },
	  .reply = "554 5.6.0 Content-Type is not multipart/mixed" },
	{ "text", { "Content-Type: text/plain" }, BODY_GIVEN, "hello\r\n",
	  .reply = "554 5.6.0 Content-Type is not multipart/mixed" },
	{ "bad-importance", { "Importance: urgent" },
	  .reply = "554 5.6.0 bad Importance" },
	{ "bad-sensitivity", { "Sensitivity: secret" },
	  .reply = "554 5.6.0 bad Sensitivity" },
	{ "bad-expires", { "Expires: soon" },
	  .reply = "554 5.6.0 bad Expires" },
	{ "expired", { "Expires: Tue, 20 Dec 2005 00:00:00 +0100 (CET)" },
	  .reply = "554 5.6.0 message has expired" },
	{ "bad-action", { "X-CNS-Messaging-Action: delete" },
	  .reply = "554 5.6.0 bad X-CNS-Messaging-Action" },
	{ "voice-7bit", .kind = BODY_VOICE,
	  .voice = { "Content-Transfer-Encoding: 7bit" },
	  .reply = "554 5.6.0 voice attachment 2 is not base64" },
	{ "voice-no-cte", .kind = BODY_VOICE,
	  .voice = { "-Content-Transfer-Encoding" },
	  .reply = "554 5.6.0 voice attachment 2 is not base64" },
	{ "voice-inline", .kind = BODY_VOICE,
	  .voice = { "Content-Disposition: inline; filename=a.wav" },
	  .reply = "554 5.6.0 voice attachment 2 has no Content-Disposition "
		   "attachment with a filename" },
	{ "voice-no-filename", .kind = BODY_VOICE,
	  .voice = { "Content-Disposition: attachment" },
	  .reply = "554 5.6.0 voice attachment 2 has no Content-Disposition "
		   "attachment with a filename" },
	{ "voice-no-disposition", .kind = BODY_VOICE,
	  .voice = { "-Content-Disposition" },
	  .reply = "554 5.6.0 voice attachment 2 has no Content-Disposition "
		   "attachment with a filename" },
	{ "voice-no-duration", .kind = BODY_VOICE,
	  .voice = { "-Content-Duration" },
	  .reply = "554 5.6.0 voice attachment 2 has no Content-Duration" },
	{ "voice-bad-duration", .kind = BODY_VOICE,
	  .voice = { "Content-Duration: eighteen" },
	  .reply = "554 5.6.0 voice attachment 2 has a bad Content-Duration" },
	{ "voice-bad-char", .kind = BODY_VOICE, .body = "UklG!iQA",
	  .reply = "554 5.6.0 voice attachment 2 base64 does not decode" },
	{ "voice-short", .kind = BODY_VOICE, .body = "UklGR",
	  .reply = "554 5.6.0 voice attachment 2 base64 does not decode" },
	{ "voice-pad-middle", .kind = BODY_VOICE, .body = "UQ==UklG",
	  .reply = "554 5.6.0 voice attachment 2 base64 does not decode" },
	{ "voice-three-pad", .kind = BODY_VOICE, .body = "U===",
	  .reply = "554 5.6.0 voice attachment 2 base64 does not decode" },
	{ "voice-empty", .kind = BODY_VOICE, .body = "",
	  .reply = "554 5.6.0 voice attachment 2 is empty" },
	{ "no-voice", .kind = BODY_GIVEN, .body = TEXT_PART CLOSE,
	  .reply = "554 5.6.0 no voice attachment" },
	{ "longer", .max_duration = 17,
	  .reply = "552 5.3.4 voice message longer than 17 seconds" },
	{ "attachment-longer", { "Content-Duration: 5" }, .max_duration = 17,
	  .reply = "552 5.3.4 voice message longer than 17 seconds" },
	{ "forward-private", { "X-CNS-Messaging-Action: forward" },
	  BODY_FORWARD,
	  .reply = "554 5.7.1 a private message cannot be forwarded" },
	{ "no-boundary", { "Content-Type: multipart/mixed" },
	  .reply = "554 5.6.0 malformed MIME: multipart without boundary" },
	{ "no-part", .kind = BODY_GIVEN, .body = "preamble\r\n" CLOSE,
	  .reply = "554 5.6.0 malformed MIME: multipart without any part" },
	{ "no-close", .kind = BODY_GIVEN, .body = TEXT_PART,
	  .reply = "554 5.6.0 malformed MIME: missing closing boundary" },
	{ "part-bad-header-line", .kind = BODY_VOICE,
	  .voice = { "+not a field" },
	  .reply = "554 5.6.0 malformed MIME: bad header line in a part" },
	{ "conflicting-parameter", .kind = BODY_VOICE,
	  .voice = { "Content-Disposition: attachment; filename=a.wav; "
		     "filename=b.wav" },
	  .reply = "554 5.6.0 malformed MIME: conflicting header parameters" },
	{ "no-blank-line", .kind = BODY_RAW,
	  .body = "From: 5000250@example.com\r\nTo: 5000251@example.com\r\n",
	  .reply = "554 5.6.0 malformed MIME: no blank line after the header" },
	{ "bad-header-line", .kind = BODY_RAW,
	  .body = "From: 5000250@example.com\r\nnot a field\r\n\r\nbody\r\n",
	  .reply = "554 5.6.0 malformed MIME: bad header line" },
	{ "leading-continuation", .kind = BODY_RAW,
	  .body = " From: 5000250@example.com\r\n\r\nbody\r\n",
	  .reply = "554 5.6.0 malformed MIME: bad header line" },
	{ "bare-lf", .kind = BODY_GIVEN, .body = TEXT_PART "a\nb\r\n" CLOSE,
	  .reply = "554 5.6.0 bare LF in message" },
	{ "bare-cr", .kind = BODY_GIVEN, .body = TEXT_PART "a\rb\r\n" CLOSE,
	  .reply = "554 5.6.0 bare CR in message" },
};

static void test_refusal(gconstpointer data)
{
	const struct refusal_case *c = data;
	static const char *const private_original[] = {
		"From: 5000251@example.com", "Sensitivity: private", NULL
	};
	g_autofree char *body = NULL, *part = NULL, *msg = NULL;
	struct smtp_message_rules rules;

	rules_default(&rules);
	rules.sender_msisdn = c->msisdn;
	rules.max_duration = c->max_duration;
	switch (c->kind) {
	case BODY_DEFAULT:
		break;
	case BODY_RAW:
		msg = g_strdup(c->body);
		break;
	case BODY_VOICE:
		part = voice_part(c->voice, c->body);
		body = g_strconcat(TEXT_PART, part, CLOSE, NULL);
		break;
	case BODY_GIVEN:
		body = g_strdup(c->body);
		break;
	case BODY_FORWARD:
		part = original_part(private_original);
		body = g_strconcat(TEXT_PART, part, CLOSE, NULL);
		break;
	}
	if (msg == NULL)
		msg = deposit_with(c->edits, body);
	assert_refused(msg, &rules, c->reply);
}

/* The fixture strings stop at a NUL, so this one is built apart. */
static void test_refusal_nul(void)
{
	g_autofree char *body = g_strconcat(TEXT_PART, "a#b\r\n", CLOSE, NULL);
	g_autofree char *msg = deposit_with(NULL, body);
	struct smtp_refusal refusal = { 0 };
	struct smtp_message_rules rules;
	struct smtp_message_info info;
	size_t len = strlen(msg);

	rules_default(&rules);
	*strchr(msg, '#') = '\0';
	g_assert_cmpint(check_guarded(msg, len, &rules, &info, &refusal), ==,
			-EINVAL);
	g_assert_cmpuint(refusal.code, ==, 554);
	g_assert_cmpstr(refusal.enhanced, ==, "5.6.0");
	g_assert_cmpstr(refusal.text, ==, "NUL byte in message");
	smtp_refusal_clear(&refusal);
}

/* ---- the stored copy ---- */

static const struct smtp_trace trace = {
	.return_path = "5000250@example.com",
	.helo = "phone.example",
	.client_addr = "10.0.0.1",
	.hostname = "vvm.example.com",
	.protocol = "ESMTPSA",
	.id = "ABC123",
	.time = NOW,
};

#define TRACE                                                            \
	"Return-Path: <5000250@example.com>\r\n"                         \
	"Received: from phone.example (10.0.0.1) by vvm.example.com with " \
	"ESMTPSA\r\n id ABC123; Wed, 21 Dec 2005 15:34:50 +0000\r\n"

static void assert_bytes(GBytes *bytes, const char *expected)
{
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);

	g_assert_cmpmem(data, len, expected, strlen(expected));
}

/* No line of the trace reaches 78 columns. */
static void assert_short_lines(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\r\n", -1);

	for (size_t i = 0; lines[i] != NULL; i++)
		g_assert_cmpuint(strlen(lines[i]), <, 78);
}

static void test_stored_trace(void)
{
	g_autofree char *msg = deposit_with(NULL, NULL);
	g_autofree char *expected = g_strconcat(TRACE, msg, NULL);
	struct smtp_trace t = trace;
	GBytes *out = smtp_message_stored(msg, strlen(msg), &trace, NULL);
	const char *data;
	gsize len;

	assert_bytes(out, expected);
	assert_short_lines(TRACE);
	g_bytes_unref(out);

	t.helo = NULL;
	t.return_path = "";
	out = smtp_message_stored(msg, strlen(msg), &t, NULL);
	data = g_bytes_get_data(out, &len);
	g_assert_true(g_str_has_prefix(data,
				       "Return-Path: <>\r\n"
				       "Received: from [10.0.0.1] by "));
	g_bytes_unref(out);

	/* A client's name cannot forge a field, nor a long one a line. */
	t.helo = "evil\r\nSubject: forged";
	t.client_addr = NULL;
	out = smtp_message_stored(msg, strlen(msg), &t, NULL);
	data = g_bytes_get_data(out, &len);
	g_assert_true(g_str_has_prefix(
		data, "Return-Path: <>\r\nReceived: from evil??Subject: forged "
		      "by vvm.example.com"));
	g_bytes_unref(out);

	t.helo = "a-very-long-host-name-that-a-client-may-well-send-in-its-"
		 "ehlo.example.com";
	t.client_addr = "2001:db8::1";
	out = smtp_message_stored(msg, strlen(msg), &t, NULL);
	data = g_bytes_get_data(out, &len);
	g_assert_cmpmem(data + len - strlen(msg), strlen(msg), msg,
			strlen(msg));
	g_assert_nonnull(strstr(data, "\r\n by vvm.example.com with"));
	g_bytes_unref(out);
}

static void test_stored_subject(void)
{
	static const char head[] = "From: 5000250@example.com\r\n"
				   "subject: first\r\n"
				   "\tsecond line\r\n"
				   "To: 5000251@example.com\r\n"
				   "Subject : again\r\n"
				   "X-Subject: kept\r\n";
	static const char body[] = "\r\nSubject: in the body\r\n";
	g_autofree char *msg = g_strconcat(head, body, NULL);
	GBytes *out = smtp_message_stored(msg, strlen(msg), &trace,
					  "voice mail");

	assert_bytes(out, TRACE "From: 5000250@example.com\r\n"
				"Subject: voice mail\r\n"
				"To: 5000251@example.com\r\n"
				"X-Subject: kept\r\n"
				"\r\nSubject: in the body\r\n");
	g_bytes_unref(out);

	/* An empty header gets the Subject before its blank line. */
	out = smtp_message_stored(body, strlen(body), &trace, "x");
	assert_bytes(out, TRACE "Subject: x\r\n"
				"\r\nSubject: in the body\r\n");
	g_bytes_unref(out);
}

static void test_stored_subject_added(void)
{
	g_autofree char *msg = deposit_with(NULL, NULL);
	g_autofree char *expected = NULL;
	const char *blank = strstr(msg, "\r\n\r\n") + 2;
	GBytes *out = smtp_message_stored(
		msg, strlen(msg), &trace,
		"Sprachnachricht von J\xc3\xbcrgen\nSubject: forged");

	expected = g_strdup_printf("%s%.*sSubject: Sprachnachricht von "
				   "=?iso-8859-1?q?J=FCrgen?= Subject: forged"
				   "\r\n%s",
				   TRACE, (int)(blank - msg), msg, blank);
	assert_bytes(out, expected);
	g_bytes_unref(out);
}

/* ---- the DSN ---- */

static const struct smtp_dsn_recipient dsn_rcpts[] = {
	{ "5000251@example.com", "+5000251@example.com", "failed", "5.2.2",
	  "552 5.2.2 mailbox full" },
	{ "5000252@example.com", NULL, "failed", "5.1.1",
	  "550 5.1.1 no such subscriber" },
};

static void dsn_init(struct smtp_dsn *dsn, const char *original)
{
	*dsn = (struct smtp_dsn){
		.reporting_mta = "vvm.example.com",
		.sender = "5000250@example.com",
		.from = "5000251@example.com",
		.envid = "QQ314159",
		.arrival = NOW,
		.now = NOW + 1,
		.recipients = dsn_rcpts,
		.n_recipients = G_N_ELEMENTS(dsn_rcpts),
		.original = original,
		.original_len = strlen(original),
	};
}

static GMimeMessage *parse_bytes(GBytes *bytes)
{
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);

	g_object_unref(parser);
	g_object_unref(stream);
	g_assert_nonnull(msg);
	return msg;
}

/* The content of a leaf part as it stands in the message. */
static char *part_text(GMimeObject *obj)
{
	GMimeStream *stream = g_mime_data_wrapper_get_stream(
		g_mime_part_get_content(GMIME_PART(obj)));
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *array;
	char *text;

	g_mime_stream_reset(stream);
	g_mime_stream_write_to_stream(stream, mem);
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	text = g_strndup((const char *)array->data, array->len);
	g_object_unref(mem);
	return text;
}

/* What vvmfs asks of a stored message: canonical CRLF, no NUL, the
 * closing boundary last, From and Date. */
static void assert_storable(GBytes *bytes, GMimeMessage *msg)
{
	gsize len, i;
	const char *data = g_bytes_get_data(bytes, &len);

	for (i = 0; i < len; i++) {
		g_assert_cmpint(data[i], !=, '\0');
		if (data[i] == '\n')
			g_assert_true(i > 0 && data[i - 1] == '\r');
		if (data[i] == '\r')
			g_assert_true(i + 1 < len && data[i + 1] == '\n');
	}
	g_assert_nonnull(g_mime_object_get_header(GMIME_OBJECT(msg), "From"));
	g_assert_nonnull(g_mime_object_get_header(GMIME_OBJECT(msg), "Date"));
	g_assert_true(len > 4 && memcmp(data + len - 4, "--\r\n", 4) == 0);
}

static void test_dsn(void)
{
	g_autofree char *original = deposit_with(NULL, NULL);
	g_autofree char *status = NULL, *text = NULL, *tail = NULL;
	struct smtp_dsn dsn;
	GMimeMultipart *report;
	GMimeContentType *type;
	GMimeMessage *msg, *inner;
	GMimeObject *part;
	const char *data, *start;
	GBytes *bytes;
	gsize len;

	dsn_init(&dsn, original);
	bytes = smtp_dsn_build(&dsn);
	msg = parse_bytes(bytes);
	assert_storable(bytes, msg);
	g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "Subject"),
			==, "Delivery Status Notification (Failure)");
	g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "To"), ==,
			"5000250@example.com");
	g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg),
						 "Message-Context"),
			==, "voice-message");
	g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg),
						 "Auto-Submitted"),
			==, "auto-replied");
	g_assert_true(g_str_has_suffix(
		g_mime_object_get_header(GMIME_OBJECT(msg), "Message-ID"),
		"@vvm.example.com>"));

	part = g_mime_message_get_mime_part(msg);
	type = g_mime_object_get_content_type(part);
	g_assert_true(g_mime_content_type_is_type(type, "multipart", "report"));
	g_assert_cmpstr(g_mime_content_type_get_parameter(type, "report-type"),
			==, "delivery-status");
	report = GMIME_MULTIPART(part);
	g_assert_cmpint(g_mime_multipart_get_count(report), ==, 3);

	part = g_mime_multipart_get_part(report, 0);
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(part), "text", "plain"));
	text = part_text(part);
	g_assert_nonnull(strstr(text, "5000251@example.com: failed\r\n"
				      "    552 5.2.2 mailbox full\r\n"));
	g_assert_nonnull(strstr(text, "5000252@example.com: failed\r\n"));

	part = g_mime_multipart_get_part(report, 1);
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(part), "message",
		"delivery-status"));
	status = part_text(part);
	g_assert_cmpstr(status, ==,
			"Reporting-MTA: dns; vvm.example.com\r\n"
			"Original-Envelope-Id: QQ314159\r\n"
			"Arrival-Date: Wed, 21 Dec 2005 15:34:50 +0000\r\n"
			"\r\n"
			"Final-Recipient: rfc822; 5000251@example.com\r\n"
			"Original-Recipient: rfc822; +5000251@example.com\r\n"
			"Action: failed\r\n"
			"Status: 5.2.2\r\n"
			"Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n"
			"\r\n"
			"Final-Recipient: rfc822; 5000252@example.com\r\n"
			"Action: failed\r\n"
			"Status: 5.1.1\r\n"
			"Diagnostic-Code: smtp; 550 5.1.1 no such "
			"subscriber\r\n");

	part = g_mime_multipart_get_part(report, 2);
	g_assert_true(GMIME_IS_MESSAGE_PART(part));
	inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
	g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(inner), "From"),
			==, "5000250@example.com");
	/* The original, byte for byte, between its part header and the
	 * closing delimiter. */
	data = g_bytes_get_data(bytes, &len);
	start = strstr(data, "Content-Type: message/rfc822\r\n\r\n");
	g_assert_nonnull(start);
	start += strlen("Content-Type: message/rfc822\r\n\r\n");
	tail = g_strdup_printf("\r\n--%s--\r\n",
			       g_mime_multipart_get_boundary(report));
	g_assert_cmpuint((gsize)(start - data) + strlen(original) +
				 strlen(tail),
			 ==, len);
	g_assert_cmpmem(start, strlen(original), original, strlen(original));
	g_assert_cmpstr(start + strlen(original), ==, tail);

	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void test_dsn_headers_only(void)
{
	g_autofree char *original = deposit_with(NULL, NULL);
	g_autofree char *text = NULL, *header = NULL;
	static const struct smtp_dsn_recipient ok[] = {
		{ "5000251@example.com", NULL, "delivered", "2.0.0",
		  "250 2.0.0 delivered" },
	};
	struct smtp_dsn dsn;
	GMimeMultipart *report;
	GMimeObject *part;
	GMimeMessage *msg;
	GBytes *bytes;

	dsn_init(&dsn, original);
	dsn.headers_only = true;
	dsn.envid = NULL;
	dsn.recipients = ok;
	dsn.n_recipients = 1;
	bytes = smtp_dsn_build(&dsn);
	msg = parse_bytes(bytes);
	assert_storable(bytes, msg);
	g_assert_cmpstr(g_mime_object_get_header(GMIME_OBJECT(msg), "Subject"),
			==, "Delivery Status Notification (Success)");
	report = GMIME_MULTIPART(g_mime_message_get_mime_part(msg));
	g_assert_cmpint(g_mime_multipart_get_count(report), ==, 3);
	text = part_text(g_mime_multipart_get_part(report, 1));
	g_assert_null(strstr(text, "Original-Envelope-Id"));
	g_assert_null(strstr(text, "Original-Recipient"));
	part = g_mime_multipart_get_part(report, 2);
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(part), "text",
		"rfc822-headers"));
	g_free(text);
	text = part_text(part);
	header = g_strndup(original, (gsize)(strstr(original, "\r\n\r\n") + 2 -
					     original));
	g_assert_cmpstr(text, ==, header);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

/* ENVID and ORCPT arrive decoded from xtext: no field forged from them. */
/* A report (what an MTA's bounce is) passes only where reports are
 * allowed (LMTP); a voice deposit must still be a voice message. */
static void test_reports_over_lmtp(void)
{
	g_autofree char *original = deposit_with(NULL, NULL);
	struct smtp_message_rules rules;
	struct smtp_message_info info;
	struct smtp_dsn dsn;

	dsn_init(&dsn, original);
	g_autoptr(GBytes) bytes = smtp_dsn_build(&dsn);
	g_autofree char *report = g_strndup(g_bytes_get_data(bytes, NULL),
					    g_bytes_get_size(bytes));
	/* Our own DSN says voice-message, as the spec wants; an MTA's says
	 * nothing of the kind. */
	char *context = strstr(report, "Message-Context: voice-message\r\n");
	g_assert_nonnull(context);
	memcpy(context, "X-Not-Context", 13);

	rules_default(&rules);
	assert_refused(report, &rules,
		       "554 5.6.1 only voice messages can be deposited");
	rules.allow_reports = true;
	assert_passes(report, &rules, &info);
	g_assert_cmpuint(info.voice_parts, ==, 0);
	g_assert_cmpuint(info.duration, ==, 0);
	/* reports only: a text message is still refused */
	static const char *const text_message[] = {
		"Message-Context: text-message", NULL
	};
	g_autofree char *text = deposit_with(text_message, NULL);
	assert_refused(text, &rules,
		       "554 5.6.1 only voice messages can be deposited");
}

static void test_dsn_injection(void)
{
	static const char original[] = "From: 5000250@example.com\r\n"
				       "Subject: Gr\xc3\xbc\xc3\x9f"
				       "e\r\n\r\nbody\r\n";
	static const struct smtp_dsn_recipient evil[] = {
		{ "5000251@example.com", "x\r\nAction: delivered", "failed",
		  "5.2.2", "552 5.2.2 mailbox full" },
	};
	struct smtp_dsn dsn;
	const char *data;
	GBytes *bytes;
	gsize len;

	dsn_init(&dsn, original);
	dsn.envid = "id\r\nFrom: forged";
	dsn.recipients = evil;
	dsn.n_recipients = 1;
	bytes = smtp_dsn_build(&dsn);
	data = g_bytes_get_data(bytes, &len);
	g_assert_nonnull(g_strstr_len(
		data, len, "Original-Envelope-Id: id??From: forged\r\n"));
	g_assert_nonnull(g_strstr_len(
		data, len,
		"Original-Recipient: rfc822; x??Action: delivered\r\n"));
	g_assert_nonnull(g_strstr_len(
		data, len,
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 8bit\r\n\r\n"));
	g_bytes_unref(bytes);
}

int main(int argc, char **argv)
{
	size_t i;

	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	guard_init(GUARD_PAGES);
	g_test_add_func("/smtp-message/pass/example-j", test_example_j);
	g_test_add_func("/smtp-message/pass/variants", test_variants_pass);
	g_test_add_func("/smtp-message/pass/two-voice-parts",
			test_two_voice_parts);
	g_test_add_func("/smtp-message/pass/forward", test_forward);
	g_test_add_func("/smtp-message/pass/reply", test_reply);
	g_test_add_func("/smtp-message/cuts", test_cuts);
	for (i = 0; i < G_N_ELEMENTS(refusal_cases); i++) {
		g_autofree char *path = g_strdup_printf(
			"/smtp-message/refuse/%s", refusal_cases[i].name);

		g_test_add_data_func(path, &refusal_cases[i], test_refusal);
	}
	g_test_add_func("/smtp-message/refuse/nul", test_refusal_nul);
	g_test_add_func("/smtp-message/stored/trace", test_stored_trace);
	g_test_add_func("/smtp-message/stored/subject", test_stored_subject);
	g_test_add_func("/smtp-message/stored/subject-added",
			test_stored_subject_added);
	g_test_add_func("/smtp-message/dsn/report", test_dsn);
	g_test_add_func("/smtp-message/dsn/headers-only",
			test_dsn_headers_only);
	g_test_add_func("/smtp-message/dsn/injection", test_dsn_injection);
	g_test_add_func("/smtp-message/reports-over-lmtp",
			test_reports_over_lmtp);
	return g_test_run();
}
