/* The VVM SMS codec: the spec's "VVM SMS Interface Description" (SYNC,
 * STATUS and OTP sent by the server; STATUS, Activate and Deactivate sent
 * by the client), the 3GPP TS 23.040 user data header the server puts in
 * front of them, and the annex on encrypting mobile-terminated messages.
 *
 * Everything here works on memory only: no I/O, no logging. Functions that
 * can fail return >= 0 on success and -errno on failure; where a reason_r
 * is taken, a failure stores a static English explanation there (reason_r
 * may be NULL). Output parameters are written only on success. */
#ifndef VVM_SMS_H
#define VVM_SMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define VVM_SMS_DEFAULT_PREFIX "//VVM"

/* The spec calls the server-side client prefix and smtp_u / smtp_pw
 * "unlimited"; these caps are ours, wide enough for every deployment we
 * know, so that no field can make a message grow without bound. */
#define VVM_SMS_PREFIX_MAX 64
#define VVM_SMS_SMTP_MAX 64
/* What a client may ask for in Activate / STATUS (spec: up to 30). */
#define VVM_SMS_MO_PREFIX_MAX 30
#define VVM_SMS_CT_MAX 30
/* Longest text either parser looks at; longer input is refused. */
#define VVM_SMS_TEXT_MAX 1024
#define VVM_SMS_MO_MAX 255

/* Return codes of the STATUS SMS (field rc). */
enum vvm_sms_rc {
	VVM_SMS_RC_SUCCESS = 0,
	VVM_SMS_RC_SYSTEM_ERROR = 1,
	VVM_SMS_RC_SUBSCRIBER_ERROR = 2,
	VVM_SMS_RC_MAILBOX_UNKNOWN = 3,
	VVM_SMS_RC_NOT_ACTIVATED = 4,
	VVM_SMS_RC_NOT_PROVISIONED = 5,
	VVM_SMS_RC_CLIENT_UNKNOWN = 6,
	VVM_SMS_RC_NOT_INITIALISED = 7,
};
/* "Do not answer": the text was not recognisably a VVM request. */
#define VVM_SMS_RC_NONE (-1)

/* ---- Server-originated SYNC and STATUS ---- */

enum vvm_sms_event {
	VVM_SMS_EV_NM,  /* new message (or its transcription arrived) */
	VVM_SMS_EV_MBU, /* mailbox update: TUI logout, purge */
	VVM_SMS_EV_GU,  /* greeting or voice signature changed */
};

/* Fields of a SYNC SMS. id, t, s, dt and l belong to ev=NM only and are
 * neither sent nor accepted for MBU and GU. */
struct vvm_sms_sync {
	enum vvm_sms_event ev;
	uint64_t id;       /* the message's UID */
	unsigned c;        /* new messages in INBOX, 0..99999 */
	char t;            /* v voice, o video, f fax, i infotainment, e ECC */
	const char *s;     /* sender, up to 29 digits after an optional '+';
			    * NULL when the CLI is restricted (field omitted) */
	int64_t dt;        /* deposit time, seconds since the epoch; sent to
			    * the minute, in the server's zone: */
	int32_t dt_offset; /* seconds east of UTC, whole minutes, < 24 h */
	unsigned l;        /* seconds (voice, video), pages (fax), 0..99999 */
};

/* Fields of a STATUS SMS. For st U and B only the reduced form is sent:
 * st, rc and (with rc=5) rs. pm and gm are sent for st=N only. Strings are
 * printable ASCII without space, ';' or '='. vvm_sms_status_init() sets
 * the spec's defaults. */
struct vvm_sms_status {
	char st;             /* N new, R ready, P provisioned, U unknown,
			      * B blocked */
	unsigned rc;         /* enum vvm_sms_rc */
	const char *rs;      /* subscription URL, <= 100; only with rc=5;
			      * NULL to omit */
	const char *srv;     /* IMAP/SMTP host: IP literal or FQDN; the
			      * sent value ("1:"/"2:" and host) <= 30 */
	const char *tui;     /* TUI number: 1-16 of 0-9 * #, leading '+' */
	const char *dn;      /* destination number for MO SMS, 1-30 */
	unsigned ipt;        /* IMAP port, 1..65535 */
	unsigned spt;        /* SMTP port, 0 (no SMTP)..65535 */
	const char *u;       /* IMAP user name, 1-50 */
	const char *pw;      /* IMAP password, 0-30 (empty where the TUI
			      * password is used instead) */
	const char *lang;    /* code[.variant] separated by '|', <= 36 */
	unsigned g_len;      /* greeting seconds, 0..999 */
	unsigned vs_len;     /* voice signature seconds, 0..999 */
	unsigned pw_min;     /* TUI password length, "min-max" <= 5 */
	unsigned pw_max;
	const char *smtp_u;  /* "0" when there is no SMTP; <= 64 (ours) */
	const char *smtp_pw; /* "0" when there is no SMTP; <= 64 (ours) */
	bool pm;             /* the PIN must be reset (Y/N) */
	char gm;             /* must record: G greeting, V voice signature,
			      * B both, N neither */
	char vtc;            /* transcription: N none, D on demand,
			      * A automatic, B both */
	bool vt;             /* transcription is on */
};

