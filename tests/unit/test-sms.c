/* Tests of lib/sms: the spec's examples byte for byte, every field limit,
 * the client (MO) forms real phones send, the TS 23.040 UDH, the annex's
 * 3DES, and generated passwords.
 *
 * Parsers are fed each input placed right before an unmapped page, whole
 * and cut at every length, so that reading one byte too far crashes. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>

#include "vvm-sms.h"

/* ---- helpers ---- */

struct guarded {
	void *map;
	size_t map_len;
	char *data;
};

/* Copies s so that its last byte is the last one before a PROT_NONE
 * page. */
static void guarded_init(struct guarded *g, const void *s, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + page - 1) / page + 1;

	g->map_len = pages * page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(g->map != MAP_FAILED);
	g_assert_cmpint(mprotect((char *)g->map + (pages - 1) * page, page,
				 PROT_NONE), ==, 0);
	g->data = (char *)g->map + (pages - 1) * page - len;
	if (len > 0)
		memcpy(g->data, s, len);
}

static void guarded_release(struct guarded *g)
{
	munmap(g->map, g->map_len);
}

/* Parses text at a page end; then every shorter cut of it, which must
 * not crash whatever the outcome. Returns the whole text's parse. */
static int server_parse_guarded(const char *text, size_t len,
				struct vvm_sms_server_msg **msg_r,
				const char **reason_r)
{
	struct vvm_sms_server_msg *msg = NULL;
	struct guarded g;
	int ret;

	for (size_t cut = 0; cut < len; cut++) {
		guarded_init(&g, text, cut);
		if (vvm_sms_server_parse(g.data, cut, &msg, NULL) == 0)
			vvm_sms_server_msg_destroy(&msg);
		guarded_release(&g);
	}
	guarded_init(&g, text, len);
	ret = vvm_sms_server_parse(g.data, len, msg_r, reason_r);
	guarded_release(&g);
	return ret;
}

static int mo_parse_guarded(const char *text, struct vvm_sms_mo *mo_r,
			    int *rc_r, const char **reason_r)
{
	size_t len = strlen(text);
	struct vvm_sms_mo mo;
	struct guarded g;
	int ret, rc;

	/* Every prefix: parsed or refused, never read past. */
	for (size_t cut = 0; cut < len; cut++) {
		guarded_init(&g, text, cut);
		ret = vvm_sms_mo_parse(g.data, cut, &mo, &rc, NULL);
		g_assert_true(ret == 0 || ret == -EINVAL);
		guarded_release(&g);
	}
	guarded_init(&g, text, len);
	ret = vvm_sms_mo_parse(g.data, len, mo_r, rc_r, reason_r);
	guarded_release(&g);
	return ret;
}

/* Parses text and encodes it again; the result must be expect. */
static void assert_roundtrip(const char *text, const char *expect)
{
	struct vvm_sms_server_msg *msg = NULL;
	const char *reason = NULL;
	GString *out = g_string_new(NULL);
	int ret;

	ret = server_parse_guarded(text, strlen(text), &msg, &reason);
	if (ret != 0)
		g_error("parse of '%s': %s", text, reason);
	g_assert_cmpint(vvm_sms_server_encode(msg, out, &reason), ==, 0);
	g_assert_cmpstr(out->str, ==, expect);
	vvm_sms_server_msg_destroy(&msg);
	g_assert_null(msg);
	g_string_free(out, TRUE);
}

/* The parse of text must fail with a reason starting with reason. */
static void assert_parse_fails(const char *text, const char *reason)
{
	struct vvm_sms_server_msg *msg = NULL;
	const char *got = NULL;

	g_assert_cmpint(server_parse_guarded(text, strlen(text), &msg, &got),
			==, -EINVAL);
	g_assert_null(msg);
	if (!g_str_has_prefix(got, reason))
		g_error("'%s': reason '%s', expected '%s'", text, got, reason);
}

/* ---- the spec's examples ---- */

#define SPEC_SYNC "//VVM:SYNC:ev=NM;id=3446456;c=1;t=v;s=01234567898;" \
	"dt=02/08/2008 12:53 +0200;l=30"
/* 2008-08-02 10:53 UTC */
#define SPEC_SYNC_TIME 1217674380

static void test_spec_sync(void)
{
	struct vvm_sms_server_msg *msg = NULL;

	assert_roundtrip(SPEC_SYNC, SPEC_SYNC);
	g_assert_cmpint(vvm_sms_server_parse(SPEC_SYNC, strlen(SPEC_SYNC),
					     &msg, NULL), ==, 0);
	g_assert_cmpint(msg->kind, ==, VVM_SMS_SYNC);
	g_assert_cmpstr(msg->prefix, ==, "//VVM");
	g_assert_cmpint(msg->sync.ev, ==, VVM_SMS_EV_NM);
	g_assert_cmpuint(msg->sync.id, ==, 3446456);
	g_assert_cmpuint(msg->sync.c, ==, 1);
	g_assert_cmpint(msg->sync.t, ==, 'v');
	g_assert_cmpstr(msg->sync.s, ==, "01234567898");
	g_assert_cmpint(msg->sync.dt, ==, SPEC_SYNC_TIME);
	g_assert_cmpint(msg->sync.dt_offset, ==, 7200);
	g_assert_cmpuint(msg->sync.l, ==, 30);
	vvm_sms_server_msg_destroy(&msg);
	/* The field table calls the length "I"; the example's "l" is what
	 * clients read, the capital I a conversion artefact. */
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 12:53 +0200;I=30", "unknown field");
}

/* The spec's STATUS example has a space after five of its ';' (document
 * conversion; the text says "Spaces are not allowed"). We accept them on
 * parse and regenerate the example with them removed. */
#define SPEC_STATUS_SPACED "//VVM:STATUS:st=N;rc=0;srv=1:10.115.67.251;" \
	"tui=123;dn=999;ipt=143; spt=25; u=78236487@wirelesscarrier.com;" \
	"pw=32u4yguetrr34; lang=eng|fre;g_len=25;vs_len=15;pw_len=4-6; " \
	"smtp_u=super_user@wirelesscarrier.com; smtp_pw=48769463wer;pm=Y;" \
	"gm=N;vtc=D;vt=1"
#define SPEC_STATUS "//VVM:STATUS:st=N;rc=0;srv=1:10.115.67.251;" \
	"tui=123;dn=999;ipt=143;spt=25;u=78236487@wirelesscarrier.com;" \
	"pw=32u4yguetrr34;lang=eng|fre;g_len=25;vs_len=15;pw_len=4-6;" \
	"smtp_u=super_user@wirelesscarrier.com;smtp_pw=48769463wer;pm=Y;" \
	"gm=N;vtc=D;vt=1"

static void fill_spec_status(struct vvm_sms_status *st)
{
	vvm_sms_status_init(st);
	st->st = 'N';
	st->rc = 0;
	st->srv = "10.115.67.251";
	st->tui = "123";
	st->dn = "999";
	st->ipt = 143;
	st->spt = 25;
	st->u = "78236487@wirelesscarrier.com";
	st->pw = "32u4yguetrr34";
	st->lang = "eng|fre";
	st->g_len = 25;
	st->vs_len = 15;
	st->pw_min = 4;
	st->pw_max = 6;
	st->smtp_u = "super_user@wirelesscarrier.com";
	st->smtp_pw = "48769463wer";
	st->pm = true;
	st->gm = 'N';
	st->vtc = 'D';
	st->vt = true;
}

static void test_spec_status(void)
{
	struct vvm_sms_server_msg *msg = NULL;
	struct vvm_sms_status st;
	GString *out = g_string_new(NULL);

	assert_roundtrip(SPEC_STATUS_SPACED, SPEC_STATUS);
	assert_roundtrip(SPEC_STATUS, SPEC_STATUS);

	fill_spec_status(&st);
	g_assert_cmpint(vvm_sms_status_encode(NULL, &st, 0, out, NULL), ==, 0);
	g_assert_cmpstr(out->str, ==, SPEC_STATUS);

	g_assert_cmpint(vvm_sms_server_parse(SPEC_STATUS_SPACED,
					     strlen(SPEC_STATUS_SPACED), &msg,
					     NULL), ==, 0);
	g_assert_cmpint(msg->kind, ==, VVM_SMS_STATUS);
	g_assert_cmpuint(msg->flags, ==, 0);
	g_assert_cmpint(msg->status.st, ==, 'N');
	g_assert_cmpstr(msg->status.srv, ==, "10.115.67.251");
	g_assert_cmpuint(msg->status.spt, ==, 25);
	g_assert_cmpstr(msg->status.u, ==, st.u);
	g_assert_cmpstr(msg->status.lang, ==, "eng|fre");
	g_assert_cmpuint(msg->status.pw_min, ==, 4);
	g_assert_cmpuint(msg->status.pw_max, ==, 6);
	g_assert_cmpstr(msg->status.smtp_u, ==, st.smtp_u);
	g_assert_true(msg->status.pm);
	g_assert_cmpint(msg->status.vtc, ==, 'D');
	g_assert_true(msg->status.vt);
	vvm_sms_server_msg_destroy(&msg);
	g_string_free(out, TRUE);
}

static void test_spec_reduced(void)
{
	/* STATUS SMS Field Examples, and "//VVM:STATUS:st=U;rc=<error
	 * code>" from Activate and Deactivate, for every code. */
	assert_roundtrip("//VVM:STATUS:st=B;rc=0", "//VVM:STATUS:st=B;rc=0");
	for (int rc = 0; rc <= 7; rc++) {
		char *text = g_strdup_printf("//VVM:STATUS:st=U;rc=%d", rc);

		assert_roundtrip(text, text);
		g_free(text);
	}
}

static void test_spec_push_payloads(void)
{
	/* The push NEW_MESSAGE example repeats the SYNC with a stray
	 * space after "c=1;": accepted, regenerated without it. */
	assert_roundtrip("//VVM:SYNC:ev=NM;id=3446456;c=1; t=v;"
			 "s=01234567898;dt=02/08/2008 12:53 +0200;l=30",
			 SPEC_SYNC);
}

static void test_spec_otp(void)
{
	/* The spec's OTP example, lines joined by newlines, as a
	 * template. */
	static const char tmpl[] =
		"Your requested code for Voicemail App is: {code}. \n"
		"The code is valid for 10 minutes.\n"
		"More information. www.youroperator.com/voicemail";
	static const char example[] =
		"Your requested code for Voicemail App is: 123456. \n"
		"The code is valid for 10 minutes.\n"
		"More information. www.youroperator.com/voicemail";
	GString *out = g_string_new(NULL);
	char *code = NULL;

	g_assert_cmpint(vvm_sms_otp_encode(tmpl, "123456", out, NULL), ==, 0);
	g_assert_cmpstr(out->str, ==, example);
	g_assert_cmpint(vvm_sms_otp_parse(tmpl, example, strlen(example),
					  &code, NULL), ==, 0);
	g_assert_cmpstr(code, ==, "123456");
	g_free(code);
	g_string_free(out, TRUE);
}

