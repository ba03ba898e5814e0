/* Tests of vvmfs/index: the IMAP strings against hand-written expectations
 * (RFC 3501 7.4.2), section offsets against the exact bytes they must slice,
 * every rejection, and the storage round trip. Each message is indexed from
 * a copy that ends right before an unreadable page, so that reading past its
 * end crashes the test (as picohttpparser's tests do). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "index.h"

struct guarded {
	char *map;
	size_t map_len;
	const char *data;
	size_t len;
};

static void guarded_init(struct guarded *g, const void *raw, size_t raw_len)
{
	GBytes *canonical = index_canonicalize(raw, raw_len);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages;
	const void *data = g_bytes_get_data(canonical, &g->len);

	pages = (g->len + page - 1) / page;
	g->map_len = (pages + 1) * page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(g->map != MAP_FAILED);
	g_assert_cmpint(mprotect(g->map + pages * page, page, PROT_NONE), ==, 0);
	g->data = g->map + pages * page - g->len;
	if (g->len > 0)
		memcpy(g->map + pages * page - g->len, data, g->len);
	g_bytes_unref(canonical);
}

static void guarded_release(struct guarded *g)
{
	munmap(g->map, g->map_len);
}

static char *crlf(const char *text)
{
	GBytes *bytes = index_canonicalize(text, strlen(text));
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	char *copy = g_strndup(len > 0 ? data : "", len);

	g_bytes_unref(bytes);
	return copy;
}

static struct index *index_text(struct guarded *g, const char *text)
{
	struct index_limits limits;
	struct index *index = NULL;
	const char *reason = NULL;
	int ret;

	index_limits_default(&limits);
	guarded_init(g, text, strlen(text));
	ret = index_message(g->data, g->len, &limits, &index, &reason);
	if (ret != 0)
		g_test_message("rejected: %s", reason);
	g_assert_cmpint(ret, ==, 0);
	g_assert_nonnull(index);
	g_assert_cmpuint(index->size, ==, g->len);
	return index;
}

static const struct index_section *find_section(const struct index *index,
						const char *part)
{
	guint i;

	for (i = 0; i < index->sections->len; i++) {
		const struct index_section *s =
			&g_array_index(index->sections, struct index_section, i);

		if (strcmp(s->part, part) == 0)
			return s;
	}
	g_test_message("no section %s", part);
	g_assert_not_reached();
}

/* header and body are written with LF; the message has CRLF. */
static void assert_section(const struct index *index, const struct guarded *g,
			   const char *part, const char *header,
			   const char *body)
{
	const struct index_section *s = find_section(index, part);
	char *want_header = crlf(header), *want_body = crlf(body);
	char *got_header, *got_body;

	g_assert_cmpuint(s->header_offset + s->header_length, <=, g->len);
	g_assert_cmpuint(s->body_offset + s->body_length, <=, g->len);
	got_header = g_strndup(g->data + s->header_offset, s->header_length);
	got_body = g_strndup(g->data + s->body_offset, s->body_length);
	g_assert_cmpstr(got_header, ==, want_header);
	g_assert_cmpstr(got_body, ==, want_body);
	g_free(want_header);
	g_free(want_body);
	g_free(got_header);
	g_free(got_body);
}

/* The top-level sections: the header up to its blank line, and the rest. */
static void assert_top(const struct index *index, const struct guarded *g,
		       const char *text)
{
	const char *blank = strstr(text, "\n\n");
	char *header;

	g_assert_nonnull(blank);
	header = g_strndup(text, (gsize)(blank + 2 - text));
	assert_section(index, g, "", header, blank + 2);
	g_free(header);
}

static void assert_parts(const struct index *index, const char *want)
{
	GString *parts = g_string_new(NULL);
	guint i;

	for (i = 0; i < index->sections->len; i++) {
		const struct index_section *s =
			&g_array_index(index->sections, struct index_section, i);

		g_string_append_printf(parts, "%s[%s]", i > 0 ? " " : "",
				       s->part);
	}
	g_assert_cmpstr(parts->str, ==, want);
	g_string_free(parts, TRUE);
}

static const char simple_msg[] =
	"From: \"Alice \\\"A\\\" Smith\" <alice@example.com>\n"
	"To: bob@example.com\n"
	"Subject: Hello \"world\" back\\slash\n"
	"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
	"Message-ID: <1@example.com>\n"
	"\n"
	"Hello Bob,\n"
	"see you.\n";

