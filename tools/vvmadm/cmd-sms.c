/* VVM SMS for administrators: decode what a phone received or sent (a
 * text, or a short message in hex with its UDH, decrypted with the
 * annex's key), encode a SYNC or STATUS as vvm sends it, and ask vvmfs to
 * queue a STATUS for a subscriber. Only send-status touches the mount. */
#include "vvmadm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vvm-sms.h"

static const char *const events[] = { "NM", "MBU", "GU" };

static bool parse_hex(const char *text, GByteArray *out)
{
	size_t len = strlen(text);

	if (len % 2 != 0)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int hi = g_ascii_xdigit_value(text[i]);
		int lo = g_ascii_xdigit_value(text[i + 1]);
		guint8 b = (guint8)(hi << 4 | lo);

		if (hi < 0 || lo < 0)
			return false;
		g_byte_array_append(out, &b, 1);
	}
	return true;
}

static bool parse_key(const char *hex, uint8_t *key)
{
	g_autoptr(GByteArray) bytes = g_byte_array_new();

	if (hex == NULL)
		return true;
	if (!parse_hex(hex, bytes) || bytes->len != VVM_SMS_KEY_LEN) {
		fprintf(stderr, "vvmadm: sms: --key wants 48 hexadecimal "
				"digits\n");
		return false;
	}
	memcpy(key, bytes->data, VVM_SMS_KEY_LEN);
	return true;
}

static void print_opt(const char *name, const char *value)
{
	if (value != NULL)
		printf("%s %s\n", name, value);
}

/* dt in ISO 8601, in the zone the SMS gave. */
static void print_time(int64_t t, int32_t offset)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_offset(offset);
	g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
	g_autoptr(GDateTime) local = utc != NULL && tz != NULL
		? g_date_time_to_timezone(utc, tz) : NULL;
	g_autofree char *text = local != NULL
		? g_date_time_format_iso8601(local) : NULL;

	printf("dt %s\n", text != NULL ? text : "?");
}

static void print_sync(const struct vvm_sms_sync *s)
{
	printf("ev %s\n", events[s->ev]);
	printf("c %u\n", s->c);
	if (s->ev != VVM_SMS_EV_NM)
		return;
	printf("id %" G_GUINT64_FORMAT "\n", (guint64)s->id);
	printf("t %c\n", s->t);
	print_opt("s", s->s);
	print_time(s->dt, s->dt_offset);
	printf("l %u\n", s->l);
}

static void print_status(const struct vvm_sms_status *s)
{
	printf("st %c\nrc %u\n", s->st, s->rc);
	print_opt("rs", s->rs);
	if (s->st == 'U' || s->st == 'B')
		return;
	print_opt("srv", s->srv);
	print_opt("tui", s->tui);
	print_opt("dn", s->dn);
	printf("ipt %u\nspt %u\n", s->ipt, s->spt);
	print_opt("u", s->u);
	print_opt("pw", s->pw);
	print_opt("lang", s->lang);
	printf("g_len %u\nvs_len %u\npw_len %u-%u\n", s->g_len, s->vs_len,
	       s->pw_min, s->pw_max);
	print_opt("smtp_u", s->smtp_u);
	print_opt("smtp_pw", s->smtp_pw);
	printf("pm %c\ngm %c\nvtc %c\nvt %d\n", s->pm ? 'Y' : 'N', s->gm,
	       s->vtc, s->vt ? 1 : 0);
}

static void print_mo(const struct vvm_sms_mo *mo)
{
	static const char *const names[] = { "STATUS", "Activate",
					     "Deactivate" };

	printf("kind %s\n", names[mo->command]);
	if (mo->pv != 0)
		printf("pv %u\n", mo->pv);
	if (mo->ct[0] != '\0')
		printf("ct %s\n", mo->ct);
	if (mo->pt >= 0)
		printf("pt %d\n", mo->pt);
	if (mo->prefix[0] != '\0')
		printf("prefix %s\n", mo->prefix);
	if (mo->dt >= 0)
		printf("dt %d\n", mo->dt);
}