static void test_spec_mo(void)
{
	/* The three syntax lines, filled with values a phone sends. */
	struct vvm_sms_mo mo;
	int rc = 99;

	g_assert_cmpint(mo_parse_guarded("STATUS:pv=13;ct=MyClient;pt=5499;"
					 "//VVM", &mo, &rc, NULL), ==, 0);
	g_assert_cmpint(mo.command, ==, VVM_SMS_MO_STATUS);
	g_assert_cmpuint(mo.pv, ==, 13);
	g_assert_cmpstr(mo.ct, ==, "MyClient");
	g_assert_cmpint(mo.pt, ==, 5499);
	g_assert_cmpstr(mo.prefix, ==, "//VVM");
	g_assert_cmpint(mo.dt, ==, -1);
	g_assert_cmpint(rc, ==, 99);

	g_assert_cmpint(mo_parse_guarded("Activate:pv=13;ct=MyClient;pt=5499;"
					 "//VVM", &mo, &rc, NULL), ==, 0);
	g_assert_cmpint(mo.command, ==, VVM_SMS_MO_ACTIVATE);
	g_assert_cmpint(mo_parse_guarded("Deactivate:pv=13;ct=MyClient", &mo,
					 &rc, NULL), ==, 0);
	g_assert_cmpint(mo.command, ==, VVM_SMS_MO_DEACTIVATE);
	g_assert_cmpuint(mo.pv, ==, 13);
	g_assert_cmpint(mo.pt, ==, -1);
	g_assert_cmpstr(mo.prefix, ==, "");
}

/* ---- SYNC ---- */

static struct vvm_sms_sync spec_sync(void)
{
	struct vvm_sms_sync s = {
		.ev = VVM_SMS_EV_NM, .id = 3446456, .c = 1, .t = 'v',
		.s = "01234567898", .dt = SPEC_SYNC_TIME, .dt_offset = 7200,
		.l = 30,
	};
	return s;
}

static char *sync_text(const char *prefix, const struct vvm_sms_sync *s)
{
	GString *out = g_string_new(NULL);
	const char *reason = NULL;

	if (vvm_sms_sync_encode(prefix, s, out, &reason) != 0)
		g_error("sync encode: %s", reason);
	return g_string_free(out, FALSE);
}

static void test_sync_encode(void)
{
	struct vvm_sms_sync s = spec_sync();
	GTimeZone *tz = g_time_zone_new_offset(7200);
	char *text;

	s.dt_offset = vvm_sms_tz_offset(tz, s.dt);
	g_time_zone_unref(tz);
	text = sync_text(NULL, &s);
	g_assert_cmpstr(text, ==, SPEC_SYNC);
	g_free(text);

	/* Restricted CLI: s left out. Any prefix. */
	s.s = NULL;
	text = sync_text("//VZWVVM", &s);
	g_assert_cmpstr(text, ==, "//VZWVVM:SYNC:ev=NM;id=3446456;c=1;t=v;"
			"dt=02/08/2008 12:53 +0200;l=30");
	assert_roundtrip(text, text);
	g_free(text);

	/* Other events carry ev and c only, whatever else is set. */
	s.ev = VVM_SMS_EV_MBU;
	s.c = 0;
	text = sync_text(NULL, &s);
	g_assert_cmpstr(text, ==, "//VVM:SYNC:ev=MBU;c=0");
	assert_roundtrip(text, text);
	g_free(text);
	s.ev = VVM_SMS_EV_GU;
	s.c = 99999;
	text = sync_text(NULL, &s);
	g_assert_cmpstr(text, ==, "//VVM:SYNC:ev=GU;c=99999");
	assert_roundtrip(text, text);
	g_free(text);

	/* The largest id: 20 digits, within the spec's 21. */
	s = spec_sync();
	s.id = G_MAXUINT64;
	s.t = 'f';
	s.s = "+31612345678";
	s.l = 99999;
	text = sync_text(NULL, &s);
	g_assert_cmpstr(text, ==, "//VVM:SYNC:ev=NM;id=18446744073709551615;"
			"c=1;t=f;s=+31612345678;dt=02/08/2008 12:53 +0200;"
			"l=99999");
	assert_roundtrip(text, text);
	g_free(text);
}

static void assert_dt(int64_t t, int32_t offset, const char *expect)
{
	struct vvm_sms_sync s = spec_sync();
	char *text, *want;

	s.dt = t;
	s.dt_offset = offset;
	text = sync_text(NULL, &s);
	want = g_strdup_printf("//VVM:SYNC:ev=NM;id=3446456;c=1;t=v;"
			       "s=01234567898;dt=%s;l=30", expect);
	g_assert_cmpstr(text, ==, want);
	assert_roundtrip(text, text);
	g_free(want);
	g_free(text);
}

static void test_sync_dt(void)
{
	GTimeZone *tz;

	/* The same instant in fixed zones, never the machine's. */
	assert_dt(SPEC_SYNC_TIME, 0, "02/08/2008 10:53 +0000");
	assert_dt(SPEC_SYNC_TIME, -12600, "02/08/2008 07:23 -0330");
	assert_dt(SPEC_SYNC_TIME, 20700, "02/08/2008 16:38 +0545");
	assert_dt(SPEC_SYNC_TIME, 14 * 3600, "03/08/2008 00:53 +1400");
	/* Seconds are dropped, not rounded. */
	assert_dt(SPEC_SYNC_TIME + 59, 7200, "02/08/2008 12:53 +0200");
	assert_dt(-1, 0, "31/12/1969 23:59 +0000");
	assert_dt(-62135596800LL, 0, "01/01/0001 00:00 +0000");
	assert_dt(253402300740LL, 0, "31/12/9999 23:59 +0000");
	assert_dt(-62135596800LL - 3600, 3600, "01/01/0001 00:00 +0100");

	/* A zone with daylight saving time gives the offset of the day. */
	tz = g_time_zone_new_identifier("Europe/Amsterdam");
	if (tz != NULL) {
		g_assert_cmpint(vvm_sms_tz_offset(tz, SPEC_SYNC_TIME), ==,
				7200);
		/* 2008-01-15 12:00 UTC */
		g_assert_cmpint(vvm_sms_tz_offset(tz, 1200398400), ==, 3600);
		g_time_zone_unref(tz);
	}
	tz = g_time_zone_new_offset(-12600);
	g_assert_cmpint(vvm_sms_tz_offset(tz, 0), ==, -12600);
	g_time_zone_unref(tz);
}

static void assert_sync_refused(const char *prefix,
				const struct vvm_sms_sync *s,
				const char *reason)
{
	GString *out = g_string_new("kept");
	const char *got = NULL;

	g_assert_cmpint(vvm_sms_sync_encode(prefix, s, out, &got), ==,
			-EINVAL);
	if (!g_str_has_prefix(got, reason))
		g_error("reason '%s', expected '%s'", got, reason);
	g_assert_cmpstr(out->str, ==, "kept");
	g_string_free(out, TRUE);
}

static void test_sync_limits(void)
{
	struct vvm_sms_sync s;
	char prefix[VVM_SMS_PREFIX_MAX + 2];

	s = spec_sync();
	s.ev = (enum vvm_sms_event)3;
	assert_sync_refused(NULL, &s, "ev:");
	s = spec_sync();
	s.c = 100000;
	assert_sync_refused(NULL, &s, "c:");
	s = spec_sync();
	s.l = 100000;
	assert_sync_refused(NULL, &s, "l:");
	s.t = 'x';
	assert_sync_refused(NULL, &s, "t:");
	s = spec_sync();
	s.t = '\0';
	assert_sync_refused(NULL, &s, "t:");

	/* s: at most 29 digits, only digits after an optional '+'. */
	s = spec_sync();
	s.s = "12345678901234567890123456789";
	g_free(sync_text(NULL, &s));
	s.s = "+12345678901234567890123456789";
	g_free(sync_text(NULL, &s));
	s.s = "123456789012345678901234567890";
	assert_sync_refused(NULL, &s, "s:");
	s.s = "";
	assert_sync_refused(NULL, &s, "s:");
	s.s = "0612;c=5";
	assert_sync_refused(NULL, &s, "s:");
	s.s = "Anonymous";
	assert_sync_refused(NULL, &s, "s:");

	/* dt: whole minutes under a day, years 1-9999. */
	s = spec_sync();
	s.dt_offset = 7230;
	assert_sync_refused(NULL, &s, "dt:");
	s.dt_offset = 24 * 3600;
	assert_sync_refused(NULL, &s, "dt:");
	s.dt_offset = -24 * 3600;
	assert_sync_refused(NULL, &s, "dt:");
	s.dt_offset = -35791394 * 60; /* near INT32_MIN, whole minutes */
	assert_sync_refused(NULL, &s, "dt:");
	s.dt_offset = 0;
	s.dt = 253402300800LL;
	assert_sync_refused(NULL, &s, "dt:");
	s.dt = G_MAXINT64;
	assert_sync_refused(NULL, &s, "dt:");
	s.dt = G_MININT64;
	assert_sync_refused(NULL, &s, "dt:");
	s.dt = -62135596800LL;
	s.dt_offset = -60;
	assert_sync_refused(NULL, &s, "dt:");

	/* The prefix: 1-64 token characters. */
	s = spec_sync();
	assert_sync_refused("", &s, "prefix:");
	assert_sync_refused("//V VM", &s, "prefix:");
	assert_sync_refused("//VVM;", &s, "prefix:");
	assert_sync_refused("//V=M", &s, "prefix:");
	assert_sync_refused("//VVM\n", &s, "prefix:");
	memset(prefix, 'P', VVM_SMS_PREFIX_MAX);
	prefix[VVM_SMS_PREFIX_MAX] = '\0';
	g_free(sync_text(prefix, &s));
	prefix[VVM_SMS_PREFIX_MAX] = 'P';
	prefix[VVM_SMS_PREFIX_MAX + 1] = '\0';
	assert_sync_refused(prefix, &s, "prefix:");
}