static void test_single_part(void)
{
	struct guarded g;
	struct index *index = index_text(&g, simple_msg);
	const char *header =
		"From: \"Alice \\\"A\\\" Smith\" <alice@example.com>\n"
		"To: bob@example.com\n"
		"Subject: Hello \"world\" back\\slash\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
		"Message-ID: <1@example.com>\n"
		"\n";
	char *sections;

	g_assert_cmpstr(index->envelope, ==,
		"(\"Tue, 19 Dec 2006 10:12:09 +0000\" "
		"\"Hello \\\"world\\\" back\\\\slash\" "
		"((\"Alice \\\"A\\\" Smith\" NIL \"alice\" \"example.com\")) "
		"((\"Alice \\\"A\\\" Smith\" NIL \"alice\" \"example.com\")) "
		"((\"Alice \\\"A\\\" Smith\" NIL \"alice\" \"example.com\")) "
		"((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL "
		"\"<1@example.com>\")");
	g_assert_cmpstr(index->bodystructure, ==,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"22 2 NIL NIL NIL NIL)");
	g_assert_cmpstr(index->body, ==,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"22 2)");
	assert_parts(index, "[] [1]");
	assert_section(index, &g, "", header, "Hello Bob,\nsee you.\n");
	assert_section(index, &g, "1", header, "Hello Bob,\nsee you.\n");
	sections = index_sections_format(index);
	g_assert_cmpstr(sections, ==, ". 0 173 173 22\n1 0 173 173 22\n");
	g_assert_cmpint(index->context, ==, INDEX_CONTEXT_NONE);
	g_assert_null(index->context_text);
	g_assert_cmpint(index->duration, ==, -1);
	g_assert_cmpint(index->expires, ==, 0);
	g_assert_cmpint(index->date, ==, 1166523129);
	g_free(sections);
	index_free(&index);
	g_assert_null(index);
	guarded_release(&g);
}

/* The spec's Example C with its lost line breaks restored. */
static const char voice_msg[] =
	"Return-Path: <>\n"
	"subject: voice mail\n"
	"MIME-Version: 1.0 (Voice Version 2.0)\n"
	"Message-Id: <31.24.2326006@msu31_24>\n"
	"Content-Type: Multipart/voice-message; boundary=\"------------"
	"Boundary-00=_90NIQYRXFQQMYJ0CCJD0\"\n"
	"From: 771004@vi.com\n"
	"To: 771000@vi.com\n"
	"Content-Duration: 17\n"
	"Message-Context: voice-message\n"
	"Date: Tue, 19 Dec 2006 10:12:09 +0000 (UTC)\n"
	"\n"
	"--------------Boundary-00=_90NIQYRXFQQMYJ0CCJD0\n"
	"Content-Type: Text/Plain\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"click on attachment\n"
	"--------------Boundary-00=_90NIQYRXFQQMYJ0CCJD0\n"
	"Content-Type: audio/amr\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-Disposition: attachment; filename=\"vm.amr\"\n"
	"Content-Duration: 17\n"
	"\n"
	"IyFBTVIKPJEXFr5meeHgAeev8AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	"--------------Boundary-00=_90NIQYRXFQQMYJ0CCJD0--\n";