/* Prints what text is: a server-originated SYNC or STATUS, or a client's
 * command. Returns false when it is neither. */
static bool decode_text(const char *text, size_t len)
{
	struct vvm_sms_server_msg *msg = NULL;
	struct vvm_sms_mo mo;
	const char *reason = NULL, *mo_reason = NULL;
	int rc;

	if (vvm_sms_server_parse(text, len, &msg, &reason) == 0) {
		printf("kind %s\nprefix %s\n",
		       msg->kind == VVM_SMS_SYNC ? "SYNC" : "STATUS",
		       msg->prefix);
		if (msg->kind == VVM_SMS_SYNC)
			print_sync(&msg->sync);
		else
			print_status(&msg->status);
		vvm_sms_server_msg_destroy(&msg);
		return true;
	}
	if (vvm_sms_mo_parse(text, len, &mo, &rc, &mo_reason) == 0) {
		print_mo(&mo);
		return true;
	}
	fprintf(stderr, "vvmadm: sms decode: not a SYNC or STATUS (%s), nor "
			"a client's command (%s)\n", reason, mo_reason);
	return false;
}

/* A short message in hex: its UDH, decrypted payload, and text. */
static bool decode_short_message(const char *hex, bool udhi, const char *key)
{
	g_autoptr(GByteArray) sm = g_byte_array_new();
	g_autoptr(GByteArray) plain = g_byte_array_new();
	uint8_t k[VVM_SMS_KEY_LEN];
	struct vvm_sms_udh udh = { 0 };
	const char *reason = NULL;
	int offset = 0;

	if (!parse_hex(hex, sm) || !parse_key(key, k)) {
		fprintf(stderr, "vvmadm: sms decode: --hex wants hexadecimal "
				"digits in pairs\n");
		return false;
	}
	if (key != NULL &&
	    vvm_sms_sm_decrypt(k, udhi, sm->data, sm->len, plain) < 0) {
		fprintf(stderr, "vvmadm: sms decode: cannot decrypt (wrong "
				"key, or not encrypted)\n");
		return false;
	}
	if (key == NULL)
		g_byte_array_append(plain, sm->data, sm->len);
	if (udhi) {
		offset = vvm_sms_udh_decode(plain->data, plain->len, &udh,
					    &reason);
		if (offset < 0) {
			fprintf(stderr, "vvmadm: sms decode: UDH: %s\n", reason);
			return false;
		}
		if (udh.ports)
			printf("dst_port %u\nsrc_port %u\n", udh.dst_port,
			       udh.src_port);
		if (udh.concat)
			printf("ref %u\npart %u/%u\n", udh.ref, udh.seq,
			       udh.total);
	}
	return decode_text((const char *)plain->data + offset,
			   plain->len - (size_t)offset);
}

static int sms_decode(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *hex = NULL;
	g_autofree char *key = NULL;
	gboolean no_udh = FALSE;
	const GOptionEntry entries[] = {
		{ "hex", 0, 0, G_OPTION_ARG_STRING, &hex,
		  "a short message in hex, its UDH first", "HEX" },
		{ "no-udh", 0, 0, G_OPTION_ARG_NONE, &no_udh,
		  "with --hex: the short message has no UDH", NULL },
		{ "key", 0, 0, G_OPTION_ARG_STRING, &key,
		  "with --hex: decrypt with this 3DES key (48 hex digits)",
		  "KEY" },
		G_OPTION_ENTRY_NULL
	};
	bool ok;

	if (!vvmadm_parse_options(adm, &argc, &argv, entries))
		return VVMADM_USAGE;
	if ((hex == NULL) != (argc == 3) || argc > 3)
		return vvmadm_usage(argv[0]);
	ok = hex != NULL ? decode_short_message(hex, !no_udh, key)
			 : decode_text(argv[2], strlen(argv[2]));
	return ok ? VVMADM_OK : VVMADM_FAILED;
}