static void test_sync_parse(void)
{
	/* Tolerated: a last ';', fields in another order, leading zeros,
	 * no l (default 0), no s (restricted CLI). */
	assert_roundtrip(SPEC_SYNC ";", SPEC_SYNC);
	assert_roundtrip("//VVM:SYNC:l=30;dt=02/08/2008 12:53 +0200;"
			 "s=01234567898;t=v;c=1;id=3446456;ev=NM", SPEC_SYNC);
	assert_roundtrip("//VVM:SYNC:ev=NM;id=003446456;c=00001;t=v;"
			 "s=01234567898;dt=02/08/2008 12:53 +0200;l=030",
			 SPEC_SYNC);
	assert_roundtrip("//VVM:SYNC:ev=NM;id=1;c=1;t=e;"
			 "dt=02/08/2008 12:53 +0200",
			 "//VVM:SYNC:ev=NM;id=1;c=1;t=e;"
			 "dt=02/08/2008 12:53 +0200;l=0");
	/* A prefix with a colon in it, such as a port for client wakeup. */
	assert_roundtrip("//ANDR:5499:SYNC:ev=MBU;c=2",
			 "//ANDR:5499:SYNC:ev=MBU;c=2");

	assert_parse_fails("", "not <prefix>");
	assert_parse_fails("//VVM:SYNC", "not <prefix>");
	assert_parse_fails("//VVM:sync:ev=MBU;c=1", "not <prefix>");
	assert_parse_fails(":SYNC:ev=MBU;c=1", "prefix:");
	assert_parse_fails("// VVM:SYNC:ev=MBU;c=1", "prefix:");
	assert_parse_fails("//VVM:SYNC:", "empty field");
	assert_parse_fails("//VVM:SYNC:ev=MBU;;c=1", "empty field");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=1;;", "empty field");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c", "field without");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=1;x=1", "unknown field");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=1;c=1", "field repeated");
	assert_parse_fails("//VVM:SYNC:c=1", "ev: missing");
	assert_parse_fails("//VVM:SYNC:ev=MBU", "c: missing");
	assert_parse_fails("//VVM:SYNC:ev=XX;c=1", "ev:");
	assert_parse_fails("//VVM:SYNC:ev=mbu;c=1", "ev:");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=100000", "c:");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=-1", "c:");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=", "c:");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=1;id=5", "id, t, s, dt");
	assert_parse_fails("//VVM:SYNC:ev=GU;c=1;l=0", "id, t, s, dt");
	assert_parse_fails("//VVM:SYNC:ev=NM;c=1;t=v;"
			   "dt=02/08/2008 12:53 +0200", "id: missing");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;"
			   "dt=02/08/2008 12:53 +0200", "t: missing");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v", "dt: missing");
	/* id: 21 digits at most, and within 64 bits. */
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1234567890123456789012;c=1;"
			   "t=v;dt=02/08/2008 12:53 +0200", "id:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=99999999999999999999;c=1;"
			   "t=v;dt=02/08/2008 12:53 +0200", "id:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=x;c=1;t=v;"
			   "dt=02/08/2008 12:53 +0200", "id:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=vo;"
			   "dt=02/08/2008 12:53 +0200", "t:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;s=0612a;"
			   "dt=02/08/2008 12:53 +0200", "s:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 12:53 +0200;l=123456", "l:");
	/* dt: exactly DD/MM/YYYY HH:MM +ZZZZ, a real date. */
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=2/8/2008 12:53 +0200", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=31/02/2008 12:53 +0200", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 24:00 +0200", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 12:60 +0200", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 12:53 +2400", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 12:53 0200", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/0000 12:53 +0200", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=NM;id=1;c=1;t=v;"
			   "dt=02/08/2008 12:53 +0200 ", "dt:");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=1\n", "not printable");
	assert_parse_fails("//VVM:SYNC:ev=MBU;c=1\xc3\xa9", "not printable");
}

/* ---- STATUS ---- */

static char *status_text(const struct vvm_sms_status *st, unsigned flags)
{
	GString *out = g_string_new(NULL);
	const char *reason = NULL;

	if (vvm_sms_status_encode(NULL, st, flags, out, &reason) != 0)
		g_error("status encode: %s", reason);
	return g_string_free(out, FALSE);
}

static void test_status_encode(void)
{
	struct vvm_sms_status st;
	char *text;

	/* Android wants the bare host; some systems quote st. */
	fill_spec_status(&st);
	text = status_text(&st, VVM_SMS_SRV_BARE | VVM_SMS_ST_QUOTED);
	g_assert_true(g_str_has_prefix(text, "//VVM:STATUS:st=\"N\";rc=0;"
				       "srv=10.115.67.251;tui=123;"));
	assert_roundtrip(text, text);
	g_free(text);

	/* A host name gets 2:, IPv6 1:. st=R: no pm and gm. */
	fill_spec_status(&st);
	st.st = 'R';
	st.srv = "vvm.example.net";
	st.pw = "";
	st.smtp_u = "0";
	st.smtp_pw = "0";
	st.spt = 0;
	st.vtc = 'N';
	st.vt = false;
	text = status_text(&st, 0);
	g_assert_cmpstr(text, ==, "//VVM:STATUS:st=R;rc=0;"
			"srv=2:vvm.example.net;tui=123;dn=999;ipt=143;spt=0;"
			"u=78236487@wirelesscarrier.com;pw=;lang=eng|fre;"
			"g_len=25;vs_len=15;pw_len=4-6;smtp_u=0;smtp_pw=0;"
			"vtc=N;vt=0");
	assert_roundtrip(text, text);
	g_free(text);
	st.srv = "2001:db8::1";
	st.st = 'P';
	text = status_text(&st, 0);
	g_assert_true(strstr(text, ";srv=1:2001:db8::1;") != NULL);
	assert_roundtrip(text, text);
	g_free(text);
}

static void test_status_reduced(void)
{
	struct vvm_sms_status st;
	GString *out = g_string_new(NULL);
	char *text;

	/* U and B send st and rc only, whatever else is set. */
	fill_spec_status(&st);
	st.st = 'U';
	st.rc = VVM_SMS_RC_MAILBOX_UNKNOWN;
	text = status_text(&st, VVM_SMS_SRV_BARE);
	g_assert_cmpstr(text, ==, "//VVM:STATUS:st=U;rc=3");
	g_free(text);
	st.st = 'B';
	st.rc = 0;
	text = status_text(&st, 0);
	g_assert_cmpstr(text, ==, "//VVM:STATUS:st=B;rc=0");
	g_free(text);

	/* With nothing but st and rc set. */
	vvm_sms_status_init(&st);
	st.st = 'U';
	st.rc = VVM_SMS_RC_NOT_PROVISIONED;
	st.rs = "https://vvm.example.net/subscribe";
	text = status_text(&st, VVM_SMS_ST_QUOTED);
	g_assert_cmpstr(text, ==, "//VVM:STATUS:st=\"U\";rc=5;"
			"rs=https://vvm.example.net/subscribe");
	assert_roundtrip(text, text);
	g_free(text);

	st.rc = VVM_SMS_RC_CLIENT_UNKNOWN;
	g_assert_cmpint(vvm_sms_status_encode(NULL, &st, 0, out, NULL), ==,
			-EINVAL);
	g_assert_cmpuint(out->len, ==, 0);
	g_string_free(out, TRUE);

	assert_parse_fails("//VVM:STATUS:st=U;rc=3;srv=1:10.0.0.1",
			   "only st, rc and rs");
	assert_parse_fails("//VVM:STATUS:st=B;rc=0;tui=123",
			   "only st, rc and rs");
	assert_parse_fails("//VVM:STATUS:st=U;rc=3;rs=http://x", "rs:");
	assert_parse_fails("//VVM:STATUS:st=U", "rc: missing");
	assert_parse_fails("//VVM:STATUS:rc=0", "st: missing");
}

typedef void (*status_edit)(struct vvm_sms_status *st, const char *v);

struct limit_case {
	const char *field;  /* the reason's start */
	const char *value;
	bool ok;
};

static void set_srv(struct vvm_sms_status *st, const char *v) { st->srv = v; }
static void set_tui(struct vvm_sms_status *st, const char *v) { st->tui = v; }
static void set_dn(struct vvm_sms_status *st, const char *v) { st->dn = v; }
static void set_u(struct vvm_sms_status *st, const char *v) { st->u = v; }
static void set_pw(struct vvm_sms_status *st, const char *v) { st->pw = v; }
static void set_lang(struct vvm_sms_status *st, const char *v) { st->lang = v; }
static void set_smtp_u(struct vvm_sms_status *st, const char *v)
{
	st->smtp_u = v;
}
static void set_smtp_pw(struct vvm_sms_status *st, const char *v)
{
	st->smtp_pw = v;
}
static void set_rs(struct vvm_sms_status *st, const char *v)
{
	st->rc = VVM_SMS_RC_NOT_PROVISIONED;
	st->rs = v;
}

static const struct {
	status_edit edit;
	struct limit_case c;
} string_limits[] = {
	/* srv: with its 1:/2: at most 30, so the host at most 28. */
	{ set_srv, { "srv:", "h234567890123456789012345678", true } },
	{ set_srv, { "srv:", "h2345678901234567890123456789", false } },
	{ set_srv, { "srv:", "", false } },
	{ set_srv, { "srv:", NULL, false } },
	{ set_srv, { "srv:", "bad_host", false } },
	{ set_srv, { "srv:", "-bad.example", false } },
	{ set_srv, { "srv:", "a..b", false } },
	{ set_srv, { "srv:", "host;x=1", false } },
	{ set_tui, { "tui:", "1234567890123456", true } },
	{ set_tui, { "tui:", "+1234567890123456", true } },
	{ set_tui, { "tui:", "*86", true } },
	{ set_tui, { "tui:", "12345678901234567", false } },
	{ set_tui, { "tui:", "", false } },
	{ set_tui, { "tui:", "12 3", false } },
	{ set_dn, { "dn:", "123456789012345678901234567890", true } },
	{ set_dn, { "dn:", "+12345678901234567890123456789", true } },
	{ set_dn, { "dn:", "1234567890123456789012345678901", false } },
	{ set_dn, { "dn:", "94*5", false } },
	{ set_u, { "u:", "u2345678901234567890123456789012345678901234567890",
		   true } },
	{ set_u, { "u:", "u23456789012345678901234567890123456789012345678901",
		   false } },
	{ set_u, { "u:", "", false } },
	{ set_u, { "u:", "a b", false } },
	{ set_u, { "u:", "a;b", false } },
	{ set_u, { "u:", "a=b", false } },
	{ set_pw, { "pw:", "p23456789012345678901234567890", true } },
	{ set_pw, { "pw:", "p234567890123456789012345678901", false } },
	{ set_pw, { "pw:", "", true } },
	{ set_pw, { "pw:", "pa ss", false } },
	{ set_pw, { "pw:", "pa;ss", false } },
	{ set_pw, { "pw:", "pa=ss", false } },
	{ set_pw, { "pw:", "p\xc3\xa9", false } },
	{ set_lang, { "lang:", "eng.1|eng.2|fre|ita|ger.1|ger.2", true } },
	{ set_lang, { "lang:", "eng.1|eng.2|fre.1|ita.1|ger.1|ger.2", true } },
	{ set_lang, { "lang:", "eng.1|eng.2|fre.1|ita.1|ger.1|ger.2|x",
		      false } },
	{ set_lang, { "lang:", "english", false } },
	{ set_lang, { "lang:", "eng.12", false } },
	{ set_lang, { "lang:", "eng.", false } },
	{ set_lang, { "lang:", "eng|", false } },
	{ set_lang, { "lang:", "|eng", false } },
	{ set_lang, { "lang:", "", false } },
	{ set_smtp_u, { "smtp_u:", "0", true } },
	{ set_smtp_u, { "smtp_u:", "s234567890123456789012345678901234567890"
			"123456789012345678901234", true } },
	{ set_smtp_u, { "smtp_u:", "s234567890123456789012345678901234567890"
			"1234567890123456789012345", false } },
	{ set_smtp_u, { "smtp_u:", "", false } },
	{ set_smtp_pw, { "smtp_pw:", "a b", false } },
	{ set_smtp_pw, { "smtp_pw:", "", false } },
	{ set_rs, { "rs:", "r234567890123456789012345678901234567890"
		    "12345678901234567890123456789012345678901234567890"
		    "1234567890", true } },
	{ set_rs, { "rs:", "r234567890123456789012345678901234567890"
		    "12345678901234567890123456789012345678901234567890"
		    "12345678901", false } },
	{ set_rs, { "rs:", "http://x/?a=b", false } },
	{ set_rs, { "rs:", "", false } },
};

static void check_status_case(const struct vvm_sms_status *st,
			      unsigned flags, const struct limit_case *c)
{
	GString *out = g_string_new(NULL);
	const char *reason = NULL;
	int ret = vvm_sms_status_encode(NULL, st, flags, out, &reason);

	if (c->ok) {
		if (ret != 0)
			g_error("%s '%s' refused: %s", c->field, c->value,
				reason);
		assert_roundtrip(out->str, out->str);
	} else {
		if (ret != -EINVAL)
			g_error("%s '%s' accepted", c->field, c->value);
		if (!g_str_has_prefix(reason, c->field))
			g_error("%s '%s': reason '%s'", c->field, c->value,
				reason);
		g_assert_cmpuint(out->len, ==, 0);
	}
	g_string_free(out, TRUE);
}