static void test_voice_message(void)
{
	struct guarded g;
	struct index *index = index_text(&g, voice_msg);

	g_assert_cmpstr(index->envelope, ==,
		"(\"Tue, 19 Dec 2006 10:12:09 +0000 (UTC)\" \"voice mail\" "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771000\" \"vi.com\")) NIL NIL NIL "
		"\"<31.24.2326006@msu31_24>\")");
	g_assert_cmpstr(index->bodystructure, ==,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"19 1 NIL NIL NIL NIL)"
		"(\"AUDIO\" \"AMR\" NIL NIL NIL \"BASE64\" 76 NIL "
		"(\"ATTACHMENT\" (\"FILENAME\" \"vm.amr\")) NIL NIL) "
		"\"VOICE-MESSAGE\" (\"BOUNDARY\" "
		"\"------------Boundary-00=_90NIQYRXFQQMYJ0CCJD0\") NIL NIL NIL)");
	g_assert_cmpstr(index->body, ==,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"19 1)(\"AUDIO\" \"AMR\" NIL NIL NIL \"BASE64\" 76) "
		"\"VOICE-MESSAGE\")");
	assert_parts(index, "[] [1] [2]");
	assert_section(index, &g, "1",
		       "Content-Type: Text/Plain\n"
		       "Content-Transfer-Encoding: 7bit\n\n",
		       "click on attachment");
	assert_section(index, &g, "2",
		       "Content-Type: audio/amr\n"
		       "Content-Transfer-Encoding: base64\n"
		       "Content-Disposition: attachment; filename=\"vm.amr\"\n"
		       "Content-Duration: 17\n\n",
		       "IyFBTVIKPJEXFr5meeHgAeev8AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		       "AAAAAAAAAAAAAAAAAA");
	assert_top(index, &g, voice_msg);
	g_assert_cmpint(index->context, ==, INDEX_CONTEXT_VOICE);
	g_assert_cmpstr(index->context_text, ==, "voice-message");
	g_assert_cmpint(index->duration, ==, 17);
	g_assert_cmpint(index->date, ==, 1166523129);
	index_free(&index);
	guarded_release(&g);
}

static const char forward_msg[] =
	"From: 771000@vi.com\n"
	"To: 771001@vi.com\n"
	"Subject: Fwd: voice mail\n"
	"Date: Wed, 20 Dec 2006 08:00:00 +0000\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=outer\n"
	"\n"
	"preamble\n"
	"--outer\n"
	"\n"
	"Listen to this.\n"
	"\n"
	"--outer\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: 771004@vi.com\n"
	"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
	"Subject: voice mail\n"
	"Content-Type: multipart/mixed; boundary=\"in ner\"\n"
	"\n"
	"--in ner\n"
	"Content-Type: audio/amr\n"
	"Content-Duration: 9\n"
	"\n"
	"AAAA\n"
	"--in ner--\n"
	"\n"
	"--outer--\n"
	"epilogue\n";

static void test_forward(void)
{
	struct guarded g;
	struct index *index = index_text(&g, forward_msg);
	const char *inner_header =
		"From: 771004@vi.com\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
		"Subject: voice mail\n"
		"Content-Type: multipart/mixed; boundary=\"in ner\"\n\n";
	const char *inner_body =
		"--in ner\n"
		"Content-Type: audio/amr\n"
		"Content-Duration: 9\n"
		"\n"
		"AAAA\n"
		"--in ner--\n";
	char *inner = g_strconcat(inner_header, inner_body, NULL);

	g_assert_cmpstr(index->bodystructure, ==,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"17 1 NIL NIL NIL NIL)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 209 "
		"(\"Tue, 19 Dec 2006 10:12:09 +0000\" \"voice mail\" "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771004\" \"vi.com\")) NIL NIL NIL NIL NIL) "
		"((\"AUDIO\" \"AMR\" NIL NIL NIL \"7BIT\" 4 NIL NIL NIL NIL) "
		"\"MIXED\" (\"BOUNDARY\" \"in ner\") NIL NIL NIL) 11 "
		"NIL NIL NIL NIL) "
		"\"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)");
	g_assert_cmpstr(index->body, ==,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"17 1)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 209 "
		"(\"Tue, 19 Dec 2006 10:12:09 +0000\" \"voice mail\" "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771004\" \"vi.com\")) "
		"((NIL NIL \"771004\" \"vi.com\")) NIL NIL NIL NIL NIL) "
		"((\"AUDIO\" \"AMR\" NIL NIL NIL \"7BIT\" 4) \"MIXED\") 11) "
		"\"MIXED\")");
	assert_parts(index, "[] [1] [2] [2.] [2.1]");
	assert_top(index, &g, forward_msg);
	assert_section(index, &g, "1", "\n", "Listen to this.\n");
	assert_section(index, &g, "2", "Content-Type: message/rfc822\n\n",
		       inner);
	assert_section(index, &g, "2.", inner_header, inner_body);
	assert_section(index, &g, "2.1",
		       "Content-Type: audio/amr\nContent-Duration: 9\n\n",
		       "AAAA");
	/* The forwarded audio is not this message's. */
	g_assert_cmpint(index->duration, ==, -1);
	g_free(inner);
	index_free(&index);
	guarded_release(&g);
}

/* A message/rfc822 whose message is not multipart: N.1 is its body. */
static void test_forward_single(void)
{
	struct guarded g;
	struct index *index = index_text(&g,
		"From: a@example.com\n"
		"Date: Wed, 20 Dec 2006 08:00:00 +0000\n"
		"Content-Type: message/rfc822\n"
		"\n"
		"From: b@example.com\n"
		"Subject: inner\n"
		"\n"
		"text\n");

	assert_parts(index, "[] [1] [1.] [1.1]");
	assert_section(index, &g, "1", "From: a@example.com\n"
		       "Date: Wed, 20 Dec 2006 08:00:00 +0000\n"
		       "Content-Type: message/rfc822\n\n",
		       "From: b@example.com\nSubject: inner\n\ntext\n");
	assert_section(index, &g, "1.", "From: b@example.com\n"
		       "Subject: inner\n\n", "text\n");
	assert_section(index, &g, "1.1", "From: b@example.com\n"
		       "Subject: inner\n\n", "text\n");
	g_assert_cmpstr(index->body, ==,
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 45 "
		"(NIL \"inner\" ((NIL NIL \"b\" \"example.com\")) "
		"((NIL NIL \"b\" \"example.com\")) "
		"((NIL NIL \"b\" \"example.com\")) NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"6 1) 4)");
	index_free(&index);
	guarded_release(&g);
}