/* Encoding choices a client may need; parsing reports those it saw. */
enum vvm_sms_flags {
	/* srv=host instead of srv=1:ip / srv=2:fqdn: Android's client uses
	 * the value as the host name as it is. */
	VVM_SMS_SRV_BARE = 1 << 0,
	/* st="N": the spec allows the quotes "depending on configuration". */
	VVM_SMS_ST_QUOTED = 1 << 1,
};

/* Sets every field to its spec default (pm=N, gm=N, vtc=N, vt=0) or to
 * zero / NULL where there is none; st, which has none, is left '\0' and
 * must be set. */
void vvm_sms_status_init(struct vvm_sms_status *status_r);

/* Appends "<prefix>:SYNC:ev=..;..." to out, fields in the spec's order,
 * separated by ';' without a trailing one. prefix NULL means "//VVM".
 * Returns 0, or -EINVAL with the offending field named in *reason_r and
 * out unchanged. */
int vvm_sms_sync_encode(const char *prefix, const struct vvm_sms_sync *sync,
			GString *out, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* Appends "<prefix>:STATUS:st=..;..." to out, as vvm_sms_sync_encode().
 * flags: enum vvm_sms_flags. Returns 0 or -EINVAL as that one. */
int vvm_sms_status_encode(const char *prefix,
			  const struct vvm_sms_status *status, unsigned flags,
			  GString *out, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* The UTC offset, in seconds, that tz has at time t: dt_offset for a
 * SYNC sent by a server in that zone. */
int32_t vvm_sms_tz_offset(GTimeZone *tz, int64_t t);

enum vvm_sms_kind {
	VVM_SMS_SYNC,
	VVM_SMS_STATUS,
};

/* A parsed server-originated message. Its strings point into storage it
 * owns; it is freed with vvm_sms_server_msg_destroy(). */
struct vvm_sms_server_msg {
	enum vvm_sms_kind kind;
	const char *prefix;
	unsigned flags;              /* enum vvm_sms_flags found */
	struct vvm_sms_sync sync;    /* when kind is VVM_SMS_SYNC */
	struct vvm_sms_status status; /* when kind is VVM_SMS_STATUS */
	char *storage;
};

/* Parses a SYNC or STATUS text (without UDH) of at most VVM_SMS_TEXT_MAX
 * bytes. Accepts what the encoders produce, and in addition spaces before
 * a field name (the spec's own STATUS example has them), a trailing ';',
 * fields in any order, and absent fields that have a spec default.
 * Returns 0 and a new message in *msg_r, -EINVAL with *reason_r set, or
 * -ENOMEM. */
int vvm_sms_server_parse(const char *text, size_t len,
			 struct vvm_sms_server_msg **msg_r,
			 const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Encodes msg again with the flags it was parsed with. Returns as
 * vvm_sms_sync_encode(). */
int vvm_sms_server_encode(const struct vvm_sms_server_msg *msg, GString *out,
			  const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Frees *msg (NULL allowed) and sets *msg to NULL. */
void vvm_sms_server_msg_destroy(struct vvm_sms_server_msg **msg);

/* ---- Server-originated OTP ---- */

/* The OTP SMS is visible free text, one template per language, with
 * VVM_SMS_OTP_PLACEHOLDER exactly once where the code goes. */
#define VVM_SMS_OTP_PLACEHOLDER "{code}"
#define VVM_SMS_OTP_TEMPLATE_MAX 480
#define VVM_SMS_OTP_DEFAULT_TEMPLATE \
	"Your voicemail app code is {code}. Do not share it with anyone."

/* Appends the template (NULL: the default) with code (4-38 ASCII letters
 * or digits) substituted. The template must be UTF-8 without control
 * characters other than newline, at most VVM_SMS_OTP_TEMPLATE_MAX bytes.
 * Returns 0 or -EINVAL with *reason_r set. */
int vvm_sms_otp_encode(const char *tmpl, const char *code, GString *out,
		       const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* Extracts the code from text made from tmpl (NULL: the default).
 * Returns 0 and a g_malloc'd code in *code_r, or -EINVAL. */
int vvm_sms_otp_parse(const char *tmpl, const char *text, size_t len,
		      char **code_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* ---- Client-originated STATUS, Activate, Deactivate ---- */

enum vvm_sms_mo_command {
	VVM_SMS_MO_STATUS,
	VVM_SMS_MO_ACTIVATE,
	VVM_SMS_MO_DEACTIVATE,
};

/* A parsed client message. Absent fields: pv 0 (the spec's default is
 * 13), ct and prefix empty (keep the subscriber's current values), pt and
 * dt -1. dt is the device type of T-Mobile's "Activate:dt=6" form, which
 * carries nothing else. */
struct vvm_sms_mo {
	enum vvm_sms_mo_command command;
	unsigned pv;
	char ct[VVM_SMS_CT_MAX + 1];
	int pt;
	char prefix[VVM_SMS_MO_PREFIX_MAX + 1];
	int dt;
};

/* Parses a client message: "STATUS:pv=13;ct=x;pt=1808;//VVM", bare
 * "STATUS" or "Status", "Activate:pv=13;ct=x;pt=1808;//VVM" (the prefix
 * last and bare, a trailing ':' dropped; pt and prefix optional when
 * pv < 12, prefix always optional), "Deactivate:pv=13;ct=x", and the dt
 * form ("Activate:dt=6"). Command and field names are case-sensitive;
 * unknown fields are ignored. Returns 0 and fills *mo_r, or -EINVAL with
 * *reason_r and the return code to answer with in *rc_r: an enum
 * vvm_sms_rc, or VVM_SMS_RC_NONE when the text is not a VVM request and
 * must not be answered. */
int vvm_sms_mo_parse(const char *text, size_t len, struct vvm_sms_mo *mo_r,
		     int *rc_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* ---- 3GPP TS 23.040 user data header ---- */

/* 8-bit data coding: 140 octets of user data per SMS. */
#define VVM_SMS_OCTETS 140
#define VVM_SMS_SEGMENTS_MAX 255

struct vvm_sms_split_opts {
	bool ports;          /* IEI 5, 16-bit application port addressing */
	uint16_t dst_port;   /* the client's pt */
	uint16_t src_port;   /* as configured; usually 0 */
	uint8_t ref;         /* IEI 0 reference, when there are segments */
	const uint8_t *key;  /* VVM_SMS_KEY_LEN bytes: encrypt the payload of
			      * each segment as the annex says; NULL: don't */
};

/* Splits data into short messages of at most VVM_SMS_OCTETS octets, each
 * a GBytes of UDH and payload, in *segments_r (a new GPtrArray that frees
 * them). The segments start with a UDH, so TP-UDHI (esm_class 0x40) must
 * be set, exactly when opts->ports is set or there is more than one.
 * Payload per segment: 140, 133 with ports, 134 per part when
 * concatenated, 128 with both; with a key, the largest plaintext whose
 * padded ciphertext fits (135 or 127). Returns the number of segments,
 * -EMSGSIZE if more than VVM_SMS_SEGMENTS_MAX would be needed, or an
 * error of vvm_sms_des3_encrypt(). */
int vvm_sms_split(const struct vvm_sms_split_opts *opts, const uint8_t *data,
		  size_t len, GPtrArray **segments_r) G_GNUC_WARN_UNUSED_RESULT;

struct vvm_sms_udh {
	bool ports;
	uint16_t dst_port;
	uint16_t src_port;
	bool concat;
	uint16_t ref;        /* 8-bit (IEI 0) or 16-bit (IEI 8) reference */
	uint8_t total;
	uint8_t seq;         /* 1..total */
};

/* Decodes the UDH at the start of sm, a short message with TP-UDHI set.
 * Understands IEI 0 and 8 (concatenation) and 4 and 5 (ports), skips the
 * others, and keeps the last of repeated ones as TS 23.040 says. Returns
 * the UDH length including its length octet, i.e. the offset of the
 * payload (>= 1), or -EINVAL with *reason_r set. */
int vvm_sms_udh_decode(const uint8_t *sm, size_t len, struct vvm_sms_udh *udh_r,
		       const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* ---- The annex: DESede/ECB/PKCS5Padding ---- */

#define VVM_SMS_KEY_LEN 24
/* Longest input the cipher functions take. */
#define VVM_SMS_CRYPT_MAX 65536

/* Appends the 3DES-EDE (keys 1, 2, 3 = bytes 0-7, 8-15, 16-23 of key)
 * ECB encryption of in, PKCS#5-padded: (len / 8 + 1) * 8 bytes. Returns
 * 0, -EINVAL (len > VVM_SMS_CRYPT_MAX), -ENOMEM or -EIO (OpenSSL). */
int vvm_sms_des3_encrypt(const uint8_t *key, const uint8_t *in, size_t len,
			 GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;

/* Appends the decryption of in. Returns 0, -EINVAL (length not a
 * positive multiple of 8, or too long), -EBADMSG (bad padding: a wrong
 * key or damaged text), -ENOMEM or -EIO. */
int vvm_sms_des3_decrypt(const uint8_t *key, const uint8_t *in, size_t len,
			 GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;

/* The annex applied to one short message: with udhi, the UDH is copied
 * and what follows it encrypted (decrypted); without, all of sm. The
 * sender must then use data coding 0x04. Return as above, -EINVAL also
 * for a UDH that runs past the end. */
int vvm_sms_sm_encrypt(const uint8_t *key, bool udhi, const uint8_t *sm,
		       size_t len, GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
int vvm_sms_sm_decrypt(const uint8_t *key, bool udhi, const uint8_t *sm,
		       size_t len, GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;

/* ---- The GSM 7-bit default alphabet (3GPP TS 23.038), unpacked ---- */

/* Septets ASCII text takes: 2 for the characters of the extension table
 * ([ ] { } \ ^ | ~), 1 for the rest (` becomes '?'). */
size_t vvm_sms_gsm7_length(const char *ascii, size_t len);
/* Appends ASCII text as septets, one per octet, as SMPP's data_coding 0
 * carries them. */
void vvm_sms_gsm7_encode(const char *ascii, size_t len, GByteArray *out);
/* Septets (one per octet, the high bit ignored) as new UTF-8 text. */
char *vvm_sms_gsm7_decode(const uint8_t *septets, size_t len, size_t *len_r);

/* ---- Outbox entries ---- */

/* One pending server-originated SMS, as MOUNT/.outbox/sms/<seq> holds it
 * (docs/fs-layout.md):
 *
 *   to 31612345678
 *   port 5499
 *   kind SYNC
 *   replace 1
 *   text //VVM:SYNC:ev=NM;...
 *
 * The text runs to the end of the entry, less one final newline: an OTP
 * may span lines; SYNC and STATUS are one line of printable ASCII. */
enum vvm_sms_entry_kind {
	VVM_SMS_ENTRY_SYNC,
	VVM_SMS_ENTRY_STATUS,
	VVM_SMS_ENTRY_OTP,
};

/* SMPP's destination_addr holds 20 characters. */
#define VVM_SMS_ADDR_MAX 20

struct vvm_sms_entry {
	char to[VVM_SMS_ADDR_MAX + 1]; /* an optional '+' and digits */
	uint16_t port;                 /* application port; 0: a text SMS */
	enum vvm_sms_entry_kind kind;
	bool replace;                  /* replace the previous one of its kind */
	char text[VVM_SMS_TEXT_MAX + 1];
	size_t text_len;
};

/* Appends the entry as a file holds it. */
void vvm_sms_entry_format(const struct vvm_sms_entry *entry, GString *out);
/* Parses an entry (the format only: the text of a SYNC or STATUS is not
 * checked against the spec here). Returns 0, or -EINVAL with *reason_r. */
int vvm_sms_entry_parse(const char *data, size_t len,
			struct vvm_sms_entry *entry_r, const char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* "SYNC", "STATUS", "OTP". */
const char *vvm_sms_entry_kind_name(enum vvm_sms_entry_kind kind);

/* ---- Generated secrets ---- */

enum vvm_sms_charset {
	VVM_SMS_CHARSET_ALNUM,  /* 0-9 A-Z a-z: passwords (the annex's
				 * 22 characters carry 128 bits) */
	VVM_SMS_CHARSET_DIGITS, /* OTP codes */
};
#define VVM_SMS_RANDOM_MAX 64

/* Writes len (1..VVM_SMS_RANDOM_MAX) characters drawn uniformly from
 * charset by the OpenSSL CSPRNG, and a NUL, into buf (size >= len + 1).
 * The characters never include ';', '=' or space, so they can be sent in
 * an SMS field. Returns 0, -EINVAL, or -EIO if the CSPRNG failed. */
int vvm_sms_random_string(enum vvm_sms_charset charset, char *buf,
			  size_t size, size_t len) G_GNUC_WARN_UNUSED_RESULT;

#endif