static void test_status_limits(void)
{
	struct vvm_sms_status st;
	struct limit_case c;

	for (size_t i = 0; i < G_N_ELEMENTS(string_limits); i++) {
		fill_spec_status(&st);
		string_limits[i].edit(&st, string_limits[i].c.value);
		check_status_case(&st, 0, &string_limits[i].c);
	}

	/* Bare, the host may use all 30. */
	fill_spec_status(&st);
	st.srv = "h23456789012345678901234567890";
	c = (struct limit_case){ "srv:", st.srv, true };
	check_status_case(&st, VVM_SMS_SRV_BARE, &c);
	c = (struct limit_case){ "srv:", st.srv, false };
	check_status_case(&st, 0, &c);
	st.srv = "h234567890123456789012345678901";
	check_status_case(&st, VVM_SMS_SRV_BARE, &c);
	/* Bare "1:..." would read back as a prefix. */
	st.srv = "1:2::3";
	check_status_case(&st, VVM_SMS_SRV_BARE, &c);

	/* Numbers and one-letter fields. */
	fill_spec_status(&st);
	st.st = 'X';
	c = (struct limit_case){ "st:", "X", false };
	check_status_case(&st, 0, &c);
	st.st = '\0';
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.rc = 8;
	c = (struct limit_case){ "rc:", "8", false };
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.ipt = 0;
	c = (struct limit_case){ "ipt:", "0", false };
	check_status_case(&st, 0, &c);
	st.ipt = 65536;
	check_status_case(&st, 0, &c);
	st.ipt = 65535;
	c.ok = true;
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.spt = 65536;
	c = (struct limit_case){ "spt:", "65536", false };
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.g_len = 999;
	c = (struct limit_case){ "g_len:", "999", true };
	check_status_case(&st, 0, &c);
	st.g_len = 1000;
	c.ok = false;
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.vs_len = 1000;
	c = (struct limit_case){ "vs_len:", "1000", false };
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.pw_min = 10;
	st.pw_max = 99;
	c = (struct limit_case){ "pw_len:", "10-99", true };
	check_status_case(&st, 0, &c);
	st.pw_max = 100;
	c.ok = false;
	check_status_case(&st, 0, &c);
	st.pw_min = 7;
	st.pw_max = 6;
	check_status_case(&st, 0, &c);
	fill_spec_status(&st);
	st.gm = 'X';
	c = (struct limit_case){ "gm:", "X", false };
	check_status_case(&st, 0, &c);
	for (const char *g = "GVBN"; *g != '\0'; g++) {
		st.gm = *g;
		c.ok = true;
		check_status_case(&st, 0, &c);
	}
	fill_spec_status(&st);
	st.vtc = 'X';
	c = (struct limit_case){ "vtc:", "X", false };
	check_status_case(&st, 0, &c);
	for (const char *v = "NDAB"; *v != '\0'; v++) {
		st.vtc = *v;
		c.ok = true;
		check_status_case(&st, 0, &c);
	}
}

