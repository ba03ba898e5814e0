/* Tests of vvm-smsd's pieces that need no peer: what an outbox entry
 * becomes on the air (checked byte for byte), the SMPP PDUs it packs and
 * the MO it unpacks (PDUs written out by hand from SMPP 3.4, each also
 * placed before an unmapped page), and the outbox's bookkeeping over a
 * real vvmfs mount: order, retries, resends after a lost connection, and
 * a removal only once every short message was accepted. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "guard-page.h"
#include "smpp-pdu.h"
#include "smsd-config.h"
#include "smsd-outbox.h"
#include "smsd-segments.h"

static void config_init(struct smsd_config *cfg, const char *mount)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mount = g_strdup(mount);
	cfg->mode = SMSD_MODE_SMPP;
	cfg->poll_ms = 250;
	cfg->retry_max_s = 300;
	cfg->source_addr = g_strdup("12345");
	cfg->source_ton = 1;
	cfg->source_npi = 1;
	cfg->dest_ton = 1;
	cfg->dest_npi = 1;
	cfg->protocol_id = 64;
	cfg->service_types[SMSD_SERVICE_INBOX] = g_strdup("VVMIN");
	cfg->service_types[SMSD_SERVICE_GREETING] = g_strdup("VVMGR");
	cfg->service_types[SMSD_SERVICE_STATUS] = g_strdup("VVMST");
	cfg->service_types[SMSD_SERVICE_OTP] = g_strdup("");
	cfg->system_id = g_strdup("vvm");
	cfg->password = g_strdup("secret");
	cfg->system_type = g_strdup("VVM");
	cfg->window = 10;
}

static struct vvm_sms_entry entry_of(const char *to, uint16_t port,
				     enum vvm_sms_entry_kind kind,
				     const char *text)
{
	struct vvm_sms_entry e = { .port = port, .kind = kind,
				   .replace = true };

	g_strlcpy(e.to, to, sizeof(e.to));
	e.text_len = strlen(text);
	memcpy(e.text, text, e.text_len);
	return e;
}

static void assert_segment(const struct smsd_out *o, guint i,
			   const void *expect, size_t len)
{
	gsize got_len;
	const void *got = g_bytes_get_data(g_ptr_array_index(o->segments, i),
					   &got_len);

	g_assert_cmpmem(got, got_len, expect, len);
}

#define SYNC_NM "//VVM:SYNC:ev=NM;id=3;c=1;t=v;s=+31600000001;" \
		"dt=22/11/2026 10:00 +0000;l=5"

/* Binary: IEI 5 to the client's port, 8-bit data, PID 64, UDHI. */
static void test_binary(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	const char *reason = NULL;
	g_autoptr(GByteArray) expect = g_byte_array_new();
	static const uint8_t udh[] = { 6, 5, 4, 0x15, 0x7b, 0, 0 };

	config_init(&cfg, "/nowhere");
	g_assert_cmpint(smsd_out_build(&cfg, &e, 7, &o, &reason), ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 1);
	g_assert_cmpuint(o->esm_class, ==, 0x40);
	g_assert_cmpuint(o->data_coding, ==, 4);
	g_assert_cmpuint(o->protocol_id, ==, 64);
	g_assert_cmpint(o->service, ==, SMSD_SERVICE_INBOX);
	g_assert_true(o->replace);
	g_byte_array_append(expect, udh, sizeof(udh));
	g_byte_array_append(expect, (const guint8 *)SYNC_NM, strlen(SYNC_NM));
	assert_segment(o, 0, expect->data, expect->len);
	smsd_out_destroy(&o);

	/* A GU replaces greetings only; a STATUS, STATUS only. */
	e = entry_of("31612345678", 5499, VVM_SMS_ENTRY_SYNC,
		     "//VVM:SYNC:ev=GU;c=0");
	g_assert_cmpint(smsd_out_build(&cfg, &e, 7, &o, &reason), ==, 0);
	g_assert_cmpint(o->service, ==, SMSD_SERVICE_GREETING);
	smsd_out_destroy(&o);
	e = entry_of("31612345678", 5499, VVM_SMS_ENTRY_STATUS,
		     "//VVM:STATUS:st=U;rc=3");
	g_assert_cmpint(smsd_out_build(&cfg, &e, 7, &o, &reason), ==, 0);
	g_assert_cmpint(o->service, ==, SMSD_SERVICE_STATUS);
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

/* A long binary message: IEI 5 and IEI 0 (reference, total, sequence) in
 * every part, at most 140 octets each, the text whole across them. */
static void test_binary_concatenated(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	g_autofree char *text = g_strdup_printf("//VVM:STATUS:st=N;rc=0;%s",
						"srv=2:vvm.example.net;tui=*86;"
						"dn=5555;ipt=143;spt=587;"
						"u=31612345678;pw=abcdefghijklmnopqrstuv;"
						"lang=eng|fre|deu;g_len=60;vs_len=10;"
						"pw_len=4-15;smtp_u=31612345678;"
						"smtp_pw=abcdefghijklmnopqrstuv");
	struct vvm_sms_entry e = entry_of("+31612345678", 1808,
					  VVM_SMS_ENTRY_STATUS, text);
	g_autoptr(GString) joined = g_string_new(NULL);
	const char *reason = NULL;

	config_init(&cfg, "/nowhere");
	g_assert_cmpint(smsd_out_build(&cfg, &e, 0x2a, &o, &reason), ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 2);
	for (guint i = 0; i < 2; i++) {
		gsize len;
		const uint8_t *sm = g_bytes_get_data(
			g_ptr_array_index(o->segments, i), &len);
		const uint8_t udh[] = { 11, 5, 4, 0x07, 0x10, 0, 0,
					0, 3, 0x2a, 2, (uint8_t)(i + 1) };

		g_assert_cmpuint(len, <=, 140);
		g_assert_cmpmem(sm, sizeof(udh), udh, sizeof(udh));
		g_string_append_len(joined, (const char *)sm + sizeof(udh),
				    (gssize)(len - sizeof(udh)));
	}
	g_assert_cmpstr(joined->str, ==, text);
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

/* The annex: the UDH stays in clear, the rest is 3DES, 8-bit data. */
static void test_binary_encrypted(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	g_autoptr(GByteArray) plain = g_byte_array_new();
	const char *reason = NULL;
	gsize len;
	const uint8_t *sm;

	config_init(&cfg, "/nowhere");
	cfg.encrypt = true;
	for (int i = 0; i < VVM_SMS_KEY_LEN; i++)
		cfg.key[i] = (uint8_t)(i * 7 + 1);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 1, &o, &reason), ==, 0);
	g_assert_cmpuint(o->data_coding, ==, 4);
	sm = g_bytes_get_data(g_ptr_array_index(o->segments, 0), &len);
	g_assert_cmpuint(sm[0], ==, 6);
	g_assert_cmpuint((len - 7) % 8, ==, 0);
	g_assert_cmpint(vvm_sms_sm_decrypt(cfg.key, true, sm, len, plain), ==, 0);
	g_assert_cmpmem(plain->data + 7, plain->len - 7, SYNC_NM,
			strlen(SYNC_NM));
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

/* Port 0 and every OTP: visible text. ASCII in the configured coding,
 * 160 characters alone or 153 a part; anything else UCS-2, 70 or 67. */
static void test_text(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	g_autofree char *c160 = g_strnfill(160, 'a');
	g_autofree char *c161 = g_strnfill(161, 'b');
	struct vvm_sms_entry e;
	const char *reason = NULL;
	static const uint8_t udh2[] = { 5, 0, 3, 9, 2, 2 };

	config_init(&cfg, "/nowhere");
	cfg.text_data_coding = 1;
	e = entry_of("31612345678", 0, VVM_SMS_ENTRY_OTP, c160);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 9, &o, &reason), ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 1);
	g_assert_cmpuint(o->esm_class, ==, 0);
	g_assert_cmpuint(o->data_coding, ==, 1);
	g_assert_cmpuint(o->protocol_id, ==, 0);
	assert_segment(o, 0, c160, 160);
	smsd_out_destroy(&o);

	/* An OTP goes as text even to an application port. */
	e = entry_of("31612345678", 5499, VVM_SMS_ENTRY_OTP, c161);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 9, &o, &reason), ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 2);
	g_assert_cmpuint(o->esm_class, ==, 0x40);
	{
		g_autoptr(GByteArray) second = g_byte_array_new();

		g_byte_array_append(second, udh2, sizeof(udh2));
		g_byte_array_append(second, (const guint8 *)c161 + 153, 8);
		assert_segment(o, 1, second->data, second->len);
	}
	smsd_out_destroy(&o);

	/* "Code é": UCS-2, big-endian. */
	e = entry_of("31612345678", 0, VVM_SMS_ENTRY_OTP, "Code \xc3\xa9");
	g_assert_cmpint(smsd_out_build(&cfg, &e, 9, &o, &reason), ==, 0);
	g_assert_cmpuint(o->data_coding, ==, 8);
	assert_segment(o, 0, "\0C\0o\0d\0e\0 \0\xe9", 12);
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