static void test_nested(void)
{
	struct guarded g;
	struct index *index = index_text(&g,
		"From: 771004@vi.com\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
		"Message-Context: Video-Message (a comment)\n"
		"Content-Type: multipart/mixed; boundary=a\n"
		"\n"
		"--a\n"
		"Content-Type: multipart/alternative; boundary=aa\n"
		"\n"
		"--aa\n"
		"Content-Type: text/plain; charset=UTF-8; format=flowed\n"
		"Content-Language: en, fr\n"
		"Content-ID: <c1@x>\n"
		"Content-Description: note\n"
		"\n"
		"one\n"
		"--aa\n"
		"Content-Type: text/html\n"
		"\n"
		"<p>one</p>\n"
		"--aa--\n"
		"--a\n"
		"Content-Type: audio/wav; codec=g711a\n"
		"Content-Duration: 42\n"
		"Content-Location: http://example.com/a.wav\n"
		"Content-MD5: Q2hlY2s=\n"
		"Content-Disposition: inline\n"
		"\n"
		"UklGRg==\n"
		"--a--\n");

	g_assert_cmpstr(index->bodystructure, ==,
		"(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\" \"FORMAT\" \"flowed\") "
		"\"<c1@x>\" \"note\" \"7BIT\" 3 1 NIL NIL (\"en\" \"fr\") NIL)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"10 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"aa\") "
		"NIL NIL NIL)"
		"(\"AUDIO\" \"WAV\" (\"CODEC\" \"g711a\") NIL NIL \"7BIT\" 8 "
		"\"Q2hlY2s=\" (\"INLINE\" NIL) NIL \"http://example.com/a.wav\") "
		"\"MIXED\" (\"BOUNDARY\" \"a\") NIL NIL NIL)");
	assert_parts(index, "[] [1] [1.1] [1.2] [2]");
	assert_section(index, &g, "1",
		       "Content-Type: multipart/alternative; boundary=aa\n\n",
		       "--aa\n"
		       "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
		       "Content-Language: en, fr\n"
		       "Content-ID: <c1@x>\n"
		       "Content-Description: note\n"
		       "\n"
		       "one\n"
		       "--aa\n"
		       "Content-Type: text/html\n"
		       "\n"
		       "<p>one</p>\n"
		       "--aa--");
	assert_section(index, &g, "1.1",
		       "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
		       "Content-Language: en, fr\n"
		       "Content-ID: <c1@x>\n"
		       "Content-Description: note\n\n",
		       "one");
	assert_section(index, &g, "1.2", "Content-Type: text/html\n\n",
		       "<p>one</p>");
	assert_section(index, &g, "2",
		       "Content-Type: audio/wav; codec=g711a\n"
		       "Content-Duration: 42\n"
		       "Content-Location: http://example.com/a.wav\n"
		       "Content-MD5: Q2hlY2s=\n"
		       "Content-Disposition: inline\n\n",
		       "UklGRg==");
	g_assert_cmpint(index->duration, ==, 42);
	g_assert_cmpint(index->context, ==, INDEX_CONTEXT_VIDEO);
	g_assert_cmpstr(index->context_text, ==, "Video-Message (a comment)");
	index_free(&index);
	guarded_release(&g);
}