static void test_status_parse(void)
{
	static const char head[] = "//VVM:STATUS:st=R;rc=0;";
	static const char tail[] = ";tui=123;dn=999;ipt=143;spt=25;u=u;pw=p;"
				   "lang=eng;g_len=25;vs_len=15;pw_len=4-6;"
				   "smtp_u=0;smtp_pw=0;vtc=N;vt=0";
	char *text;

	/* srv forms: 1: needs an IP address, 2: a name. */
	text = g_strconcat(head, "srv=2:10.0.0.1", tail, NULL);
	assert_parse_fails(text, "srv:");
	g_free(text);
	text = g_strconcat(head, "srv=1:vvm.example.net", tail, NULL);
	assert_parse_fails(text, "srv:");
	g_free(text);
	text = g_strconcat(head, "srv=3:vvm.example.net", tail, NULL);
	assert_parse_fails(text, "srv:");
	g_free(text);
	text = g_strconcat(head, "srv=vvm.example.net", tail, NULL);
	assert_roundtrip(text, text);
	g_free(text);

	/* Defaults: no vtc and vt means N and 0; st=N without pm and gm
	 * means N and N. */
	assert_roundtrip("//VVM:STATUS:st=R;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			 "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			 "pw_len=4-6;smtp_u=0;smtp_pw=0",
			 "//VVM:STATUS:st=R;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			 "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			 "pw_len=4-6;smtp_u=0;smtp_pw=0;vtc=N;vt=0");
	assert_roundtrip("//VVM:STATUS:st=N;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			 "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			 "pw_len=4-6;smtp_u=0;smtp_pw=0;vtc=N;vt=0",
			 "//VVM:STATUS:st=N;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			 "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			 "pw_len=4-6;smtp_u=0;smtp_pw=0;pm=N;gm=N;vtc=N;vt=0");

	assert_parse_fails("//VVM:STATUS:st=R;rc=0;srv=1:10.0.0.1;dn=2;"
			   "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			   "pw_len=4-6;smtp_u=0;smtp_pw=0", "tui: missing");
	assert_parse_fails("//VVM:STATUS:st=R;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			   "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			   "pw_len=4-6;smtp_u=0", "smtp_pw: missing");
	assert_parse_fails("//VVM:STATUS:st=R;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			   "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			   "pw_len=4-6;smtp_u=0;smtp_pw=0;pm=N",
			   "pm and gm are only sent with st=N");
	assert_parse_fails("//VVM:STATUS:st=NN;rc=0", "st:");
	assert_parse_fails("//VVM:STATUS:st=\"N;rc=0", "st:");
	assert_parse_fails("//VVM:STATUS:st=\"X\";rc=0", "st:");
	assert_parse_fails("//VVM:STATUS:st=n;rc=0", "st:");
	assert_parse_fails("//VVM:STATUS:st=U;rc=8", "rc:");
	assert_parse_fails("//VVM:STATUS:st=U;rc=10", "rc:");
	assert_parse_fails("//VVM:STATUS:st=U;rc=0;xx=1", "unknown field");
	assert_parse_fails("//VVM:STATUS:st=U;rc=0;ST=U", "unknown field");

	/* Each number and letter field refused on its own. */
	static const struct {
		const char *field;
		const char *value;
	} bad[] = {
		{ "ipt", "0" }, { "ipt", "65536" }, { "ipt", "12345678901" },
		{ "ipt", "14x" }, { "spt", "65536" }, { "spt", "" },
		{ "g_len", "1000" }, { "vs_len", "-1" },
		{ "pw_len", "4_6" }, { "pw_len", "100-2" },
		{ "pw_len", "4-100" }, { "pw_len", "6-4" }, { "pw_len", "4-" },
		{ "pw_len", "-6" }, { "vtc", "X" }, { "vtc", "" },
		{ "vt", "2" }, { "vt", "01" }, { "tui", "12a" },
		{ "dn", "" }, { "u", "" }, { "lang", "e|" }, { "smtp_u", "" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		GString *s = g_string_new("//VVM:STATUS:st=R;rc=0;"
					  "srv=1:10.0.0.1");
		static const char *const names[] = {
			"tui", "dn", "ipt", "spt", "u", "pw", "lang", "g_len",
			"vs_len", "pw_len", "smtp_u", "smtp_pw", "vtc", "vt",
		};
		static const char *const good[] = {
			"1", "2", "143", "0", "u", "p", "eng", "1", "1",
			"4-6", "0", "0", "N", "0",
		};
		char *reason = g_strconcat(bad[i].field, ":", NULL);

		for (size_t j = 0; j < G_N_ELEMENTS(names); j++)
			g_string_append_printf(s, ";%s=%s", names[j],
					       strcmp(names[j],
						      bad[i].field) == 0 ?
					       bad[i].value : good[j]);
		assert_parse_fails(s->str, reason);
		g_free(reason);
		g_string_free(s, TRUE);
	}
	/* st=N: pm and gm. */
	assert_parse_fails("//VVM:STATUS:st=N;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			   "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			   "pw_len=4-6;smtp_u=0;smtp_pw=0;pm=y", "pm:");
	assert_parse_fails("//VVM:STATUS:st=N;rc=0;srv=1:10.0.0.1;tui=1;dn=2;"
			   "ipt=143;spt=0;u=u;pw=p;lang=eng;g_len=1;vs_len=1;"
			   "pw_len=4-6;smtp_u=0;smtp_pw=0;gm=X", "gm:");

	/* Longer than the limit, even if well-formed. */
	text = g_strnfill(VVM_SMS_TEXT_MAX + 1, 'x');
	assert_parse_fails(text, "longer than");
	g_free(text);
}

/* ---- OTP ---- */

static void test_otp(void)
{
	GString *out = g_string_new(NULL);
	const char *reason = NULL;
	char *code = NULL, *tmpl;

	g_assert_cmpint(vvm_sms_otp_encode(NULL, "0042", out, NULL), ==, 0);
	g_assert_cmpstr(out->str, ==, "Your voicemail app code is 0042. Do not "
			"share it with anyone.");
	g_assert_cmpint(vvm_sms_otp_parse(NULL, out->str, out->len, &code,
					  NULL), ==, 0);
	g_assert_cmpstr(code, ==, "0042");
	g_free(code);
	code = NULL;
	g_string_truncate(out, 0);

	g_assert_cmpint(vvm_sms_otp_encode("{code}", "aB3dE6fG9hJ2kL5mN8pQ1r",
					   out, NULL), ==, 0);
	g_assert_cmpstr(out->str, ==, "aB3dE6fG9hJ2kL5mN8pQ1r");
	g_string_truncate(out, 0);
	/* 38 digits: the annex's other shape of 128 random bits. */
	g_assert_cmpint(vvm_sms_otp_encode("Code: {code}",
					   "12345678901234567890123456789012345678",
					   out, NULL), ==, 0);
	g_string_truncate(out, 0);

	g_assert_cmpint(vvm_sms_otp_encode(NULL, "123", out, &reason), ==,
			-EINVAL);
	g_assert_true(g_str_has_prefix(reason, "OTP code:"));
	g_assert_cmpint(vvm_sms_otp_encode(NULL,
					   "123456789012345678901234567890123456789",
					   out, NULL), ==, -EINVAL);
	g_assert_cmpint(vvm_sms_otp_encode(NULL, "12;456", out, NULL), ==,
			-EINVAL);
	g_assert_cmpint(vvm_sms_otp_encode("no code", "1234", out, &reason),
			==, -EINVAL);
	g_assert_true(g_str_has_prefix(reason, "OTP template:"));
	g_assert_cmpint(vvm_sms_otp_encode("{code}{code}", "1234", out, NULL),
			==, -EINVAL);
	g_assert_cmpint(vvm_sms_otp_encode("Code\t{code}", "1234", out, NULL),
			==, -EINVAL);
	g_assert_cmpint(vvm_sms_otp_encode("Code \xff {code}", "1234", out,
					   NULL), ==, -EINVAL);
	tmpl = g_strnfill(VVM_SMS_OTP_TEMPLATE_MAX - 5, 'x');
	memcpy(tmpl, "{code}", 6);
	g_assert_cmpint(vvm_sms_otp_encode(tmpl, "1234", out, NULL), ==, 0);
	g_free(tmpl);
	g_string_truncate(out, 0);
	tmpl = g_strnfill(VVM_SMS_OTP_TEMPLATE_MAX + 1, 'x');
	memcpy(tmpl, "{code}", 6);
	g_assert_cmpint(vvm_sms_otp_encode(tmpl, "1234", out, NULL), ==,
			-EINVAL);
	g_free(tmpl);
	g_assert_cmpuint(out->len, ==, 0);

	g_assert_cmpint(vvm_sms_otp_parse(NULL, "Your code is 1234", 17, &code,
					  &reason), ==, -EINVAL);
	g_assert_cmpint(vvm_sms_otp_parse("a{code}b", "ab", 2, &code, NULL),
			==, -EINVAL);
	g_assert_cmpint(vvm_sms_otp_parse("a{code}b", "a12 4b", 6, &code,
					  NULL), ==, -EINVAL);
	g_assert_null(code);
	g_string_free(out, TRUE);
}

/* ---- client-originated ---- */

struct mo_ok {
	const char *text;
	enum vvm_sms_mo_command command;
	unsigned pv;
	const char *ct;
	int pt;
	const char *prefix;
	int dt;
};

static const struct mo_ok mo_valid[] = {
	/* Android (AOSP OmtpStandardMessageSender), protocol 1.3 */
	{ "Activate:pv=13;ct=Android;pt=1808;//VVM", VVM_SMS_MO_ACTIVATE, 13,
	  "Android", 1808, "//VVM", -1 },
	{ "STATUS:pv=13;ct=Android;pt=1808;//VVM", VVM_SMS_MO_STATUS, 13,
	  "Android", 1808, "//VVM", -1 },
	{ "Deactivate:pv=13;ct=Android", VVM_SMS_MO_DEACTIVATE, 13, "Android",
	  -1, "", -1 },
	/* "always followed by a colon": the colon is not the prefix's */
	{ "Activate:pv=13;ct=x;pt=1808;//VVM:", VVM_SMS_MO_ACTIVATE, 13, "x",
	  1808, "//VVM", -1 },
	/* The prefix is optional; unusual ones are kept as they are. */
	{ "Activate:pv=12;ct=x;pt=0", VVM_SMS_MO_ACTIVATE, 12, "x", 0, "",
	  -1 },
	{ "Activate:pv=13;ct=x;pt=16999;//VZWVVM:5499", VVM_SMS_MO_ACTIVATE,
	  13, "x", 16999, "//VZWVVM:5499", -1 },
	{ "Activate:pv=13;ct=x;pt=01808;p23456789012345678901234567890",
	  VVM_SMS_MO_ACTIVATE, 13, "x", 1808,
	  "p23456789012345678901234567890", -1 },
	{ "Activate:pv=99;ct=c23456789012345678901234567890;pt=1",
	  VVM_SMS_MO_ACTIVATE, 99, "c23456789012345678901234567890", 1, "",
	  -1 },
	/* Protocol 1.1 had no pt and prefix. */
	{ "Activate:pv=11;ct=Samsung", VVM_SMS_MO_ACTIVATE, 11, "Samsung", -1,
	  "", -1 },
	{ "STATUS:pv=10;ct=Samsung", VVM_SMS_MO_STATUS, 10, "Samsung", -1, "",
	  -1 },
	/* Field order is free; unknown fields are ignored. */
	{ "Activate:ct=x;pt=5;pv=13;vv=2;//VVM", VVM_SMS_MO_ACTIVATE, 13, "x",
	  5, "//VVM", -1 },
	{ "Deactivate:pv=13;ct=x;pt=5;//VVM", VVM_SMS_MO_DEACTIVATE, 13, "x",
	  5, "//VVM", -1 },
	/* T-Mobile (AOSP OmtpCvvmMessageSender) */
	{ "Activate:dt=6", VVM_SMS_MO_ACTIVATE, 0, "", -1, "", 6 },
	{ "Deactivate:dt=6", VVM_SMS_MO_DEACTIVATE, 0, "", -1, "", 6 },
	{ "STATUS:dt=6", VVM_SMS_MO_STATUS, 0, "", -1, "", 6 },
	/* Verizon (AOSP Vvm3MessageSender) and others */
	{ "STATUS", VVM_SMS_MO_STATUS, 0, "", -1, "", -1 },
	{ "Status", VVM_SMS_MO_STATUS, 0, "", -1, "", -1 },
};

struct mo_bad {
	const char *text;
	int rc;
	const char *reason;
};

static const struct mo_bad mo_malformed[] = {
	{ "", VVM_SMS_RC_NONE, "empty" },
	{ "Hello", VVM_SMS_RC_NONE, "not STATUS" },
	{ "activate:pv=13;ct=x;pt=1;//VVM", VVM_SMS_RC_NONE, "not STATUS" },
	{ "ACTIVATE:pv=13;ct=x;pt=1;//VVM", VVM_SMS_RC_NONE, "not STATUS" },
	{ "Status:pv=13;ct=x;pt=1;//VVM", VVM_SMS_RC_NONE, "not STATUS" },
	{ "status", VVM_SMS_RC_NONE, "not STATUS" },
	{ "STATUS ", VVM_SMS_RC_NONE, "not STATUS" },
	{ " STATUS", VVM_SMS_RC_NONE, "not STATUS" },
	{ "//VVM:STATUS:st=B;rc=0", VVM_SMS_RC_NONE, "not STATUS" },
	{ "Activate", VVM_SMS_RC_CLIENT_UNKNOWN, "pv: missing" },
	{ "Deactivate", VVM_SMS_RC_CLIENT_UNKNOWN, "pv: missing" },
	{ "Activate:", VVM_SMS_RC_SUBSCRIBER_ERROR, "empty field" },
	{ "Activate:pv=13", VVM_SMS_RC_CLIENT_UNKNOWN, "ct: missing" },
	{ "Activate:ct=x;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "pv: missing" },
	{ "Activate:pv=9;ct=x;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "pv:" },
	{ "Activate:pv=100;ct=x;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "pv:" },
	{ "Activate:pv=1.3;ct=x;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "pv:" },
	{ "Activate:pv=;ct=x;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "pv:" },
	{ "Activate:pv=13;ct=;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "ct:" },
	{ "Activate:pv=13;ct=a b;pt=1", VVM_SMS_RC_CLIENT_UNKNOWN, "ct:" },
	{ "Activate:pv=13;ct=c234567890123456789012345678901;pt=1",
	  VVM_SMS_RC_CLIENT_UNKNOWN, "ct:" },
	{ "Activate:pv=13;ct=x", VVM_SMS_RC_SUBSCRIBER_ERROR, "pt: missing" },
	{ "STATUS:pv=12;ct=x;//VVM", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "pt: missing" },
	{ "Activate:pv=13;ct=x;pt=17000", VVM_SMS_RC_SUBSCRIBER_ERROR, "pt:" },
	{ "Activate:pv=13;ct=x;pt=-1", VVM_SMS_RC_SUBSCRIBER_ERROR, "pt:" },
	{ "Activate:pv=13;ct=x;pt=", VVM_SMS_RC_SUBSCRIBER_ERROR, "pt:" },
	{ "Activate:pv=13;ct=x;pt=1234567890123456789012345678901",
	  VVM_SMS_RC_SUBSCRIBER_ERROR, "pt:" },
	{ "Activate:pv=13;ct=x;pt=99999999999999999999999",
	  VVM_SMS_RC_SUBSCRIBER_ERROR, "pt:" },
	{ "Activate:pv=13;ct=x;pt=1;;//VVM", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "empty field" },
	{ "Activate:pv=13;ct=x;pt=1;", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "empty field" },
	{ "Activate:pv=13;ct=x;//VVM;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field without '=' before the last" },
	{ "Activate:pv=13;pv=13;ct=x;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field repeated" },
	{ "Activate:pv=13;ct=x;ct=y;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field repeated" },
	{ "Activate:pv=13;ct=x;pt=1;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field repeated" },
	{ "Activate:dt=6;dt=6", VVM_SMS_RC_SUBSCRIBER_ERROR, "field repeated" },
	{ "Activate:pv=13;ct=x;pt=1;p234567890123456789012345678901",
	  VVM_SMS_RC_SUBSCRIBER_ERROR, "prefix:" },
	{ "Activate:pv=13;ct=x;pt=1;:", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "prefix:" },
	{ "Activate:pv=13;ct=x;pt=1;//V VM", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "prefix:" },
	{ "Activate:pv=13;ct=x;pt=1;//VVM\n", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "not printable" },
	{ "Activate:pv=13;ct=x\xc3\xa9;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "not printable" },
	{ "Activate:PV=13;ct=x;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field name" },
	{ "Activate:pv=13; ct=x;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field name" },
	{ "Activate:=13;ct=x;pt=1", VVM_SMS_RC_SUBSCRIBER_ERROR,
	  "field name" },
	{ "Activate:dt=x", VVM_SMS_RC_SUBSCRIBER_ERROR, "dt:" },
	{ "Activate:dt=100", VVM_SMS_RC_SUBSCRIBER_ERROR, "dt:" },
};

static void test_mo_valid(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(mo_valid); i++) {
		const struct mo_ok *w = &mo_valid[i];
		const char *reason = NULL;
		struct vvm_sms_mo mo;
		int rc = 42;

		if (mo_parse_guarded(w->text, &mo, &rc, &reason) != 0)
			g_error("'%s': %s", w->text, reason);
		g_assert_cmpint(rc, ==, 42);
		g_assert_cmpint(mo.command, ==, w->command);
		g_assert_cmpuint(mo.pv, ==, w->pv);
		g_assert_cmpstr(mo.ct, ==, w->ct);
		g_assert_cmpint(mo.pt, ==, w->pt);
		g_assert_cmpstr(mo.prefix, ==, w->prefix);
		g_assert_cmpint(mo.dt, ==, w->dt);
	}
}

static void test_mo_malformed(void)
{
	char *text;
	int rc;
	struct vvm_sms_mo mo;

	for (size_t i = 0; i < G_N_ELEMENTS(mo_malformed); i++) {
		const struct mo_bad *b = &mo_malformed[i];
		const char *reason = NULL;

		rc = 42;
		memset(&mo, 0x5a, sizeof(mo));
		if (mo_parse_guarded(b->text, &mo, &rc, &reason) != -EINVAL)
			g_error("'%s' accepted", b->text);
		if (rc != b->rc || !g_str_has_prefix(reason, b->reason))
			g_error("'%s': rc %d '%s', expected rc %d '%s'",
				b->text, rc, reason, b->rc, b->reason);
		/* mo_r is written only on success. */
		g_assert_cmpint(mo.ct[0], ==, 0x5a);
	}

	/* A NUL inside, and longer than one would ever be. */
	g_assert_cmpint(vvm_sms_mo_parse("STATUS\0", 7, &mo, &rc, NULL), ==,
			-EINVAL);
	g_assert_cmpint(rc, ==, VVM_SMS_RC_NONE);
	g_assert_cmpint(vvm_sms_mo_parse("Activate:dt=6\0", 14, &mo, &rc,
					 NULL), ==, -EINVAL);
	g_assert_cmpint(rc, ==, VVM_SMS_RC_SUBSCRIBER_ERROR);
	text = g_strconcat("Activate:pv=13;ct=x;pt=1;xx=",
			   "0123456789012345678901234567890123456789"
			   "0123456789012345678901234567890123456789"
			   "0123456789012345678901234567890123456789"
			   "0123456789012345678901234567890123456789"
			   "0123456789012345678901234567890123456789"
			   "0123456789012345678901234567890123456789"
			   "0123456789", NULL);
	g_assert_cmpint(vvm_sms_mo_parse(text, strlen(text), &mo, &rc, NULL),
			==, -EINVAL);
	g_assert_cmpint(rc, ==, VVM_SMS_RC_NONE);
	text[VVM_SMS_MO_MAX] = '\0';
	g_assert_cmpint(vvm_sms_mo_parse(text, strlen(text), &mo, &rc, NULL),
			==, 0);
	g_free(text);
}

/* ---- UDH ---- */

static GBytes *segment(GPtrArray *segs, guint i)
{
	return g_ptr_array_index(segs, i);
}

static void assert_bytes(GBytes *b, const uint8_t *expect, size_t len)
{
	gsize n;
	const uint8_t *d = g_bytes_get_data(b, &n);

	g_assert_cmpmem(d, n, expect, len);
}

static void test_udh_ports(void)
{
	struct vvm_sms_split_opts opts = {
		.ports = true, .dst_port = 1808, .src_port = 0,
	};
	/* UDHL 06; IEI 05 (16-bit ports), IEDL 04, destination 1808 =
	 * 0x0710, source 0 = 0x0000; then the text. */
	static const uint8_t expect[] = {
		0x06, 0x05, 0x04, 0x07, 0x10, 0x00, 0x00, 'h', 'e', 'l', 'l',
		'o',
	};
	/* Source port 16999 = 0x4267, destination 5499 = 0x157b. */
	static const uint8_t expect2[] = {
		0x06, 0x05, 0x04, 0x15, 0x7b, 0x42, 0x67, 'x',
	};
	GPtrArray *segs = NULL;
	struct vvm_sms_udh udh;

	g_assert_cmpint(vvm_sms_split(&opts, (const uint8_t *)"hello", 5,
				      &segs), ==, 1);
	assert_bytes(segment(segs, 0), expect, sizeof(expect));
	g_ptr_array_unref(segs);

	opts.dst_port = 5499;
	opts.src_port = 16999;
	g_assert_cmpint(vvm_sms_split(&opts, (const uint8_t *)"x", 1, &segs),
			==, 1);
	assert_bytes(segment(segs, 0), expect2, sizeof(expect2));
	g_assert_cmpint(vvm_sms_udh_decode(expect2, sizeof(expect2), &udh,
					   NULL), ==, 7);
	g_assert_true(udh.ports);
	g_assert_cmpuint(udh.dst_port, ==, 5499);
	g_assert_cmpuint(udh.src_port, ==, 16999);
	g_assert_false(udh.concat);
	g_ptr_array_unref(segs);

	/* Without ports a single SMS has no UDH at all. */
	opts.ports = false;
	g_assert_cmpint(vvm_sms_split(&opts, (const uint8_t *)"hello", 5,
				      &segs), ==, 1);
	assert_bytes(segment(segs, 0), (const uint8_t *)"hello", 5);
	g_ptr_array_unref(segs);
	/* Nor does an empty one. */
	g_assert_cmpint(vvm_sms_split(&opts, NULL, 0, &segs), ==, 1);
	g_assert_cmpuint(g_bytes_get_size(segment(segs, 0)), ==, 0);
	g_ptr_array_unref(segs);
}

static void test_udh_concat(void)
{
	struct vvm_sms_split_opts opts = {
		.ports = true, .dst_port = 1808, .ref = 0x2a,
	};
	uint8_t data[300];
	/* UDHL 0B (11 = 6 + 5); ports as above; IEI 00 (concatenation,
	 * 8-bit reference), IEDL 03, reference 2A, 3 parts, part n.
	 * 140 - 12 = 128 octets each: 128 + 128 + 44 = 300. */
	uint8_t head[] = {
		0x0b, 0x05, 0x04, 0x07, 0x10, 0x00, 0x00, 0x00, 0x03, 0x2a,
		0x03, 0x01,
	};
	/* Without ports: UDHL 05, the concatenation element only; 140 - 6
	 * = 134 octets a part: 134 + 7 = 141. */
	uint8_t head2[] = { 0x05, 0x00, 0x03, 0x2a, 0x02, 0x01 };
	GPtrArray *segs = NULL;
	GByteArray *joined = g_byte_array_new();
	struct vvm_sms_udh udh;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	g_assert_cmpint(vvm_sms_split(&opts, data, sizeof(data), &segs), ==,
			3);
	for (guint i = 0; i < 3; i++) {
		gsize n;
		const uint8_t *d = g_bytes_get_data(segment(segs, i), &n);
		size_t part = i < 2 ? 128 : 44;

		head[11] = (uint8_t)(i + 1);
		g_assert_cmpuint(n, ==, 12 + part);
		g_assert_cmpmem(d, 12, head, 12);
		g_assert_cmpmem(d + 12, part, data + i * 128, part);
		g_assert_cmpint(vvm_sms_udh_decode(d, n, &udh, NULL), ==, 12);
		g_assert_true(udh.ports && udh.concat);
		g_assert_cmpuint(udh.dst_port, ==, 1808);
		g_assert_cmpuint(udh.ref, ==, 0x2a);
		g_assert_cmpuint(udh.total, ==, 3);
		g_assert_cmpuint(udh.seq, ==, i + 1);
		g_byte_array_append(joined, d + 12, (guint)part);
	}
	g_assert_cmpmem(joined->data, joined->len, data, sizeof(data));
	g_ptr_array_unref(segs);
	g_byte_array_unref(joined);

	opts.ports = false;
	g_assert_cmpint(vvm_sms_split(&opts, data, 141, &segs), ==, 2);
	for (guint i = 0; i < 2; i++) {
		gsize n;
		const uint8_t *d = g_bytes_get_data(segment(segs, i), &n);

		head2[5] = (uint8_t)(i + 1);
		g_assert_cmpuint(n, ==, 6 + (i == 0 ? 134 : 7));
		g_assert_cmpmem(d, 6, head2, 6);
	}
	g_ptr_array_unref(segs);
}

static void assert_split(bool ports, bool key, size_t len, int count,
			 size_t first_len)
{
	static const uint8_t k[VVM_SMS_KEY_LEN] = { 1, 2, 3 };
	struct vvm_sms_split_opts opts = {
		.ports = ports, .dst_port = 1, .key = key ? k : NULL,
	};
	uint8_t *data = g_malloc0(len + 1);
	GPtrArray *segs = NULL;

	g_assert_cmpint(vvm_sms_split(&opts, data, len, &segs), ==, count);
	if (count > 0) {
		g_assert_cmpuint(segs->len, ==, (guint)count);
		g_assert_cmpuint(g_bytes_get_size(segment(segs, 0)), ==,
				 first_len);
		for (guint i = 0; i < segs->len; i++)
			g_assert_cmpuint(g_bytes_get_size(segment(segs, i)),
					 <=, VVM_SMS_OCTETS);
		g_ptr_array_unref(segs);
	} else {
		g_assert_null(segs);
	}
	g_free(data);
}

static void test_udh_sizes(void)
{
	/* One SMS holds 140 octets; ports take 7 of them. */
	assert_split(false, false, 140, 1, 140);
	assert_split(false, false, 141, 2, 140);
	assert_split(true, false, 133, 1, 140);
	assert_split(true, false, 134, 2, 140);
	/* 255 parts at most: 255 * 134 and 255 * 128. */
	assert_split(false, false, 255 * 134, 255, 140);
	assert_split(false, false, 255 * 134 + 1, -EMSGSIZE, 0);
	assert_split(true, false, 255 * 128, 255, 140);
	assert_split(true, false, 255 * 128 + 1, -EMSGSIZE, 0);
	/* Encrypted: 135 octets pad to 136 (no UDH); 127 pad to 128, which
	 * with 7 octets of ports, or 6 or 12 of concatenation, fits. */
	assert_split(false, true, 135, 1, 136);
	assert_split(false, true, 136, 2, 6 + 128);
	assert_split(true, true, 127, 1, 7 + 128);
	assert_split(true, true, 128, 2, 12 + 128);
	assert_split(true, true, 0, 1, 7 + 8);
	assert_split(true, true, 255 * 127, 255, 140);
	assert_split(true, true, 255 * 127 + 1, -EMSGSIZE, 0);
}

static void assert_udh_bad(const uint8_t *sm, size_t len, const char *reason)
{
	struct vvm_sms_udh udh;
	const char *got = NULL;
	struct guarded g;

	guarded_init(&g, sm, len);
	g_assert_cmpint(vvm_sms_udh_decode((const uint8_t *)g.data, len, &udh,
					   &got), ==, -EINVAL);
	guarded_release(&g);
	if (!g_str_has_prefix(got, reason))
		g_error("reason '%s', expected '%s'", got, reason);
}

static int udh_guarded(const uint8_t *sm, size_t len, struct vvm_sms_udh *udh)
{
	struct guarded g;
	int ret;

	guarded_init(&g, sm, len);
	ret = vvm_sms_udh_decode((const uint8_t *)g.data, len, udh, NULL);
	guarded_release(&g);
	return ret;
}

static void test_udh_decode(void)
{
	/* IEI 08: 16-bit reference 0x1234, part 2 of 2; IEI 04: 8-bit
	 * ports 0xf0 / 0x01; an unknown IEI 0x70 with 1 octet, skipped. */
	static const uint8_t sm1[] = {
		0x0d, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02, 0x04, 0x02, 0xf0,
		0x01, 0x70, 0x01, 0xff, 'p',
	};
	/* Repeated: the last one counts (TS 23.040 9.2.3.24). */
	static const uint8_t sm2[] = {
		0x0c, 0x05, 0x04, 0x00, 0x01, 0x00, 0x02, 0x05, 0x04, 0x00,
		0x03, 0x00, 0x04,
	};
	/* Part 0, or part 3 of 2, or 0 parts: the element is ignored. */
	static const uint8_t sm3[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x00 };
	static const uint8_t sm4[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x03 };
	static const uint8_t sm5[] = { 0x05, 0x00, 0x03, 0x01, 0x00, 0x00 };
	static const uint8_t empty_udh[] = { 0x00, 'x' };
	struct vvm_sms_udh udh;

	g_assert_cmpint(udh_guarded(sm1, sizeof(sm1), &udh), ==, 14);
	g_assert_true(udh.concat);
	g_assert_cmpuint(udh.ref, ==, 0x1234);
	g_assert_cmpuint(udh.total, ==, 2);
	g_assert_cmpuint(udh.seq, ==, 2);
	g_assert_true(udh.ports);
	g_assert_cmpuint(udh.dst_port, ==, 0xf0);
	g_assert_cmpuint(udh.src_port, ==, 0x01);
	g_assert_cmpint(udh_guarded(sm2, sizeof(sm2), &udh), ==, 13);
	g_assert_cmpuint(udh.dst_port, ==, 3);
	g_assert_cmpuint(udh.src_port, ==, 4);
	g_assert_cmpint(udh_guarded(sm3, sizeof(sm3), &udh), ==, 6);
	g_assert_false(udh.concat);
	g_assert_cmpint(udh_guarded(sm4, sizeof(sm4), &udh), ==, 6);
	g_assert_false(udh.concat);
	g_assert_cmpint(udh_guarded(sm5, sizeof(sm5), &udh), ==, 6);
	g_assert_false(udh.concat);
	g_assert_cmpint(udh_guarded(empty_udh, sizeof(empty_udh), &udh), ==,
			1);
	g_assert_false(udh.concat || udh.ports);

	assert_udh_bad(NULL, 0, "empty");
	assert_udh_bad((const uint8_t *)"\x06\x05\x04\x07\x10\x00", 6,
		       "UDH longer");
	assert_udh_bad((const uint8_t *)"\x01\x05", 2, "information element "
		       "cut");
	assert_udh_bad((const uint8_t *)"\x03\x05\x04\x07", 4,
		       "information element runs");
	assert_udh_bad((const uint8_t *)"\x05\x05\x03\x07\x10\x00", 6,
		       "16-bit port");
	assert_udh_bad((const uint8_t *)"\x03\x04\x01\x07", 4, "8-bit port");
	assert_udh_bad((const uint8_t *)"\x04\x00\x02\x01\x01", 5,
		       "concatenation");
	assert_udh_bad((const uint8_t *)"\x05\x08\x03\x01\x01\x01", 6,
		       "concatenation");
}

/* ---- the annex's 3DES ---- */

/* Key 0123456789ABCDEF FEDCBA9876543210 89ABCDEF01234567 (three distinct
 * DES keys: e, d, e). Each expected ciphertext below was computed with
 * the OpenSSL command line, not with this code:
 *   printf '%s' "$PLAIN" | openssl enc -des-ede3 \
 *     -K 0123456789ABCDEFFEDCBA987654321089ABCDEF01234567 -nosalt | xxd -p
 * (-des-ede3 is ECB; enc pads with PKCS#5 unless -nopad is given.) */
static const uint8_t kat_key[VVM_SMS_KEY_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
};

static const struct {
	const char *plain;
	const char *cipher_hex;
} kat[] = {
	{ "//VVM:STATUS:st=B;rc=0",
	  "468d5d5cc455630d0249615754806db0de7de2e807c59472" },
	/* A full block gains a block of padding... */
	{ "12345678", "500877cb7b95bc0c455cf52f367d3b35" },
	/* ...which alone is the encryption of nothing. */
	{ "", "455cf52f367d3b35" },
	{ SPEC_SYNC,
	  "79cce2f64494d315fca81004433d5c51b8d31cd52fb8cf6ec59d6027cc7f8997"
	  "aa9e73e9439980752d23be450c655f212e6c26af5f6ad65b63d1aa613cdc05d9"
	  "a9d232e3d88cf0fdb12949e9308f3ad0455cf52f367d3b35" },
};

static GByteArray *from_hex(const char *hex)
{
	GByteArray *b = g_byte_array_new();

	for (size_t i = 0; hex[i] != '\0'; i += 2) {
		uint8_t v = (uint8_t)(g_ascii_xdigit_value(hex[i]) << 4 |
				      g_ascii_xdigit_value(hex[i + 1]));

		g_byte_array_append(b, &v, 1);
	}
	return b;
}

static void test_crypt_kat(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(kat); i++) {
		GByteArray *want = from_hex(kat[i].cipher_hex);
		GByteArray *out = g_byte_array_new();
		GByteArray *back = g_byte_array_new();
		size_t len = strlen(kat[i].plain);

		g_assert_cmpint(vvm_sms_des3_encrypt(kat_key,
						     (const uint8_t *)kat[i].plain,
						     len, out), ==, 0);
		g_assert_cmpmem(out->data, out->len, want->data, want->len);
		g_assert_cmpuint(out->len, ==, len / 8 * 8 + 8);
		g_assert_cmpint(vvm_sms_des3_decrypt(kat_key, want->data,
						     want->len, back), ==, 0);
		g_assert_cmpmem(back->data, back->len, kat[i].plain, len);
		g_byte_array_unref(want);
		g_byte_array_unref(out);
		g_byte_array_unref(back);
	}
}

static void test_crypt_sm(void)
{
	/* The annex: the UDH stays, the rest is encrypted; here the UDH of
	 * test_udh_ports and the first known answer. */
	static const uint8_t udh[] = { 0x06, 0x05, 0x04, 0x07, 0x10, 0x00,
				       0x00 };
	static const char plain[] = "//VVM:STATUS:st=B;rc=0";
	GByteArray *sm = g_byte_array_new();
	GByteArray *want = g_byte_array_new();
	GByteArray *out = g_byte_array_new();
	GByteArray *back = g_byte_array_new();
	GByteArray *cipher = from_hex(kat[0].cipher_hex);
	uint8_t wrong[VVM_SMS_KEY_LEN];

	g_byte_array_append(sm, udh, sizeof(udh));
	g_byte_array_append(sm, (const uint8_t *)plain, strlen(plain));
	g_byte_array_append(want, udh, sizeof(udh));
	g_byte_array_append(want, cipher->data, cipher->len);

	g_assert_cmpint(vvm_sms_sm_encrypt(kat_key, true, sm->data, sm->len,
					   out), ==, 0);
	g_assert_cmpmem(out->data, out->len, want->data, want->len);
	g_assert_cmpint(vvm_sms_sm_decrypt(kat_key, true, out->data, out->len,
					   back), ==, 0);
	g_assert_cmpmem(back->data, back->len, sm->data, sm->len);

	/* Without UDHI the whole short message is the cleartext. */
	g_byte_array_set_size(out, 0);
	g_assert_cmpint(vvm_sms_sm_encrypt(kat_key, false,
					   (const uint8_t *)plain,
					   strlen(plain), out), ==, 0);
	g_assert_cmpmem(out->data, out->len, cipher->data, cipher->len);

	/* Errors leave out as it was. */
	g_byte_array_set_size(out, 0);
	g_byte_array_set_size(back, 0);
	g_assert_cmpint(vvm_sms_sm_encrypt(kat_key, true, udh, 3, out), ==,
			-EINVAL);
	g_assert_cmpint(vvm_sms_sm_encrypt(kat_key, true, NULL, 0, out), ==,
			-EINVAL);
	g_assert_cmpint(vvm_sms_sm_decrypt(kat_key, true, udh, sizeof(udh),
					   out), ==, -EINVAL);
	g_assert_cmpint(vvm_sms_des3_decrypt(kat_key, cipher->data, 7, out),
			==, -EINVAL);
	g_assert_cmpint(vvm_sms_des3_decrypt(kat_key, cipher->data, 0, out),
			==, -EINVAL);
	/* A wrong key: this one's last block does not unpad (checked to be
	 * so for this key and text; in general one in 256 would). */
	memcpy(wrong, kat_key, sizeof(wrong));
	wrong[23] ^= 0x02;
	g_assert_cmpint(vvm_sms_des3_decrypt(wrong, cipher->data, cipher->len,
					     out), ==, -EBADMSG);
	g_assert_cmpint(vvm_sms_sm_decrypt(wrong, true, want->data, want->len,
					   out), ==, -EBADMSG);
	g_assert_cmpuint(out->len, ==, 0);

	g_byte_array_unref(sm);
	g_byte_array_unref(want);
	g_byte_array_unref(out);
	g_byte_array_unref(back);
	g_byte_array_unref(cipher);
}

static void test_crypt_roundtrip(void)
{
	uint8_t key[VVM_SMS_KEY_LEN], data[400];
	struct vvm_sms_split_opts opts = { .ports = true, .dst_port = 1808 };
	GRand *rand = g_rand_new_with_seed(23040);

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)g_rand_int(rand);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)g_rand_int(rand);
	opts.key = key;
	for (size_t len = 0; len <= sizeof(data); len += 1 + len / 4) {
		GByteArray *joined = g_byte_array_new();
		GPtrArray *segs = NULL;
		int n = vvm_sms_split(&opts, data, len, &segs);

		g_assert_cmpint(n, >=, 1);
		for (guint i = 0; i < (guint)n; i++) {
			gsize sz;
			const uint8_t *d = g_bytes_get_data(segment(segs, i),
							    &sz);
			struct vvm_sms_udh udh;
			GByteArray *plain = g_byte_array_new();
			int off = vvm_sms_udh_decode(d, sz, &udh, NULL);

			g_assert_cmpint(off, >, 0);
			g_assert_cmpuint(sz, <=, VVM_SMS_OCTETS);
			g_assert_cmpint(vvm_sms_sm_decrypt(key, true, d, sz,
							   plain), ==, 0);
			g_assert_cmpmem(plain->data, off, d, off);
			g_byte_array_append(joined, plain->data + off,
					    plain->len - (guint)off);
			g_byte_array_unref(plain);
		}
		g_assert_cmpmem(joined->data, joined->len, data, len);
		g_byte_array_unref(joined);
		g_ptr_array_unref(segs);
	}
	g_rand_free(rand);
}

/* ---- generated secrets ---- */

static void test_random(void)
{
	char buf[VVM_SMS_RANDOM_MAX + 1], prev[VVM_SMS_RANDOM_MAX + 1];
	unsigned seen[256] = { 0 };

	prev[0] = '\0';
	for (int i = 0; i < 2000; i++) {
		g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM,
						      buf, sizeof(buf), 22),
				==, 0);
		g_assert_cmpuint(strlen(buf), ==, 22);
		g_assert_null(strpbrk(buf, ";= "));
		for (size_t j = 0; j < 22; j++) {
			g_assert_true(g_ascii_isalnum(buf[j]));
			seen[(unsigned char)buf[j]]++;
		}
		g_assert_cmpstr(buf, !=, prev);
		memcpy(prev, buf, sizeof(buf));
	}
	/* 44000 draws from 62: every character comes up, about 710 times
	 * each; 400 is far outside chance. */
	for (int c = 0; c < 256; c++) {
		if (g_ascii_isalnum(c))
			g_assert_cmpuint(seen[c], >, 400);
	}

	/* As an SMS field it must pass the encoder's own check. */
	{
		struct vvm_sms_status st;
		GString *out = g_string_new(NULL);

		fill_spec_status(&st);
		g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM,
						      buf, 31, 30), ==, 0);
		st.pw = buf;
		g_assert_cmpint(vvm_sms_status_encode(NULL, &st, 0, out, NULL),
				==, 0);
		g_string_free(out, TRUE);
	}

	g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_DIGITS, buf,
					      sizeof(buf), 6), ==, 0);
	g_assert_cmpuint(strlen(buf), ==, 6);
	for (size_t j = 0; j < 6; j++)
		g_assert_true(g_ascii_isdigit(buf[j]));
	g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_DIGITS, buf,
					      sizeof(buf), VVM_SMS_RANDOM_MAX),
			==, 0);

	memcpy(buf, "unchanged", 10);
	g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM, buf,
					      sizeof(buf), 0), ==, -EINVAL);
	g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM, buf,
					      sizeof(buf),
					      VVM_SMS_RANDOM_MAX + 1), ==,
			-EINVAL);
	g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM, buf, 6,
					      6), ==, -EINVAL);
	g_assert_cmpint(vvm_sms_random_string((enum vvm_sms_charset)7, buf,
					      sizeof(buf), 6), ==, -EINVAL);
	g_assert_cmpstr(buf, ==, "unchanged");
}