/* 66 characters, a surrogate pair, 10 more: the part of 67 units would
 * end inside the pair, which stays whole in the second. */
static void test_text_surrogates(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	struct vvm_sms_entry e;
	const char *reason = NULL;
	gsize len;
	const uint8_t *first;

	for (int i = 0; i < 66; i++)
		g_string_append(text, "\xc3\xa9");
	g_string_append(text, "\xf0\x9f\x93\x9e"); /* U+1F4DE */
	g_string_append(text, "xxxxxxxxxx");
	config_init(&cfg, "/nowhere");
	e = entry_of("31612345678", 0, VVM_SMS_ENTRY_OTP, text->str);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 3, &o, &reason), ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 2);
	first = g_bytes_get_data(g_ptr_array_index(o->segments, 0), &len);
	g_assert_cmpuint(len, ==, 6 + 66 * 2);
	g_assert_cmpuint(first[5], ==, 1);
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

/* Data coding 0: the parts are counted in GSM septets, an escaped
 * character weighing two, and the submit_sm carries septets. */
static void test_text_gsm7(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	g_autoptr(GString) fits = g_string_new("u=1@x{");
	g_autoptr(GString) over = NULL;
	g_autoptr(GByteArray) pdu = g_byte_array_new();
	struct vvm_sms_entry e;
	const char *reason = NULL;

	config_init(&cfg, "/nowhere");
	/* 6 characters, 7 septets; 153 more make 160. */
	for (int i = 0; i < 153; i++)
		g_string_append_c(fits, 'a');
	over = g_string_new(fits->str);
	g_string_append_c(over, 'b');
	e = entry_of("31612345678", 0, VVM_SMS_ENTRY_STATUS, fits->str);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 1, &o, &reason), ==, 0);
	g_assert_cmpuint(o->data_coding, ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 1);
	g_assert_cmpint(smpp_put_submit(pdu, 1, &cfg, o, 0), ==, 0);
	/* sm_length, then "u=1", '@' as 0x00, 'x', '{' escaped. */
	g_assert_cmpuint(pdu->data[pdu->len - 161], ==, 160);
	g_assert_cmpmem(pdu->data + pdu->len - 160, 7,
			"u=1\x00x\x1b\x28", 7);
	smsd_out_destroy(&o);

	e = entry_of("31612345678", 0, VVM_SMS_ENTRY_STATUS, over->str);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 1, &o, &reason), ==, 0);
	g_assert_cmpuint(o->segments->len, ==, 2);
	/* 153 septets: the 6 characters (7) and 146 a's. */
	g_assert_cmpuint(g_bytes_get_size(g_ptr_array_index(o->segments, 0)),
			 ==, 6 + 6 + 146);
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

