/* Parsing of server-originated SYNC and STATUS texts, the inverse of
 * sms-server.c: for tests, fuzzing and "vvmadm sms decode". The text is
 * copied once; ';' and '=' in the copy become NULs, so every field value
 * is a string pointing into it. */
#include "sms-private.h"

#include <string.h>

struct field {
	const char *name;
	const char *missing; /* the reason when a required field is absent */
};

/* Those of every event first, then those of ev=NM. */
enum { S_EV, S_C, S_ID, S_T, S_S, S_DT, S_L, S_COUNT };

static const struct field sync_fields[S_COUNT] = {
	{ "ev", "ev: missing" },   { "c", "c: missing" },
	{ "id", "id: missing" },   { "t", "t: missing" },
	{ "s", NULL },             { "dt", "dt: missing" },
	{ "l", NULL },
};

enum {
	T_ST, T_RC, T_RS, T_SRV, T_TUI, T_DN, T_IPT, T_SPT, T_U, T_PW,
	T_LANG, T_G_LEN, T_VS_LEN, T_PW_LEN, T_SMTP_U, T_SMTP_PW, T_PM, T_GM,
	T_VTC, T_VT, T_COUNT
};

static const struct field status_fields[T_COUNT] = {
	{ "st", "st: missing" },
	{ "rc", "rc: missing" },
	{ "rs", NULL },
	{ "srv", "srv: missing" },
	{ "tui", "tui: missing" },
	{ "dn", "dn: missing" },
	{ "ipt", "ipt: missing" },
	{ "spt", "spt: missing" },
	{ "u", "u: missing" },
	{ "pw", "pw: missing" },
	{ "lang", "lang: missing" },
	{ "g_len", "g_len: missing" },
	{ "vs_len", "vs_len: missing" },
	{ "pw_len", "pw_len: missing" },
	{ "smtp_u", "smtp_u: missing" },
	{ "smtp_pw", "smtp_pw: missing" },
	{ "pm", NULL },
	{ "gm", NULL },
	{ "vtc", NULL },
	{ "vt", NULL },
};

/* Splits body into name=value fields known from table; values[i] gets
 * the value of table[i] or stays NULL. */