/* ---- whole round trips ---- */

static void test_roundtrip_random(void)
{
	/* Random valid messages encode, parse and encode to the same. */
	static const char *const hosts[] = {
		"10.0.0.1", "vvm.example.net", "::1", "a-b.c", "2001:db8::5",
	};
	GRand *rand = g_rand_new_with_seed(1808);

	for (int i = 0; i < 500; i++) {
		struct vvm_sms_status st;
		struct vvm_sms_sync s = spec_sync();
		char u[51], pw[31];
		unsigned flags = g_rand_int_range(rand, 0, 4);
		char *text;

		fill_spec_status(&st);
		st.st = "NRPUB"[g_rand_int_range(rand, 0, 5)];
		st.rc = (unsigned)g_rand_int_range(rand, 0, 8);
		st.srv = hosts[g_rand_int_range(rand, 0, G_N_ELEMENTS(hosts))];
		g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM, u,
						      sizeof(u),
						      (size_t)g_rand_int_range(
							      rand, 1, 51)),
				==, 0);
		g_assert_cmpint(vvm_sms_random_string(VVM_SMS_CHARSET_ALNUM, pw,
						      sizeof(pw),
						      (size_t)g_rand_int_range(
							      rand, 1, 31)),
				==, 0);
		st.u = u;
		st.pw = pw;
		st.ipt = (unsigned)g_rand_int_range(rand, 1, 65536);
		st.pw_min = (unsigned)g_rand_int_range(rand, 0, 10);
		st.pw_max = st.pw_min + (unsigned)g_rand_int_range(rand, 0, 90);
		st.pm = g_rand_boolean(rand);
		st.gm = "GVBN"[g_rand_int_range(rand, 0, 4)];
		text = status_text(&st, flags);
		assert_roundtrip(text, text);
		g_free(text);

		s.ev = (enum vvm_sms_event)g_rand_int_range(rand, 0, 3);
		s.id = ((uint64_t)g_rand_int(rand) << 32) | g_rand_int(rand);
		s.c = (unsigned)g_rand_int_range(rand, 0, 100000);
		s.t = "vofie"[g_rand_int_range(rand, 0, 5)];
		/* Any instant whose local date is within years 1-9999. */
		s.dt = (int64_t)g_rand_double_range(rand, -62135510400.0,
						    253402214400.0);
		s.dt_offset = g_rand_int_range(rand, -1439, 1440) * 60;
		text = sync_text(NULL, &s);
		assert_roundtrip(text, text);
		g_free(text);
	}
	g_rand_free(rand);
}