/* ---- PDUs ---- */

static GByteArray *pdu_of(const char *hex_text)
{
	GByteArray *b = g_byte_array_new();

	for (const char *p = hex_text; *p != '\0'; p++) {
		int hi, lo;

		if (*p == ' ')
			continue;
		hi = g_ascii_xdigit_value(p[0]);
		lo = g_ascii_xdigit_value(p[1]);
		g_assert_true(hi >= 0 && lo >= 0);
		g_byte_array_append(b, (const guint8[]){ (guint8)(hi << 4 | lo) },
				    1);
		p++;
	}
	return b;
}

static void test_frame(void)
{
	g_autoptr(GByteArray) link = pdu_of("00000010 00000015 00000000 00000007");
	struct smpp_header h;

	for (guint cut = 0; cut < link->len; cut++)
		g_assert_cmpint(smpp_frame(link->data, cut, &h), ==, 0);
	g_assert_cmpint(smpp_frame(link->data, link->len, &h), ==, 16);
	g_assert_cmpuint(h.id, ==, 0x15);
	g_assert_cmpuint(h.seq, ==, 7);
	link->data[3] = 0x0f;
	g_assert_cmpint(smpp_frame(link->data, link->len, &h), ==, -EBADMSG);
	link->data[3] = 0x10;
	link->data[1] = 0x01;
	g_assert_cmpint(smpp_frame(link->data, link->len, &h), ==, -EBADMSG);
}