static void test_rfc2047(void)
{
	struct guarded g;
	struct index *index = index_text(&g,
		"From: =?iso-8859-1?q?J=F6rg?= <joerg@example.de>\n"
		"To: =?utf-8?q?Ren=C3=A9?= <rene@example.fr>,\n"
		" \"Plain Name\" <p@example.org>\n"
		"Subject: =?utf-8?q?caf=C3=A9?= au lait\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
		"Content-Type: text/plain; name*=utf-8''%C3%A9t%C3%A9.txt\n"
		"\n"
		"x\n");
	char *decoded;

	/* Encoded words as written stay; names GMime decoded are encoded
	 * again, so the ENVELOPE stays 7-bit. */
	g_assert_cmpstr(index->envelope, ==,
		"(\"Tue, 19 Dec 2006 10:12:09 +0000\" "
		"\"=?utf-8?q?caf=C3=A9?= au lait\" "
		"((\"=?UTF-8?b?SsO2cmc=?=\" NIL \"joerg\" \"example.de\")) "
		"((\"=?UTF-8?b?SsO2cmc=?=\" NIL \"joerg\" \"example.de\")) "
		"((\"=?UTF-8?b?SsO2cmc=?=\" NIL \"joerg\" \"example.de\")) "
		"((\"=?UTF-8?b?UmVuw6k=?=\" NIL \"rene\" \"example.fr\")"
		"(\"Plain Name\" NIL \"p\" \"example.org\")) NIL NIL NIL NIL)");
	decoded = g_mime_utils_header_decode_text(NULL, "=?UTF-8?b?SsO2cmc=?=");
	g_assert_cmpstr(decoded, ==, "J\xc3\xb6rg");
	g_free(decoded);
	g_assert_cmpstr(index->body, ==,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME*\" "
		"\"utf-8''%C3%A9t%C3%A9.txt\") NIL NIL \"7BIT\" 3 1)");
	index_free(&index);
	guarded_release(&g);

	/* Raw 8-bit text becomes encoded words; an 8-bit Message-ID, which
	 * cannot be encoded, a literal. */
	index = index_text(&g,
		"From: a@example.com\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
		"Subject: caf\xc3\xa9\n"
		"Message-ID: <\xc3\xa9@x>\n"
		"\n");
	g_assert_cmpstr(index->envelope, ==,
		"(\"Tue, 19 Dec 2006 10:12:09 +0000\" \"=?UTF-8?b?Y2Fmw6k=?=\" "
		"((NIL NIL \"a\" \"example.com\")) "
		"((NIL NIL \"a\" \"example.com\")) "
		"((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL "
		"{6}\r\n<\xc3\xa9@x>)");
	index_free(&index);
	guarded_release(&g);
}

static void test_groups(void)
{
	struct guarded g;
	struct index *index = index_text(&g,
		"From: Voice Mail <vm@example.com>\n"
		"Sender: relay@example.com\n"
		"Reply-To: \n"
		"To: friends: \"Doe, John\" <john@x.org>, ann@y.org;, "
		"undisclosed-recipients:;\n"
		"Cc: 771004\n"
		"Bcc: hidden@example.com\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000\n"
		"In-Reply-To: <a@b>\n"
		"Subject:\n"
		"\n"
		"x\n");

	g_assert_cmpstr(index->envelope, ==,
		"(\"Tue, 19 Dec 2006 10:12:09 +0000\" \"\" "
		"((\"Voice Mail\" NIL \"vm\" \"example.com\")) "
		"((NIL NIL \"relay\" \"example.com\")) "
		"((\"Voice Mail\" NIL \"vm\" \"example.com\")) "
		"((NIL NIL \"friends\" NIL)"
		"(\"Doe, John\" NIL \"john\" \"x.org\")"
		"(NIL NIL \"ann\" \"y.org\")(NIL NIL NIL NIL)"
		"(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
		"((NIL NIL \"771004\" \"\")) "
		"((NIL NIL \"hidden\" \"example.com\")) \"<a@b>\" NIL)");
	index_free(&index);
	guarded_release(&g);
}

static void test_header_only(void)
{
	struct guarded g;
	struct index *index = index_text(&g,
		"From: a@example.com\n"
		"Date: Tue, 19 Dec 2006 10:12:09 +0000");

	assert_section(index, &g, "",
		       "From: a@example.com\nDate: Tue, 19 Dec 2006 10:12:09 +0000",
		       "");
	g_assert_cmpuint(find_section(index, "")->body_offset, ==, g.len);
	g_assert_cmpstr(index->body, ==,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
		"0 0)");
	index_free(&index);
	guarded_release(&g);
}