static void print_hex(GBytes *bytes)
{
	gsize len;
	const uint8_t *p = g_bytes_get_data(bytes, &len);

	for (gsize i = 0; i < len; i++)
		printf("%02x", p[i]);
	putchar('\n');
}

/* Encodes a SYNC or STATUS given in the spec's syntax the way vvm sends
 * it; with --port, also as the short messages to that port. */
static int sms_encode(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *key = NULL;
	gint port = -1, ref = 0;
	const GOptionEntry entries[] = {
		{ "port", 0, 0, G_OPTION_ARG_INT, &port,
		  "print the short messages to this application port, in hex",
		  "PORT" },
		{ "ref", 0, 0, G_OPTION_ARG_INT, &ref,
		  "with --port: the concatenation reference (0-255)", "N" },
		{ "key", 0, 0, G_OPTION_ARG_STRING, &key,
		  "with --port: encrypt with this 3DES key (48 hex digits)",
		  "KEY" },
		G_OPTION_ENTRY_NULL
	};
	struct vvm_sms_server_msg *msg = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GPtrArray) segments = NULL;
	struct vvm_sms_split_opts opts = { .ports = true };
	uint8_t k[VVM_SMS_KEY_LEN];
	const char *reason = NULL;

	if (!vvmadm_parse_options(adm, &argc, &argv, entries))
		return VVMADM_USAGE;
	if (argc != 3)
		return vvmadm_usage(argv[0]);
	if (port > 65535 || ref < 0 || ref > 255 || !parse_key(key, k)) {
		fprintf(stderr, "vvmadm: sms encode: --port 0-65535, --ref "
				"0-255\n");
		return VVMADM_USAGE;
	}
	if (vvm_sms_server_parse(argv[2], strlen(argv[2]), &msg,
				 &reason) < 0 ||
	    vvm_sms_server_encode(msg, text, &reason) < 0) {
		vvm_sms_server_msg_destroy(&msg);
		fprintf(stderr, "vvmadm: sms encode: %s\n", reason);
		return VVMADM_FAILED;
	}
	vvm_sms_server_msg_destroy(&msg);
	printf("%s\n", text->str);
	if (port < 0)
		return VVMADM_OK;
	opts.dst_port = (uint16_t)port;
	opts.ref = (uint8_t)ref;
	opts.key = key != NULL ? k : NULL;
	if (vvm_sms_split(&opts, (const uint8_t *)text->str, text->len,
			  &segments) < 0) {
		fprintf(stderr, "vvmadm: sms encode: too long\n");
		return VVMADM_FAILED;
	}
	for (guint i = 0; i < segments->len; i++)
		print_hex(g_ptr_array_index(segments, i));
	return VVMADM_OK;
}

/* Asks vvmfs for a STATUS with the subscriber's status as it is, with
 * the credentials the profile holds now. */
static int sms_send_status(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *dir = NULL;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	if (argc != 3)
		return vvmadm_usage(argv[0]);
	if (!vvmadm_check_msisdn(argv[2]))
		return VVMADM_USAGE;
	dir = g_build_filename(adm->mount, argv[2], NULL);
	ret = mount_setxattr(dir, -1, "user.vvm.notify", "STATUS");
	if (ret < 0) {
		vvmadm_error(-ret, NULL, "sms send-status %s", argv[2]);
		return VVMADM_FAILED;
	}
	return VVMADM_OK;
}

int cmd_sms(struct vvmadm *adm, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct vvmadm *adm, int argc, char **argv);
	} subs[] = {
		{ "decode", sms_decode },
		{ "encode", sms_encode },
		{ "send-status", sms_send_status },
	};

	for (size_t i = 0; argc >= 2 && i < G_N_ELEMENTS(subs); i++) {
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(adm, argc, argv);
	}
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0))
		return vvmadm_help(argv[0]);
	if (argc >= 2 && argv[1][0] != '-')
		fprintf(stderr, "vvmadm: sms: unknown sub-command '%s'\n",
			argv[1]);
	return vvmadm_usage(argv[0]);
}