/* bind_transceiver and submit_sm byte for byte, as SMPP 3.4 lays them
 * out. */
static void test_pack(void)
{
	struct smsd_config cfg;
	struct smsd_out *o = NULL;
	struct vvm_sms_entry e = entry_of("+3161", 5499, VVM_SMS_ENTRY_SYNC,
					  "//VVM:SYNC:ev=MBU;c=1");
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GByteArray) bind = pdu_of(
		"00000023 00000009 00000000 00000001"
		"76766d00"                  /* system_id */
		"73656372657400"            /* password */
		"56564d00"                  /* system_type */
		"34 00 00 00");             /* version, ton, npi, range */
	g_autoptr(GByteArray) submit = pdu_of(
		"0000004b 00000004 00000000 00000002"
		"56564d494e00"              /* service_type VVMIN */
		"01 01 313233343500"        /* source */
		"01 01 3331363100"          /* destination, without '+' */
		"40 40 00 00 00 00 01 04 00" /* esm, pid, prio, times, reg,
					      * replace, coding, default */
		"1c 06050415 7b0000"         /* sm_length, UDH */
		"2f2f56564d3a53594e433a65763d4d42553b633d31");
	const char *reason = NULL;

	config_init(&cfg, "/nowhere");
	g_assert_cmpint(smpp_put_bind(out, 1, &cfg), ==, 0);
	g_assert_cmpmem(out->data, out->len, bind->data, bind->len);
	g_byte_array_set_size(out, 0);
	g_assert_cmpint(smsd_out_build(&cfg, &e, 0, &o, &reason), ==, 0);
	g_assert_cmpint(smpp_put_submit(out, 2, &cfg, o, 0), ==, 0);
	g_assert_cmpmem(out->data, out->len, submit->data, submit->len);
	g_byte_array_set_size(out, 0);
	smpp_put_deliver_resp(out, 9, 0x64);
	{
		g_autoptr(GByteArray) resp = pdu_of(
			"00000011 80000005 00000064 00000009 00");

		g_assert_cmpmem(out->data, out->len, resp->data, resp->len);
	}
	smsd_out_destroy(&o);
	smsd_config_clear(&cfg);
}