static void test_context_and_dates(void)
{
	static const struct {
		const char *value;
		enum index_context context;
	} contexts[] = {
		{ "voice-message", INDEX_CONTEXT_VOICE },
		{ "Voice-Message", INDEX_CONTEXT_VOICE },
		{ "video-message", INDEX_CONTEXT_VIDEO },
		{ "FAX-MESSAGE", INDEX_CONTEXT_FAX },
		{ "text-message", INDEX_CONTEXT_TEXT },
		{ "multimedia-message", INDEX_CONTEXT_MULTIMEDIA },
		{ "x-empty-call-capture-message", INDEX_CONTEXT_OTHER },
		{ "voice-messages", INDEX_CONTEXT_OTHER },
	};
	struct guarded g;
	struct index *index;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(contexts); i++) {
		char *msg = g_strdup_printf("From: a@b.c\nDate: x\n"
					    "Message-Context: %s\n\n",
					    contexts[i].value);

		index = index_text(&g, msg);
		g_assert_cmpint(index->context, ==, contexts[i].context);
		g_assert_cmpstr(index->context_text, ==, contexts[i].value);
		/* An unparseable Date is kept but gives no time. */
		g_assert_cmpint(index->date, ==, 0);
		index_free(&index);
		guarded_release(&g);
		g_free(msg);
	}

	index = index_text(&g,
		"From: a@b.c\n"
		"Date: Wed, 21 Dec 2005 16:34:50 +0100 (CET)\n"
		"Expires: Sat, 31 Dec 2005 00:00:00 +0100 (CET)\n"
		"Content-Duration: 18\n\n");
	g_assert_cmpint(index->date, ==, 1135179290);
	g_assert_cmpint(index->expires, ==, 1135983600);
	g_assert_cmpint(index->duration, ==, 18);
	index_free(&index);
	guarded_release(&g);

	index = index_text(&g, "From: a@b.c\nDate: x\nExpires: never\n\n");
	g_assert_cmpint(index->expires, ==, 0);
	index_free(&index);
	guarded_release(&g);
}

static void test_canonicalize(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "a", "a" },
		{ "a\nb\n", "a\r\nb\r\n" },
		{ "a\rb\r", "a\r\nb\r\n" },
		{ "a\r\nb\r\n", "a\r\nb\r\n" },
		{ "\n\r\r\n\r", "\r\n\r\n\r\n\r\n" },
		{ "a\n\rb", "a\r\n\r\nb" },
	};
	guint i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		GBytes *bytes = index_canonicalize(cases[i].in,
						   strlen(cases[i].in));
		gsize len;
		const char *data = g_bytes_get_data(bytes, &len);

		g_assert_cmpmem(data, len, cases[i].out, strlen(cases[i].out));
		g_bytes_unref(bytes);
	}
}

/* error 0 and reason NULL: accepted, and nothing may be reported. */
static void assert_rejected(const void *data, size_t len,
			    const struct index_limits *limits, int error,
			    const char *reason)
{
	struct index *index = NULL;
	const char *got = NULL;
	struct guarded g;

	guarded_init(&g, data, len);
	g_assert_cmpint(index_message(g.data, g.len, limits, &index, &got), ==,
			error);
	g_assert_cmpstr(got, ==, reason);
	g_assert_true((index != NULL) == (error == 0));
	index_free(&index);
	guarded_release(&g);
}

static void reject(const char *text, const char *reason)
{
	struct index_limits limits;

	index_limits_default(&limits);
	assert_rejected(text, strlen(text), &limits, -EINVAL, reason);
}

/* A message of depth levels of multipart nesting. */
static char *nested_msg(unsigned depth)
{
	GString *msg = g_string_new("From: a@b.c\nDate: x\n");
	unsigned i;

	for (i = 0; i < depth; i++)
		g_string_append_printf(msg, "Content-Type: multipart/mixed; "
				       "boundary=b%u\n\n--b%u\n", i, i);
	g_string_append(msg, "\nleaf\n");
	for (i = depth; i-- > 0;)
		g_string_append_printf(msg, "--b%u--\n", i);
	return g_string_free(msg, FALSE);
}