static int split_fields(char *body, const struct field *table, size_t count,
			const char **values, const char **reason_r)
{
	char *p = body;

	for (;;) {
		char *end = strchr(p, ';'), *eq;
		size_t i;

		if (end != NULL)
			*end = '\0';
		/* The spec's STATUS example has spaces after some ';'. */
		while (*p == ' ')
			p++;
		if (*p == '\0') {
			/* "followed by semicolons" may mean a last ';' too. */
			if (end == NULL && p != body)
				return 0;
			return sms_fail(reason_r, "empty field");
		}
		eq = strchr(p, '=');
		if (eq == NULL)
			return sms_fail(reason_r, "field without '='");
		*eq = '\0';
		for (i = 0; i < count; i++) {
			if (strcmp(p, table[i].name) == 0)
				break;
		}
		if (i == count)
			return sms_fail(reason_r, "unknown field");
		if (values[i] != NULL)
			return sms_fail(reason_r, "field repeated");
		values[i] = eq + 1;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

static int check_required(const struct field *table, size_t first,
			  size_t last, const char **values,
			  const char **reason_r)
{
	for (size_t i = first; i <= last; i++) {
		if (values[i] == NULL && table[i].missing != NULL)
			return sms_fail(reason_r, table[i].missing);
	}
	return 0;
}

static bool parse_num(const char *s, size_t max_digits, uint64_t max,
		      unsigned *v_r)
{
	uint64_t v;

	if (!sms_parse_uint(s, strlen(s), max_digits, max, &v))
		return false;
	*v_r = (unsigned)v;
	return true;
}

static bool parse_char(const char *s, const char *allowed, char *c_r)
{
	if (s[0] == '\0' || s[1] != '\0' || strchr(allowed, s[0]) == NULL)
		return false;
	*c_r = s[0];
	return true;
}

static int parse_sync(char *body, struct vvm_sms_sync *sync,
		      const char **reason_r)
{
	const char *v[S_COUNT] = { NULL };
	uint64_t id;
	int ret;

	ret = split_fields(body, sync_fields, S_COUNT, v, reason_r);
	if (ret == 0)
		ret = check_required(sync_fields, S_EV, S_C, v, reason_r);
	if (ret < 0)
		return ret;
	if (strcmp(v[S_EV], "NM") == 0)
		sync->ev = VVM_SMS_EV_NM;
	else if (strcmp(v[S_EV], "MBU") == 0)
		sync->ev = VVM_SMS_EV_MBU;
	else if (strcmp(v[S_EV], "GU") == 0)
		sync->ev = VVM_SMS_EV_GU;
	else
		return sms_fail(reason_r, "ev: not NM, MBU or GU");
	if (!parse_num(v[S_C], 5, 99999, &sync->c))
		return sms_fail(reason_r, "c: not 0-99999");
	if (sync->ev != VVM_SMS_EV_NM) {
		if (v[S_ID] != NULL || v[S_T] != NULL || v[S_S] != NULL ||
		    v[S_DT] != NULL || v[S_L] != NULL)
			return sms_fail(reason_r, "id, t, s, dt and l are only "
					"sent with ev=NM");
		return 0;
	}
	ret = check_required(sync_fields, S_ID, S_L, v, reason_r);
	if (ret < 0)
		return ret;
	if (!sms_parse_uint(v[S_ID], strlen(v[S_ID]), 21, G_MAXUINT64, &id))
		return sms_fail(reason_r, "id: not a UID of up to 21 digits");
	sync->id = id;
	if (!parse_char(v[S_T], "vofie", &sync->t))
		return sms_fail(reason_r, "t: not v, o, f, i or e");
	sync->s = v[S_S];
	if (sms_dt_parse(v[S_DT], strlen(v[S_DT]), &sync->dt,
			 &sync->dt_offset) < 0)
		return sms_fail(reason_r, "dt: not DD/MM/YYYY HH:MM +ZZZZ");
	if (v[S_L] != NULL && !parse_num(v[S_L], 5, 99999, &sync->l))
		return sms_fail(reason_r, "l: not 0-99999");
	return sms_sync_check(sync, reason_r);
}

/* srv=1:ip, srv=2:fqdn, or (VVM_SMS_SRV_BARE) the host alone. */
static int parse_srv(const char *v, struct vvm_sms_status *st,
		     unsigned *flags, const char **reason_r)
{
	size_t len = strlen(v);

	if (len > 2 && v[0] == '1' && v[1] == ':' && sms_is_ip(v + 2, len - 2))
		st->srv = v + 2;
	else if (len > 2 && v[0] == '2' && v[1] == ':' &&
		 !sms_is_ip(v + 2, len - 2) && sms_is_fqdn(v + 2, len - 2))
		st->srv = v + 2;
	else if (sms_is_ip(v, len) || sms_is_fqdn(v, len)) {
		st->srv = v;
		*flags |= VVM_SMS_SRV_BARE;
	} else {
		return sms_fail(reason_r, "srv: not 1:<IP address>, "
				"2:<host name> or a bare host");
	}
	return 0;
}

static int parse_pw_len(const char *v, struct vvm_sms_status *st)
{
	const char *dash = strchr(v, '-');
	uint64_t min, max;

	if (dash == NULL || strlen(v) > 5 ||
	    !sms_parse_uint(v, (size_t)(dash - v), 2, 99, &min) ||
	    !sms_parse_uint(dash + 1, strlen(dash + 1), 2, 99, &max))
		return -EINVAL;
	st->pw_min = (unsigned)min;
	st->pw_max = (unsigned)max;
	return 0;
}

static int parse_full_status(const char **v, struct vvm_sms_status *st,
			     unsigned *flags, const char **reason_r)
{
	char pm = 'N';
	int ret;

	ret = check_required(status_fields, T_SRV, T_VT, v, reason_r);
	if (ret == 0)
		ret = parse_srv(v[T_SRV], st, flags, reason_r);
	if (ret < 0)
		return ret;
	st->tui = v[T_TUI];
	st->dn = v[T_DN];
	if (!parse_num(v[T_IPT], 10, 65535, &st->ipt))
		return sms_fail(reason_r, "ipt: not a port 1-65535");
	if (!parse_num(v[T_SPT], 10, 65535, &st->spt))
		return sms_fail(reason_r, "spt: not a port 0-65535");
	st->u = v[T_U];
	st->pw = v[T_PW];
	st->lang = v[T_LANG];
	if (!parse_num(v[T_G_LEN], 3, 999, &st->g_len))
		return sms_fail(reason_r, "g_len: not 0-999");
	if (!parse_num(v[T_VS_LEN], 3, 999, &st->vs_len))
		return sms_fail(reason_r, "vs_len: not 0-999");
	if (parse_pw_len(v[T_PW_LEN], st) < 0)
		return sms_fail(reason_r, "pw_len: not min-max within 0-99");
	st->smtp_u = v[T_SMTP_U];
	st->smtp_pw = v[T_SMTP_PW];
	if (st->st != 'N' && (v[T_PM] != NULL || v[T_GM] != NULL))
		return sms_fail(reason_r, "pm and gm are only sent with st=N");
	if (v[T_PM] != NULL && !parse_char(v[T_PM], "YN", &pm))
		return sms_fail(reason_r, "pm: not Y or N");
	st->pm = pm == 'Y';
	if (v[T_GM] != NULL && !parse_char(v[T_GM], "GVBN", &st->gm))
		return sms_fail(reason_r, "gm: not G, V, B or N");
	if (v[T_VTC] != NULL && !parse_char(v[T_VTC], "NDAB", &st->vtc))
		return sms_fail(reason_r, "vtc: not N, D, A or B");
	if (v[T_VT] != NULL && strcmp(v[T_VT], "0") != 0 &&
	    strcmp(v[T_VT], "1") != 0)
		return sms_fail(reason_r, "vt: not 0 or 1");
	st->vt = v[T_VT] != NULL && v[T_VT][0] == '1';
	return 0;
}

static int parse_status(char *body, struct vvm_sms_status *st,
			unsigned *flags, const char **reason_r)
{
	const char *v[T_COUNT] = { NULL };
	const char *sv;
	int ret;

	vvm_sms_status_init(st);
	ret = split_fields(body, status_fields, T_COUNT, v, reason_r);
	if (ret == 0)
		ret = check_required(status_fields, T_ST, T_RC, v, reason_r);
	if (ret < 0)
		return ret;
	sv = v[T_ST];
	/* "the st value may appear between quotation marks" */
	if (strlen(sv) == 3 && sv[0] == '"' && sv[2] == '"') {
		*flags |= VVM_SMS_ST_QUOTED;
		sv++;
	} else if (strlen(sv) != 1) {
		return sms_fail(reason_r, "st: not N, R, P, U or B");
	}
	if (strchr("NRPUB", sv[0]) == NULL)
		return sms_fail(reason_r, "st: not N, R, P, U or B");
	st->st = sv[0];
	if (!parse_num(v[T_RC], 1, 7, &st->rc))
		return sms_fail(reason_r, "rc: not 0-7");
	st->rs = v[T_RS];
	if (st->st != 'U' && st->st != 'B') {
		ret = parse_full_status(v, st, flags, reason_r);
		if (ret < 0)
			return ret;
	} else {
		for (size_t i = T_SRV; i < T_COUNT; i++) {
			if (v[i] != NULL)
				return sms_fail(reason_r, "only st, rc and rs "
						"are sent with st=U or st=B");
		}
	}
	return sms_status_check(st, *flags, reason_r);
}

/* The prefix ends where ":SYNC:" or ":STATUS:" first appears, so that it
 * may itself contain ':'. */
static char *find_type(char *buf, enum vvm_sms_kind *kind_r)
{
	char *sync = strstr(buf, ":SYNC:");
	char *status = strstr(buf, ":STATUS:");

	if (sync != NULL && (status == NULL || sync < status)) {
		*kind_r = VVM_SMS_SYNC;
		return sync;
	}
	*kind_r = VVM_SMS_STATUS;
	return status;
}

int vvm_sms_server_parse(const char *text, size_t len,
			 struct vvm_sms_server_msg **msg_r,
			 const char **reason_r)
{
	struct vvm_sms_server_msg *msg;
	char *buf, *type;
	int ret;

	if (len > VVM_SMS_TEXT_MAX)
		return sms_fail(reason_r, "longer than 1024 bytes");
	for (size_t i = 0; i < len; i++) {
		if (text[i] < ' ' || text[i] >= 0x7f)
			return sms_fail(reason_r, "not printable ASCII");
	}
	buf = g_try_malloc(len + 1);
	msg = g_try_new0(struct vvm_sms_server_msg, 1);
	if (buf == NULL || msg == NULL) {
		g_free(buf);
		g_free(msg);
		return -ENOMEM;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	msg->storage = buf;

	type = find_type(buf, &msg->kind);
	if (type == NULL) {
		ret = sms_fail(reason_r, "not <prefix>:SYNC: or "
			       "<prefix>:STATUS:");
		goto fail;
	}
	*type = '\0';
	msg->prefix = buf;
	if (!sms_is_prefix(buf, (size_t)(type - buf), VVM_SMS_PREFIX_MAX)) {
		ret = sms_fail(reason_r, "prefix: 1-64 characters without "
			       "space, ';' or '='");
		goto fail;
	}
	if (msg->kind == VVM_SMS_SYNC)
		ret = parse_sync(type + strlen(":SYNC:"), &msg->sync,
				 reason_r);
	else
		ret = parse_status(type + strlen(":STATUS:"), &msg->status,
				   &msg->flags, reason_r);
	if (ret < 0)
		goto fail;
	*msg_r = msg;
	return 0;
fail:
	vvm_sms_server_msg_destroy(&msg);
	return ret;
}

int vvm_sms_server_encode(const struct vvm_sms_server_msg *msg, GString *out,
			  const char **reason_r)
{
	if (msg->kind == VVM_SMS_SYNC)
		return vvm_sms_sync_encode(msg->prefix, &msg->sync, out,
					   reason_r);
	return vvm_sms_status_encode(msg->prefix, &msg->status, msg->flags,
				     out, reason_r);
}

void vvm_sms_server_msg_destroy(struct vvm_sms_server_msg **msg)
{
	if (*msg == NULL)
		return;
	g_free((*msg)->storage);
	g_free(*msg);
	*msg = NULL;
}