static int deliver_guarded(GByteArray *pdu, struct smpp_mo *mo,
			   const char **reason)
{
	struct smpp_mo cut_mo;
	const char *r;

	for (guint cut = 16; cut < pdu->len; cut++) {
		if (smpp_deliver_parse((const uint8_t *)guard_place(pdu->data,
								   cut),
				       cut, &cut_mo, &r) == 0)
			smpp_mo_clear(&cut_mo);
	}
	return smpp_deliver_parse((const uint8_t *)guard_place(pdu->data,
							       pdu->len),
				  pdu->len, mo, reason);
}

/* A deliver_sm header and fields up to data_coding; the caller adds
 * sm_length and the message. */
#define DELIVER_HEAD(esm, coding) \
	"00000000 00000005 00000000 00000003" \
	"00 01 01 2b333136313233343536373800" \
	"00 00 3132333400" esm " 00 00 00 00 00 00" coding " 00"

static void set_length(GByteArray *pdu)
{
	pdu->data[0] = (uint8_t)(pdu->len >> 24);
	pdu->data[1] = (uint8_t)(pdu->len >> 16);
	pdu->data[2] = (uint8_t)(pdu->len >> 8);
	pdu->data[3] = (uint8_t)pdu->len;
}

static void test_deliver(void)
{
	struct {
		const char *hex;
		const char *text;
		bool receipt;
	} cases[] = {
		/* ASCII in the default alphabet. */
		{ DELIVER_HEAD("00", "00") "0c 5374617475733a70763d3133",
		  "Status:pv=13", false },
		/* With a UDH (ports), which is not text. */
		{ DELIVER_HEAD("40", "00") "0d 0605041a0b0000 535441545553",
		  "STATUS", false },
		/* UCS-2. */
		{ DELIVER_HEAD("00", "08") "06 00410063 00e9", "Ac\xc3\xa9",
		  false },
		/* Latin-1. */
		{ DELIVER_HEAD("00", "03") "02 41e9", "A\xc3\xa9", false },
		/* Empty short message, the text in message_payload. */
		{ DELIVER_HEAD("00", "00") "00 0424 0006 535441545553",
		  "STATUS", false },
		/* A delivery receipt. */
		{ DELIVER_HEAD("04", "00") "03 696421", "id!", true },
	};
	struct smpp_mo mo;
	const char *reason = NULL;

	guard_init(1);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) pdu = pdu_of(cases[i].hex);

		g_test_message("case %zu", i);
		set_length(pdu);
		g_assert_cmpint(deliver_guarded(pdu, &mo, &reason), ==, 0);
		g_assert_cmpstr(mo.source, ==, "+31612345678");
		g_assert_cmpmem(mo.text, mo.len, cases[i].text,
				strlen(cases[i].text));
		g_assert_cmpint(mo.receipt, ==, cases[i].receipt);
		smpp_mo_clear(&mo);
	}
}

static void test_deliver_malformed(void)
{
	const char *const bad[] = {
		/* The UDH claims more than there is. */
		DELIVER_HEAD("40", "00") "03 09 0504",
		/* sm_length past the end. */
		DELIVER_HEAD("00", "00") "20 4142",
		/* A source address without its NUL. */
		"00000000 00000005 00000000 00000003 00 01 01 3131313131313131"
		"31313131313131313131313131313131",
	};
	struct smpp_mo mo;
	const char *reason = NULL;

	guard_init(1);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GByteArray) pdu = pdu_of(bad[i]);

		g_test_message("case %zu", i);
		set_length(pdu);
		g_assert_cmpint(deliver_guarded(pdu, &mo, &reason), ==,
				-EBADMSG);
	}
}

/* ---- the outbox over a real vvmfs mount ---- */

struct outbox_fixture {
	char *root;
	char *mount;
	char *dir;
	GPid vvmfs;
	struct smsd_config cfg;
	struct smsd_outbox *ob;
};

static bool outbox_ready(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0;
}