static void test_rejections(void)
{
	static const char nul_msg[] = "From: a@b.c\nDate: x\n\nhel\0lo\n";
	struct index_limits limits;
	struct index *index = NULL;
	const char *reason = NULL;
	char *msg;

	index_limits_default(&limits);
	assert_rejected("", 0, &limits, -EINVAL, "empty message");
	assert_rejected(nul_msg, sizeof(nul_msg) - 1, &limits, -EINVAL,
			"NUL byte in message");
	g_assert_cmpint(index_message("From: a@b.c\rDate: x\r\n\r\n", 23,
				      &limits, &index, &reason), ==, -EINVAL);
	g_assert_cmpstr(reason, ==, "bare CR or LF in message");
	g_assert_cmpint(index_message("From: a@b.c\r\nDate: x\n\r\n", 23,
				      &limits, &index, &reason), ==, -EINVAL);
	g_assert_cmpstr(reason, ==, "bare CR or LF in message");
	g_assert_null(index);

	reject("Date: x\n\nbody\n", "no From header");
	reject("From: <>\nDate: x\n\nbody\n", "From header without an address");
	reject("From: a@b.c\n\nbody\n", "no Date header");
	reject("From: a@b.c\nDate: x\nnot a header\n\nbody\n",
	       "malformed header line");
	reject(" From: a@b.c\nDate: x\n\nbody\n", "malformed header line");
	reject("From : a@b.c\nDate: x\n\nbody\n", "malformed header line");
	reject("From: a@b.c\nDate: x\nhello, no blank line\n",
	       "malformed header line");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; b=x\n\n"
	       "--x\n\n--x--\n", "multipart without boundary");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
	       "boundary=\"\"\n\n--\n\n----\n", "multipart without boundary");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
	       "boundary=x\n\n--x\n\npart\n", "missing closing MIME boundary");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
	       "boundary=x\n\n--xy\n\npart\n--x--y\n",
	       "missing closing MIME boundary");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
	       "boundary=x\n\npreamble\n--x--\n", "multipart without any part");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
	       "boundary=x\n\n--x\nbad part header\n--x--\n",
	       "malformed header line");
	reject("From: a@b.c\nDate: x\nContent-Type: message/rfc822\n"
	       "Content-Transfer-Encoding: base64\n\nRnJvbTogYUBiLmMK\n",
	       "encoded message/rfc822 part");
	msg = g_strdup("From: a@b.c\nDate: x\nContent-Type: message/rfc822\n"
		       "Content-Transfer-Encoding: 8bit (comment)\n\nFrom: c@d.e\n");
	assert_rejected(msg, strlen(msg), &limits, 0, NULL);
	g_free(msg);
	reject("From: a@b.c\nDate: x\nContent-Duration: 17s\n\n",
	       "bad Content-Duration");
	reject("From: a@b.c\nDate: x\nContent-Duration: -1\n\n",
	       "bad Content-Duration");
	reject("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
	       "boundary=x\n\n--x\nContent-Type: audio/amr\n"
	       "Content-Duration: \n\nAAAA\n--x--\n", "bad Content-Duration");

	/* 24 bytes once canonical */
	msg = g_strdup("From: a@b.c\nDate: x\n\n");
	limits.max_size = 23;
	assert_rejected(msg, strlen(msg), &limits, -EFBIG, "message too large");
	limits.max_size = 24;
	assert_rejected(msg, strlen(msg), &limits, 0, NULL);
	g_free(msg);

	index_limits_default(&limits);
	limits.max_header_line = 40;
	msg = g_strdup("From: a@b.c\nDate: x\nSubject: 0123456789\n"
		       " 0123456789\n 0123456789\n\n");
	assert_rejected(msg, strlen(msg), &limits, -EINVAL,
			"header line too long");
	g_free(msg);

	index_limits_default(&limits);
	limits.max_depth = 3;
	msg = nested_msg(4);
	assert_rejected(msg, strlen(msg), &limits, -EINVAL,
			"MIME nesting too deep");
	g_free(msg);
	msg = nested_msg(3);
	assert_rejected(msg, strlen(msg), &limits, 0, NULL);
	g_free(msg);

	index_limits_default(&limits);
	limits.max_parts = 3;
	msg = g_strdup("From: a@b.c\nDate: x\nContent-Type: multipart/mixed; "
		       "boundary=x\n\n--x\n\n1\n--x\n\n2\n--x\n\n3\n--x--\n");
	assert_rejected(msg, strlen(msg), &limits, -EINVAL,
			"too many MIME parts");
	g_free(msg);
}