/* ---- the GSM 7-bit default alphabet ---- */

static void test_gsm7(void)
{
	const char *ascii = "u=1@vvm.example.net;$_[x]{|}~^\\`";
	static const uint8_t septets[] = {
		'u', '=', '1', 0x00, 'v', 'v', 'm', '.', 'e', 'x', 'a', 'm',
		'p', 'l', 'e', '.', 'n', 'e', 't', ';', 0x02, 0x11,
		0x1b, 0x3c, 'x', 0x1b, 0x3e, 0x1b, 0x28, 0x1b, 0x40, 0x1b, 0x29,
		0x1b, 0x3d, 0x1b, 0x14, 0x1b, 0x2f, '?',
	};
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree char *back = NULL;
	size_t len;

	g_assert_cmpuint(vvm_sms_gsm7_length(ascii, strlen(ascii)), ==,
			 sizeof(septets));
	vvm_sms_gsm7_encode(ascii, strlen(ascii), out);
	g_assert_cmpmem(out->data, out->len, septets, sizeof(septets));
	back = vvm_sms_gsm7_decode(out->data, out->len, &len);
	/* All comes back but the backtick, which GSM does not have. */
	g_assert_cmpmem(back, len, "u=1@vvm.example.net;$_[x]{|}~^\\?",
			strlen(ascii));
}