/* vvmfs (the build's, from $VVMFS) over a fresh store. */
static void mount_vvmfs(struct outbox_fixture *f)
{
	g_autofree char *store = g_build_filename(f->root, "store", NULL);
	const char *vvmfs = g_getenv("VVMFS");
	char *argv[] = { (char *)vvmfs, "-f", store, f->mount, NULL };
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(vvmfs);
	g_assert_true(g_spawn_async(NULL, argv, NULL,
				    G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
				    &f->vvmfs, &error));
	for (int i = 0; i < 500 && !outbox_ready(f->dir); i++)
		g_usleep(20000);
	g_assert_true(outbox_ready(f->dir));
}

static void unmount_vvmfs(struct outbox_fixture *f)
{
	char *argv[] = { "fusermount3", "-u", "-z", f->mount, NULL };
	int status;

	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH,
				   NULL, NULL, NULL, NULL, &status, NULL));
	g_assert_cmpint(waitpid(f->vvmfs, &status, 0), ==, f->vvmfs);
	g_spawn_close_pid(f->vvmfs);
}

/* Queues an entry the way vvm-smsd queues its answers. */
static void enqueue(struct outbox_fixture *f, const struct vvm_sms_entry *e)
{
	g_autoptr(GString) text = g_string_new(NULL);

	vvm_sms_entry_format(e, text);
	g_assert_cmpint(setxattr(f->dir, "user.vvm.enqueue", text->str,
				 text->len, 0), ==, 0);
}

static bool entry_exists(struct outbox_fixture *f, uint64_t seq)
{
	g_autofree char *path = g_strdup_printf("%s/%" G_GUINT64_FORMAT,
						f->dir, seq);

	return g_file_test(path, G_FILE_TEST_EXISTS);
}

static void outbox_setup(struct outbox_fixture *f, gconstpointer data)
{
	f->root = g_dir_make_tmp("test-smsd-XXXXXX", NULL);
	f->mount = g_build_filename(f->root, "mnt", NULL);
	f->dir = g_build_filename(f->mount, ".outbox", "sms", NULL);
	g_assert_cmpint(g_mkdir(f->mount, 0700), ==, 0);
	mount_vvmfs(f);
	config_init(&f->cfg, f->mount);
	f->ob = smsd_outbox_create(&f->cfg);
}

static void outbox_teardown(struct outbox_fixture *f, gconstpointer data)
{
	g_autofree char *rm = g_strdup_printf("rm -rf '%s'", f->root);

	smsd_outbox_destroy(&f->ob);
	unmount_vvmfs(f);
	g_assert_true(g_spawn_command_line_sync(rm, NULL, NULL, NULL, NULL));
	smsd_config_clear(&f->cfg);
	g_free(f->dir);
	g_free(f->mount);
	g_free(f->root);
}

#define LONG_TEXT "//VVM:STATUS:st=N;rc=0;srv=2:vvm.example.net;tui=*86;" \
	"dn=5555;ipt=143;spt=587;u=31612345678;pw=abcdefghijklmnopqrstuv;" \
	"lang=eng|fre|deu;g_len=60;vs_len=10;pw_len=4-15;smtp_u=31612345678;" \
	"smtp_pw=abcdefghijklmnopqrstuv"

/* Entries go in sequence order, and each is removed at its acceptance,
 * by a batch of its own or with others. */