static void assert_same(const struct index *a, const struct index *b)
{
	char *sa = index_sections_format(a), *sb = index_sections_format(b);

	g_assert_cmpstr(a->envelope, ==, b->envelope);
	g_assert_cmpstr(a->bodystructure, ==, b->bodystructure);
	g_assert_cmpstr(a->body, ==, b->body);
	g_assert_cmpstr(sa, ==, sb);
	g_assert_cmpint(a->context, ==, b->context);
	g_assert_cmpstr(a->context_text, ==, b->context_text);
	g_assert_cmpint(a->duration, ==, b->duration);
	g_assert_cmpint(a->expires, ==, b->expires);
	g_assert_cmpint(a->date, ==, b->date);
	g_assert_cmpuint(a->size, ==, b->size);
	g_free(sa);
	g_free(sb);
}

static void assert_corrupt(const void *data, size_t len)
{
	struct index *index = NULL;

	g_assert_cmpint(index_deserialize(data, len, &index), ==, -EINVAL);
	g_assert_null(index);
}

static void test_serialize(void)
{
	const char *messages[] = { simple_msg, voice_msg, forward_msg };
	struct index *index, *copy = NULL;
	GVariant *forged;
	struct guarded g;
	GBytes *bytes;
	const guint8 *data;
	guint8 *damaged;
	gsize len, i, m;

	for (m = 0; m < G_N_ELEMENTS(messages); m++) {
		index = index_text(&g, messages[m]);
		bytes = index_serialize(index);
		data = g_bytes_get_data(bytes, &len);
		g_assert_cmpint(index_deserialize(data, len, &copy), ==, 0);
		assert_same(index, copy);
		index_free(&copy);

		/* Every truncation, and the version byte changed. */
		for (i = 0; i < len; i++)
			assert_corrupt(data, i);
		damaged = g_memdup2(data, len);
		damaged[0] = 2;
		assert_corrupt(damaged, len);
		/* Damage anywhere either is refused or reads back as some
		 * index; it never crashes. */
		for (i = 0; i < len; i++) {
			memcpy(damaged, data, len);
			damaged[i] ^= 0x5a;
			if (index_deserialize(damaged, len, &copy) == 0)
				index_free(&copy);
		}
		g_free(damaged);
		g_bytes_unref(bytes);
		index_free(&index);
		guarded_release(&g);
	}
	assert_corrupt("", 0);
	assert_corrupt("garbage", 7);

	/* Well-formed, but a section outside the message. */
	forged = g_variant_ref_sink(g_variant_new("(yv)", 1,
		g_variant_new("(^ay^ay^ay@a(aytttt)y@mayxxxt)", "()", "()", "()",
			      g_variant_new_parsed("[(b'', @t 0, @t 10, @t 10, @t 1)]"),
			      0, g_variant_new_parsed("@may nothing"),
			      (gint64)-1, (gint64)0, (gint64)0, (guint64)10)));
	bytes = g_variant_get_data_as_bytes(forged);
	data = g_bytes_get_data(bytes, &len);
	assert_corrupt(data, len);
	g_bytes_unref(bytes);
	g_variant_unref(forged);
}

static void test_is_canonical(void)
{
	static const struct {
		const char *text;
		bool canonical;
	} cases[] = {
		{ "", true }, { "a\r\nb\r\n", true }, { "a\r\nb", true },
		{ "a\nb\r\n", false }, { "a\r\nb\r", false },
		{ "\n", false }, { "a\rb\r\n", false }, { "\r\n\r\n", true },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) canon = index_canonicalize(
			cases[i].text, strlen(cases[i].text));

		g_assert_cmpint(index_is_canonical(cases[i].text,
						   strlen(cases[i].text)), ==,
				cases[i].canonical);
		/* Canonical input is exactly what canonicalizing gives. */
		if (cases[i].canonical)
			g_assert_cmpmem(g_bytes_get_data(canon, NULL),
					g_bytes_get_size(canon), cases[i].text,
					strlen(cases[i].text));
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	index_init();
	g_test_add_func("/index/single-part", test_single_part);
	g_test_add_func("/index/voice-message", test_voice_message);
	g_test_add_func("/index/forward", test_forward);
	g_test_add_func("/index/forward-single", test_forward_single);
	g_test_add_func("/index/nested", test_nested);
	g_test_add_func("/index/rfc2047", test_rfc2047);
	g_test_add_func("/index/groups", test_groups);
	g_test_add_func("/index/header-only", test_header_only);
	g_test_add_func("/index/context-and-dates", test_context_and_dates);
	g_test_add_func("/index/canonicalize", test_canonicalize);
	g_test_add_func("/index/rejections", test_rejections);
	g_test_add_func("/index/serialize", test_serialize);
	g_test_add_func("/index/is-canonical", test_is_canonical);
	return g_test_run();
}