static void test_gsm7_decode_national(void)
{
	static const uint8_t septets[] = { 0x01, 0x04, 0x10, 0x5b, 0x7f,
					   0x1b, 0x65, 0x1b };
	g_autofree char *text = NULL;
	size_t len;

	text = vvm_sms_gsm7_decode(septets, sizeof(septets), &len);
	g_assert_cmpstr(text, ==, "\xc2\xa3\xc3\xa8\xce\x94\xc3\x84\xc3\xa0"
				  "\xe2\x82\xac\xc2\xa0");
	g_assert_cmpuint(len, ==, strlen(text));
}

/* ---- outbox entries ---- */

static int entry_parse_guarded(const char *text, struct vvm_sms_entry *e_r,
			       const char **reason_r)
{
	size_t len = strlen(text);
	struct vvm_sms_entry e;
	struct guarded g;
	int ret;

	/* Every prefix: parsed or refused, never read past. */
	for (size_t cut = 0; cut < len; cut++) {
		guarded_init(&g, text, cut);
		ret = vvm_sms_entry_parse(g.data, cut, &e, NULL);
		g_assert_true(ret == 0 || ret == -EINVAL);
		guarded_release(&g);
	}
	guarded_init(&g, text, len);
	ret = vvm_sms_entry_parse(g.data, len, e_r, reason_r);
	guarded_release(&g);
	return ret;
}

static void test_entry_roundtrip(void)
{
	static const char *const good[] = {
		"to 31612345678\nport 5499\nkind SYNC\nreplace 1\n"
		"text //VVM:SYNC:ev=NM;id=3;c=1;t=v;s=+31600000001;"
		"dt=22/11/2026 10:00 +0000;l=5\n",
		"to +3161234567890123456\nport 0\nkind STATUS\nreplace 0\n"
		"text //VVM:STATUS:st=U;rc=3\n",
		"to 1\nport 65535\nkind OTP\nreplace 0\n"
		"text Code 1234.\n\nValid for 10 minutes: \xc3\xa9.\n",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GString) out = g_string_new(NULL);
		struct vvm_sms_entry e;
		const char *reason = NULL;

		g_assert_cmpint(entry_parse_guarded(good[i], &e, &reason), ==, 0);
		vvm_sms_entry_format(&e, out);
		g_assert_cmpstr(out->str, ==, good[i]);
	}
}

static void test_entry_fields(void)
{
	struct vvm_sms_entry e;
	const char *reason = NULL;

	/* No final newline is fine; the text then runs to the end. */
	g_assert_cmpint(entry_parse_guarded("to 5\nport 12\nkind STATUS\n"
					    "replace 1\ntext ab", &e, &reason),
			==, 0);
	g_assert_cmpstr(e.to, ==, "5");
	g_assert_cmpuint(e.port, ==, 12);
	g_assert_cmpint(e.kind, ==, VVM_SMS_ENTRY_STATUS);
	g_assert_true(e.replace);
	g_assert_cmpmem(e.text, e.text_len, "ab", 2);
	g_assert_cmpstr(vvm_sms_entry_kind_name(e.kind), ==, "STATUS");
}

static void test_entry_malformed(void)
{
	g_autofree char *long_text = g_strnfill(VVM_SMS_TEXT_MAX + 1, 'x');
	g_autofree char *too_long = g_strdup_printf(
		"to 5\nport 0\nkind OTP\nreplace 0\ntext %s", long_text);
	g_autofree char *longest = g_strdup_printf(
		"to 5\nport 0\nkind OTP\nreplace 0\ntext %s\n",
		long_text + 1);
	static const struct {
		const char *text, *reason;
	} bad[] = {
		{ "", "to: not a phone number" },
		{ "to \nport 0\nkind OTP\nreplace 0\ntext x", "to: not a phone number" },
		{ "to 123456789012345678901\nport 0\nkind OTP\nreplace 0\ntext x",
		  "to: not a phone number" },
		{ "to 12a\nport 0\nkind OTP\nreplace 0\ntext x", "to: not a phone number" },
		{ "to 1\nport 65536\nkind OTP\nreplace 0\ntext x", "port: not 0-65535" },
		{ "to 1\nport -1\nkind OTP\nreplace 0\ntext x", "port: not 0-65535" },
		{ "to 1\nport 0\nkind otp\nreplace 0\ntext x",
		  "kind: not SYNC, STATUS or OTP" },
		{ "to 1\nport 0\nkind OTP\nreplace yes\ntext x", "replace: not 0 or 1" },
		{ "to 1\nport 0\nkind OTP\nreplace 0\n", "text: missing" },
		{ "to 1\nport 0\nkind OTP\nreplace 0\ntext \n",
		  "text: empty, too long or not printable" },
		{ "to 1\nport 0\nkind OTP\nreplace 0\ntext a\tb",
		  "text: empty, too long or not printable" },
		{ "to 1\nport 0\nkind OTP\nreplace 0\ntext \xff",
		  "text: empty, too long or not printable" },
		{ "to 1\nport 0\nkind SYNC\nreplace 0\ntext a\nb",
		  "text: empty, too long or not printable" },
		{ "to 1\nport 0\nkind SYNC\nreplace 0\ntext \xc3\xa9",
		  "text: empty, too long or not printable" },
	};
	struct vvm_sms_entry e;
	const char *reason;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		reason = NULL;
		g_test_message("case %zu", i);
		g_assert_cmpint(entry_parse_guarded(bad[i].text, &e, &reason),
				==, -EINVAL);
		g_assert_cmpstr(reason, ==, bad[i].reason);
	}
	g_assert_cmpint(entry_parse_guarded(too_long, &e, &reason), ==, -EINVAL);
	g_assert_cmpint(entry_parse_guarded(longest, &e, &reason), ==, 0);
	g_assert_cmpuint(e.text_len, ==, VVM_SMS_TEXT_MAX);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/sms/spec/sync", test_spec_sync);
	g_test_add_func("/sms/spec/status", test_spec_status);
	g_test_add_func("/sms/spec/reduced", test_spec_reduced);
	g_test_add_func("/sms/spec/push-payloads", test_spec_push_payloads);
	g_test_add_func("/sms/spec/otp", test_spec_otp);
	g_test_add_func("/sms/spec/mo", test_spec_mo);
	g_test_add_func("/sms/sync/encode", test_sync_encode);
	g_test_add_func("/sms/sync/dt", test_sync_dt);
	g_test_add_func("/sms/sync/limits", test_sync_limits);
	g_test_add_func("/sms/sync/parse", test_sync_parse);
	g_test_add_func("/sms/status/encode", test_status_encode);
	g_test_add_func("/sms/status/reduced", test_status_reduced);
	g_test_add_func("/sms/status/limits", test_status_limits);
	g_test_add_func("/sms/status/parse", test_status_parse);
	g_test_add_func("/sms/otp", test_otp);
	g_test_add_func("/sms/mo/valid", test_mo_valid);
	g_test_add_func("/sms/mo/malformed", test_mo_malformed);
	g_test_add_func("/sms/udh/ports", test_udh_ports);
	g_test_add_func("/sms/udh/concat", test_udh_concat);
	g_test_add_func("/sms/udh/sizes", test_udh_sizes);
	g_test_add_func("/sms/udh/decode", test_udh_decode);
	g_test_add_func("/sms/crypt/known-answer", test_crypt_kat);
	g_test_add_func("/sms/crypt/short-message", test_crypt_sm);
	g_test_add_func("/sms/crypt/roundtrip", test_crypt_roundtrip);
	g_test_add_func("/sms/random", test_random);
	g_test_add_func("/sms/roundtrip", test_roundtrip_random);
	g_test_add_func("/sms/gsm7", test_gsm7);
	g_test_add_func("/sms/gsm7/decode", test_gsm7_decode_national);
	g_test_add_func("/sms/entry/roundtrip", test_entry_roundtrip);
	g_test_add_func("/sms/entry/fields", test_entry_fields);
	g_test_add_func("/sms/entry/malformed", test_entry_malformed);
	return g_test_run();
}