static void test_outbox_order(struct outbox_fixture *f, gconstpointer data)
{
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	struct smsd_item *a, *b;
	guint seg;

	enqueue(f, &e);
	enqueue(f, &e);
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 2);
	a = smsd_outbox_next(f->ob, 0, &seg);
	b = smsd_outbox_next(f->ob, 0, &seg);
	g_assert_cmpuint(a->seq, ==, 1);
	g_assert_cmpuint(b->seq, ==, 2);
	g_assert_null(smsd_outbox_next(f->ob, 0, &seg));
	/* Known entries are not loaded twice. */
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 0);
	smsd_outbox_result(f->ob, b, true, false, 0);
	smsd_outbox_settle(f->ob);
	g_assert_false(entry_exists(f, 2));
	g_assert_true(entry_exists(f, 1));
	g_assert_false(smsd_outbox_idle(f->ob));
	smsd_outbox_result(f->ob, a, true, false, 0);
	smsd_outbox_settle(f->ob);
	g_assert_false(entry_exists(f, 1));
	g_assert_cmpint(smsd_outbox_next_time(f->ob), ==, -1);
	g_assert_true(smsd_outbox_idle(f->ob));
}

/* A refused part sends the whole entry again, after a pause; the rest of
 * it is not handed out meanwhile. */
static void test_outbox_refusal(struct outbox_fixture *f, gconstpointer data)
{
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_STATUS, LONG_TEXT);
	struct smsd_item *item;
	guint seg;

	enqueue(f, &e);
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 1);
	item = smsd_outbox_next(f->ob, 0, &seg);
	g_assert_cmpuint(seg, ==, 0);
	g_assert_cmpuint(item->out->segments->len, ==, 2);
	smsd_outbox_result(f->ob, item, false, false, 1000);
	/* Two seconds for the first retry. */
	g_assert_null(smsd_outbox_next(f->ob, 1000, &seg));
	g_assert_cmpint(smsd_outbox_next_time(f->ob), ==, 1000 + 2000000);
	item = smsd_outbox_next(f->ob, 1000 + 2000000, &seg);
	g_assert_nonnull(item);
	g_assert_cmpuint(seg, ==, 0);
	g_assert_true(smsd_outbox_next(f->ob, 1000 + 2000000, &seg) == item);
	g_assert_cmpuint(seg, ==, 1);
	smsd_outbox_result(f->ob, item, true, false, 3000000);
	smsd_outbox_settle(f->ob);
	g_assert_true(entry_exists(f, 1));
	/* Throttled: a second, not the growing pause. */
	smsd_outbox_result(f->ob, item, false, true, 3000000);
	g_assert_cmpint(smsd_outbox_next_time(f->ob), ==, 4000000);
	g_assert_true(entry_exists(f, 1));
}

/* A lost connection: what was handed out goes again, from its first
 * part, and accepted entries are gone already. */
static void test_outbox_reset(struct outbox_fixture *f, gconstpointer data)
{
	struct vvm_sms_entry long_e = entry_of("31612345678", 5499,
					       VVM_SMS_ENTRY_STATUS,
					       LONG_TEXT);
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	struct smsd_item *a, *b, *c;
	guint seg;

	enqueue(f, &e);
	enqueue(f, &long_e);
	enqueue(f, &e);
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 3);
	a = smsd_outbox_next(f->ob, 0, &seg);
	b = smsd_outbox_next(f->ob, 0, &seg);
	smsd_outbox_result(f->ob, a, true, false, 0);
	smsd_outbox_settle(f->ob);
	g_assert_false(entry_exists(f, 1));
	smsd_outbox_reset(f->ob);
	b = smsd_outbox_next(f->ob, 0, &seg);
	g_assert_cmpuint(b->seq, ==, 2);
	g_assert_cmpuint(seg, ==, 0);
	g_assert_true(smsd_outbox_next(f->ob, 0, &seg) == b);
	g_assert_cmpuint(seg, ==, 1);
	c = smsd_outbox_next(f->ob, 0, &seg);
	g_assert_cmpuint(c->seq, ==, 3);
	g_assert_null(smsd_outbox_next(f->ob, 0, &seg));
}

/* An entry an administrator removed meanwhile is no error. */
static void test_outbox_removed_by_hand(struct outbox_fixture *f,
					gconstpointer data)
{
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	g_autofree char *one = g_build_filename(f->dir, "1", NULL);
	struct smsd_item *item;

	enqueue(f, &e);
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 1);
	item = smsd_outbox_next_entry(f->ob, 0);
	g_assert_cmpuint(item->seq, ==, 1);
	g_assert_cmpuint(item->next, ==, 1);
	g_assert_cmpint(g_unlink(one), ==, 0);
	smsd_outbox_result(f->ob, item, true, false, 0);
	smsd_outbox_settle(f->ob);
	g_assert_cmpint(smsd_outbox_next_time(f->ob), ==, -1);
	g_assert_true(smsd_outbox_idle(f->ob));
}

/* A removal that fails (vvmfs is gone) leaves the entry held, done: it is
 * not sent again, and once vvmfs is back the next scan removes it. */
static void test_outbox_removal_fails(struct outbox_fixture *f,
				      gconstpointer data)
{
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	struct smsd_item *item;
	guint seg;

	enqueue(f, &e);
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 1);
	item = smsd_outbox_next(f->ob, 0, &seg);
	unmount_vvmfs(f);
	smsd_outbox_result(f->ob, item, true, false, 0);
	smsd_outbox_settle(f->ob);
	g_assert_false(smsd_outbox_idle(f->ob));
	g_assert_true(item->done && !item->retiring);
	g_assert_null(smsd_outbox_next(f->ob, 0, &seg));
	mount_vvmfs(f);
	g_assert_true(entry_exists(f, 1));
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 0);
	smsd_outbox_settle(f->ob);
	g_assert_false(entry_exists(f, 1));
	g_assert_true(smsd_outbox_idle(f->ob));
}

/* A backlog larger than what is held: 2000 are read, the rest once half
 * the room is free again, not at the next idle poll. */
static void test_outbox_backlog(struct outbox_fixture *f, gconstpointer data)
{
	struct vvm_sms_entry e = entry_of("31612345678", 5499,
					  VVM_SMS_ENTRY_SYNC, SYNC_NM);
	struct smsd_item *item;
	guint seg, sent = 0;

	for (int i = 0; i < 2100; i++)
		enqueue(f, &e);
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 2000);
	g_assert_false(smsd_outbox_wants_scan(f->ob));
	while (sent < 1000 && (item = smsd_outbox_next(f->ob, 0, &seg))) {
		smsd_outbox_result(f->ob, item, true, false, 0);
		sent++;
	}
	smsd_outbox_settle(f->ob);
	g_assert_true(smsd_outbox_wants_scan(f->ob));
	g_assert_cmpint(smsd_outbox_scan(f->ob), ==, 100);
	g_assert_false(smsd_outbox_wants_scan(f->ob));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smsd/out/binary", test_binary);
	g_test_add_func("/smsd/out/binary-concatenated",
			test_binary_concatenated);
	g_test_add_func("/smsd/out/binary-encrypted", test_binary_encrypted);
	g_test_add_func("/smsd/out/text", test_text);
	g_test_add_func("/smsd/out/text-surrogates", test_text_surrogates);
	g_test_add_func("/smsd/out/text-gsm7", test_text_gsm7);
	g_test_add_func("/smsd/pdu/frame", test_frame);
	g_test_add_func("/smsd/pdu/pack", test_pack);
	g_test_add_func("/smsd/pdu/deliver", test_deliver);
	g_test_add_func("/smsd/pdu/deliver-malformed", test_deliver_malformed);
#define OUTBOX(name, fn) \
	g_test_add("/smsd/outbox/" name, struct outbox_fixture, NULL, \
		   outbox_setup, fn, outbox_teardown)
	OUTBOX("order", test_outbox_order);
	OUTBOX("refusal", test_outbox_refusal);
	OUTBOX("reset", test_outbox_reset);
	OUTBOX("removed-by-hand", test_outbox_removed_by_hand);
	OUTBOX("removal-fails", test_outbox_removal_fails);
	OUTBOX("backlog", test_outbox_backlog);
	return g_test_run();
}
