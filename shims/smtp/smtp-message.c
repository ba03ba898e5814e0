/* Checking a deposit against the spec's header references. The raw bytes
 * are checked first for what GMime would silently repair (a missing blank
 * line, a missing closing boundary); GMime then gives the header values
 * and the part tree, and every rule reads them. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <gmime/gmime.h>

#include "smtp-message-private.h"

/* E.164 allows 15 digits; leave room for national prefixes. */
#define PHONE_DIGITS_MAX 20

struct check {
	const char *data;
	size_t len;
	const struct smtp_message_rules *rules;
	struct smtp_message_info info;
	struct smtp_refusal *refusal;
	/* The first of parser_problems GMime reported, or NULL. */
	const char *problem;
};

void smtp_message_init(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

static int G_GNUC_PRINTF(4, 5) refuse(struct check *ck, unsigned int code,
				      const char *enhanced, const char *fmt,
				      ...)
{
	va_list args;

	va_start(args, fmt);
	ck->refusal->code = code;
	ck->refusal->enhanced = enhanced;
	ck->refusal->text = g_strdup_vprintf(fmt, args);
	va_end(args);
	return -EINVAL;
}

static int malformed(struct check *ck, const char *reason)
{
	return refuse(ck, 554, "5.6.0", "malformed MIME: %s", reason);
}

/* vvmfs stores only the canonical form; saying why here beats a bare
 * failure after the client has sent it all. */
static const char *check_bytes(const char *data, size_t len)
{
	const char *p, *end = data + len;

	if (memchr(data, '\0', len) != NULL)
		return "NUL byte in message";
	for (p = data; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
		if (p == data || p[-1] != '\r')
			return "bare LF in message";
	}
	for (p = data; (p = memchr(p, '\r', (size_t)(end - p))) != NULL; p++) {
		if (p + 1 == end || p[1] != '\n')
			return "bare CR in message";
	}
	return NULL;
}

/* Length of the field name a header line starts with (the bytes before
 * ':'), 0 when the line is no field. */
static size_t field_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && line[i] != ':'; i++) {
		if ((unsigned char)line[i] < 33 || (unsigned char)line[i] > 126)
			return 0;
	}
	return i < len ? i : 0;
}

/* GMime takes a line that is no field for the start of the body and a
 * message without a blank line for a header-only one; both are broken
 * deposits, so the top-level header is read here first. */
static const char *check_header_block(const char *data, size_t len)
{
	size_t pos = 0, eol;
	const char *cr;

	while (pos < len) {
		cr = memchr(data + pos, '\r', len - pos);
		eol = cr != NULL ? (size_t)(cr - data) : len;
		if (eol == pos)
			return NULL;
		if (!(pos > 0 && smtp_is_wsp(data[pos])) &&
		    field_name_len(data + pos, eol - pos) == 0)
			return "bad header line";
		pos = eol + 2;
	}
	return "no blank line after the header";
}

/* What GMime's parser finds that the checks on the tree cannot see: it
 * carries on past these, so they are reported here rather than lost. */
static const struct {
	GMimeParserWarning code;
	const char *reason;
} parser_problems[] = {
	{ GMIME_CRIT_INVALID_HEADER_NAME, "bad header line in a part" },
	{ GMIME_CRIT_CONFLICTING_PARAMETER, "conflicting header parameters" },
	{ GMIME_CRIT_NESTING_OVERFLOW, "nested too deep" },
};

static void on_warning(gint64 offset, GMimeParserWarning code,
		       const char *item, gpointer user_data)
{
	struct check *ck = user_data;
	size_t i;

	(void)offset;
	(void)item;
	for (i = 0; i < G_N_ELEMENTS(parser_problems); i++) {
		if (parser_problems[i].code == code && ck->problem == NULL)
			ck->problem = parser_problems[i].reason;
	}
}

/* The body of a message, NULL when GMime found none or no message. */
static GMimeObject *message_body(GMimeMessage *msg)
{
	return msg != NULL ? g_mime_message_get_mime_part(msg) : NULL;
}

static GMimeMessage *encapsulated(GMimeObject *part)
{
	return g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
}

/* The boundaries B of every line "--B--" (transport padding after it
 * allowed), found in one pass: GMime accepts a multipart cut short without
 * a word, and looking each multipart's up in the whole message would cost
 * parts x length. */
static GHashTable *close_delimiters(const char *data, size_t len)
{
	GHashTable *closes = g_hash_table_new_full(g_str_hash, g_str_equal,
						   g_free, NULL);
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;
		const char *last = line_end;

		while (last > p && smtp_is_wsp(last[-1]))
			last--;
		if (last - p >= 4 && p[0] == '-' && p[1] == '-' &&
		    last[-1] == '-' && last[-2] == '-')
			g_hash_table_add(closes, g_strndup(p + 2,
							   last - p - 4));
		p = eol != NULL ? eol + 2 : end;
	}
	return closes;
}

static const char *check_structure(GMimeObject *obj, GHashTable *closes)
{
	const char *boundary, *reason;
	GMimeMultipart *multipart;
	GMimeObject *part;
	int i, n;

	if (GMIME_IS_MESSAGE_PART(obj)) {
		part = message_body(encapsulated(obj));
		return part != NULL ? check_structure(part, closes) : NULL;
	}
	if (!GMIME_IS_MULTIPART(obj))
		return NULL;
	multipart = GMIME_MULTIPART(obj);
	/* Not g_mime_multipart_get_boundary(): it makes one up. */
	boundary = g_mime_content_type_get_parameter(
		g_mime_object_get_content_type(obj), "boundary");
	if (boundary == NULL || *boundary == '\0')
		return "multipart without boundary";
	n = g_mime_multipart_get_count(multipart);
	if (n == 0)
		return "multipart without any part";
	if (!g_hash_table_contains(closes, boundary))
		return "missing closing boundary";
	for (i = 0; i < n; i++) {
		part = g_mime_multipart_get_part(multipart, i);
		reason = check_structure(part, closes);
		if (reason != NULL)
			return reason;
	}
	return NULL;
}

static int parse(struct check *ck, GMimeMessage **msg_r)
{
	GMimeParserOptions *options = g_mime_parser_options_new();
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	GMimeObject *body;
	const char *reason;

	g_mime_parser_options_set_warning_callback(options, on_warning, ck);
	stream = g_mime_stream_mem_new_with_buffer(ck->data, ck->len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, options);
	g_object_unref(parser);
	g_object_unref(stream);
	g_mime_parser_options_free(options);
	if (msg == NULL)
		return malformed(ck, "no message");
	/* After one of these the tree is not what the bytes say. */
	reason = ck->problem;
	body = message_body(msg);
	if (reason == NULL && body != NULL) {
		g_autoptr(GHashTable) closes = close_delimiters(ck->data,
								ck->len);
		reason = check_structure(body, closes);
	}
	if (reason != NULL) {
		g_object_unref(msg);
		return malformed(ck, reason);
	}
	*msg_r = msg;
	return 0;
}

static int find_single(GMimeHeaderList *headers, const char *name,
		       const char **value_r)
{
	GMimeHeader *header;
	int i, n = g_mime_header_list_get_count(headers);

	for (i = 0; i < n; i++) {
		header = g_mime_header_list_get_header_at(headers, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(header), name))
			continue;
		if (*value_r != NULL)
			return -EINVAL;
		*value_r = g_mime_header_get_value(header);
	}
	return 0;
}

/* The value of the only top-level field called name (NULL when there is
 * none): with two, which one a client means is anyone's guess. GMime
 * gives the Content-* fields to the top-level part, so both lists are
 * read. */
static int single_header(struct check *ck, GMimeMessage *msg,
			 const char *name, const char **value_r)
{
	GMimeObject *body = message_body(msg);
	GMimeHeaderList *top = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	const char *value = NULL;

	if (find_single(top, name, &value) < 0 ||
	    (body != NULL && find_single(g_mime_object_get_header_list(body),
					 name, &value) < 0))
		return refuse(ck, 554, "5.6.0", "more than one %s header",
			      name);
	*value_r = value;
	return 0;
}

/* Whether the value is token in any case, maybe followed by white space
 * or a comment (the CFWS RFC 2045, 3458 and 3803 allow). */
static bool value_is(const char *value, const char *token)
{
	size_t n = strlen(token);

	while (smtp_is_wsp(*value))
		value++;
	if (g_ascii_strncasecmp(value, token, n) != 0)
		return false;
	for (value += n; smtp_is_wsp(*value); value++)
		;
	return *value == '\0' || *value == '(';
}

/* RFC 3803: 1*10DIGIT. Not g_ascii_string_to_unsigned(): see
 * vvmfs/index/index.c, it can fail spuriously in GLib 2.74. */
static bool parse_seconds(const char *value, unsigned int *seconds_r)
{
	guint64 n = 0;
	const char *p;

	while (smtp_is_wsp(*value))
		value++;
	for (p = value; g_ascii_isdigit(*p); p++) {
		n = n * 10 + (guint64)(*p - '0');
		if (n > G_MAXUINT)
			return false;
	}
	if (p == value || !value_is(p, ""))
		return false;
	*seconds_r = (unsigned int)n;
	return true;
}

static bool parse_date(const char *value, int64_t *time_r)
{
	GDateTime *date = g_mime_utils_header_decode_date(value);

	if (date == NULL)
		return false;
	*time_r = g_date_time_to_unix(date);
	g_date_time_unref(date);
	return true;
}

/* <phone-number>: 1 to PHONE_DIGITS_MAX digits after an optional '+'. */
static bool is_phone(const char *s, size_t len)
{
	size_t i = len > 0 && s[0] == '+' ? 1 : 0, digits = len - i;

	if (digits == 0 || digits > PHONE_DIGITS_MAX)
		return false;
	for (; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return false;
	}
	return true;
}

static const char *skip_plus(const char *number)
{
	return number[0] == '+' ? number + 1 : number;
}

static int check_from(struct check *ck, GMimeMessage *msg)
{
	InternetAddressList *list;
	InternetAddress *addr = NULL;
	const char *value, *mailbox = NULL, *at = NULL;
	g_autofree char *number = NULL;
	int ret;

	ret = single_header(ck, msg, "From", &value);
	if (ret < 0)
		return ret;
	if (value == NULL)
		return refuse(ck, 554, "5.6.0", "no From header");
	list = internet_address_list_parse(NULL, value);
	if (list != NULL && internet_address_list_length(list) == 1)
		addr = internet_address_list_get_address(list, 0);
	if (addr != NULL && INTERNET_ADDRESS_IS_MAILBOX(addr)) {
		mailbox = internet_address_mailbox_get_addr(
			INTERNET_ADDRESS_MAILBOX(addr));
		at = strrchr(mailbox, '@');
	}
	if (at != NULL && at[1] != '\0' &&
	    is_phone(mailbox, (size_t)(at - mailbox)))
		number = g_strndup(mailbox, (size_t)(at - mailbox));
	if (list != NULL)
		g_object_unref(list);
	if (number == NULL)
		return refuse(ck, 554, "5.6.0",
			      "From is not <phone-number>@<domain>");
	if (ck->rules->sender_msisdn != NULL &&
	    strcmp(skip_plus(number), skip_plus(ck->rules->sender_msisdn)) != 0)
		return refuse(ck, 550, "5.7.1", "From does not match the "
						"authenticated subscriber");
	return 0;
}

static unsigned int count_mailboxes(InternetAddressList *list)
{
	InternetAddress *addr;
	unsigned int n = 0;
	int i;

	for (i = 0; i < internet_address_list_length(list); i++) {
		addr = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(addr))
			n += count_mailboxes(internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(addr)));
		else if (*internet_address_mailbox_get_addr(
				 INTERNET_ADDRESS_MAILBOX(addr)) != '\0')
			n++;
	}
	return n;
}

static int check_to(struct check *ck, GMimeMessage *msg)
{
	InternetAddressList *list;
	const char *value;
	unsigned int n = 0;
	int ret;

	ret = single_header(ck, msg, "To", &value);
	if (ret < 0)
		return ret;
	/* Example J has no To, but the header reference makes it
	 * mandatory, and a voice message's recipients show from it. */
	if (value == NULL)
		return refuse(ck, 554, "5.6.0", "no To header");
	list = internet_address_list_parse(NULL, value);
	if (list != NULL) {
		n = count_mailboxes(list);
		g_object_unref(list);
	}
	if (n == 0)
		return refuse(ck, 554, "5.6.0", "To has no address");
	return 0;
}

/* The fields every deposit carries, each with the value the spec's
 * Standard Message Deposit Header Reference gives it. */
static int check_mandatory(struct check *ck, GMimeMessage *msg)
{
	const char *value;
	int64_t date;
	int ret;

	if ((ret = single_header(ck, msg, "Date", &value)) < 0)
		return ret;
	if (value == NULL)
		return refuse(ck, 554, "5.6.0", "no Date header");
	if (!parse_date(value, &date))
		return refuse(ck, 554, "5.6.0", "unparseable Date");
	if ((ret = single_header(ck, msg, "MIME-Version", &value)) < 0)
		return ret;
	if (value == NULL)
		return refuse(ck, 554, "5.6.0", "no MIME-Version header");
	if (!value_is(value, "1.0"))
		return refuse(ck, 554, "5.6.0", "MIME-Version is not 1.0");
	if ((ret = single_header(ck, msg, "Message-Context", &value)) < 0)
		return ret;
	if (value == NULL || !value_is(value, "voice-message"))
		return refuse(ck, 554, "5.6.1",
			      "only voice messages can be deposited");
	if ((ret = single_header(ck, msg, "Content-Duration", &value)) < 0)
		return ret;
	if (value == NULL)
		return refuse(ck, 554, "5.6.0", "no Content-Duration");
	if (!parse_seconds(value, &ck->info.duration))
		return refuse(ck, 554, "5.6.0", "bad Content-Duration");
	if ((ret = single_header(ck, msg, "Content-Type", &value)) < 0)
		return ret;
	if (value == NULL)
		return refuse(ck, 554, "5.6.0", "no Content-Type header");
	if (!GMIME_IS_MULTIPART(message_body(msg)) ||
	    !g_mime_content_type_is_type(
		    g_mime_object_get_content_type(message_body(msg)),
		    "multipart", "mixed"))
		return refuse(ck, 554, "5.6.0",
			      "Content-Type is not multipart/mixed");
	return 0;
}

static int check_optional(struct check *ck, GMimeMessage *msg)
{
	const char *value;
	int ret;

	if ((ret = single_header(ck, msg, "Importance", &value)) < 0)
		return ret;
	if (value != NULL) {
		ck->info.high_importance = value_is(value, "high");
		if (!ck->info.high_importance && !value_is(value, "normal") &&
		    !value_is(value, "low"))
			return refuse(ck, 554, "5.6.0", "bad Importance");
	}
	if ((ret = single_header(ck, msg, "Sensitivity", &value)) < 0)
		return ret;
	if (value != NULL && !value_is(value, "private") &&
	    !value_is(value, "confidential") && !value_is(value, "personal"))
		return refuse(ck, 554, "5.6.0", "bad Sensitivity");
	if ((ret = single_header(ck, msg, "Expires", &value)) < 0)
		return ret;
	if (value != NULL) {
		if (!parse_date(value, &ck->info.expires))
			return refuse(ck, 554, "5.6.0", "bad Expires");
		if (ck->info.expires < ck->rules->now)
			return refuse(ck, 554, "5.6.0", "message has expired");
	}
	ret = single_header(ck, msg, "X-CNS-Messaging-Action", &value);
	if (ret < 0)
		return ret;
	if (value != NULL) {
		if (value_is(value, "reply"))
			ck->info.action = "reply";
		else if (value_is(value, "forward"))
			ck->info.action = "forward";
		else
			return refuse(ck, 554, "5.6.0",
				      "bad X-CNS-Messaging-Action");
	}
	return 0;
}

/* Strict RFC 4648 base64 with line breaks: GMime's decoder skips what it
 * does not know, which would store garbage as audio. */
static int check_base64(GMimePart *part)
{
	GMimeStream *stream = g_mime_data_wrapper_get_stream(
		g_mime_part_get_content(part));
	size_t chars = 0, pad = 0;
	char buf[4096];
	ssize_t n, i;

	g_mime_stream_reset(stream);
	while ((n = g_mime_stream_read(stream, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\r' || buf[i] == '\n' || smtp_is_wsp(buf[i]))
				continue;
			if (buf[i] == '=' && ++pad <= 2)
				continue;
			if (pad > 0 || !(g_ascii_isalnum(buf[i]) ||
					 buf[i] == '+' || buf[i] == '/'))
				return -EINVAL;
			chars++;
		}
	}
	if (n < 0 || (chars + pad) % 4 != 0)
		return -EINVAL;
	return chars == 0 ? -ENODATA : 0;
}

/* One voice attachment, per the Message Deposit Attachment Header
 * Reference; n is its IMAP part number. */
static int check_voice(struct check *ck, GMimeObject *obj, int n,
		       guint64 *seconds_r)
{
	GMimeContentDisposition *disposition =
		g_mime_object_get_content_disposition(obj);
	const char *filename, *value;
	unsigned int seconds;
	int ret;

	if (!GMIME_IS_PART(obj) ||
	    g_mime_part_get_content_encoding(GMIME_PART(obj)) !=
		    GMIME_CONTENT_ENCODING_BASE64)
		return refuse(ck, 554, "5.6.0",
			      "voice attachment %d is not base64", n);
	filename = disposition != NULL
			   ? g_mime_content_disposition_get_parameter(
				     disposition, "filename")
			   : NULL;
	if (disposition == NULL ||
	    !g_mime_content_disposition_is_attachment(disposition) ||
	    filename == NULL || *filename == '\0')
		return refuse(ck, 554, "5.6.0",
			      "voice attachment %d has no Content-Disposition "
			      "attachment with a filename",
			      n);
	value = g_mime_object_get_header(obj, "Content-Duration");
	if (value == NULL)
		return refuse(ck, 554, "5.6.0",
			      "voice attachment %d has no Content-Duration", n);
	if (!parse_seconds(value, &seconds))
		return refuse(ck, 554, "5.6.0",
			      "voice attachment %d has a bad Content-Duration",
			      n);
	ret = check_base64(GMIME_PART(obj));
	if (ret == -ENODATA)
		return refuse(ck, 554, "5.6.0", "voice attachment %d is empty",
			      n);
	if (ret < 0)
		return refuse(ck, 554, "5.6.0",
			      "voice attachment %d base64 does not decode", n);
	*seconds_r += seconds;
	return 0;
}

static bool has_audio(GMimeObject *obj)
{
	GMimeMultipart *multipart;
	int i;

	if (GMIME_IS_MESSAGE_PART(obj)) {
		obj = message_body(encapsulated(obj));
		return obj != NULL && has_audio(obj);
	}
	if (!GMIME_IS_MULTIPART(obj))
		return g_mime_content_type_is_type(
			g_mime_object_get_content_type(obj), "audio", "*");
	multipart = GMIME_MULTIPART(obj);
	for (i = 0; i < g_mime_multipart_get_count(multipart); i++) {
		if (has_audio(g_mime_multipart_get_part(multipart, i)))
			return true;
	}
	return false;
}

static bool is_private(GMimeObject *original)
{
	GMimeMessage *msg = encapsulated(original);
	const char *value;

	if (msg == NULL)
		return false;
	value = g_mime_object_get_header(GMIME_OBJECT(msg), "Sensitivity");
	return value != NULL && value_is(value, "private");
}

/* The parts of the top-level multipart: the voice attachments and the
 * original of a forward or reply. */
static int check_parts(struct check *ck, GMimeMultipart *top)
{
	GMimeObject *child, *original = NULL;
	guint64 seconds = 0;
	int i, ret;

	for (i = 0; i < g_mime_multipart_get_count(top); i++) {
		child = g_mime_multipart_get_part(top, i);
		if (GMIME_IS_MESSAGE_PART(child) && original == NULL) {
			original = child;
		} else if (g_mime_content_type_is_type(
				   g_mime_object_get_content_type(child),
				   "audio", "*")) {
			ret = check_voice(ck, child, i + 1, &seconds);
			if (ret < 0)
				return ret;
			ck->info.voice_parts++;
		}
	}
	ck->info.has_original = original != NULL;
	if (ck->info.voice_parts == 0 &&
	    (original == NULL || !has_audio(original)))
		return refuse(ck, 554, "5.6.0", "no voice attachment");
	if (original != NULL && g_strcmp0(ck->info.action, "forward") == 0 &&
	    is_private(original))
		return refuse(ck, 554, "5.7.1",
			      "a private message cannot be forwarded");
	/* The top-level duration is the client's word; the attachments'
	 * sum keeps a small one from hiding a long recording. */
	seconds = MAX(seconds, ck->info.duration);
	if (ck->rules->max_duration != 0 && seconds > ck->rules->max_duration)
		return refuse(ck, 552, "5.3.4",
			      "voice message longer than %u seconds",
			      ck->rules->max_duration);
	return 0;
}

/* A delivery status or disposition notification (RFC 3462 multipart/
 * report). */
static bool is_report(GMimeMessage *msg)
{
	GMimeContentType *type = g_mime_object_get_content_type(
		message_body(msg));
	const char *report;

	if (type == NULL || !g_mime_content_type_is_type(type, "multipart",
							 "report"))
		return false;
	report = g_mime_content_type_get_parameter(type, "report-type");
	return report != NULL &&
	       (g_ascii_strcasecmp(report, "delivery-status") == 0 ||
		g_ascii_strcasecmp(report, "disposition-notification") == 0);
}

int smtp_message_check(const void *data, size_t len,
		       const struct smtp_message_rules *rules,
		       struct smtp_message_info *info_r,
		       struct smtp_refusal *refusal_r)
{
	struct check ck = {
		.data = data,
		.len = len,
		.rules = rules,
		.refusal = refusal_r,
	};
	GMimeMessage *msg = NULL;
	const char *reason;
	int ret;

	smtp_message_init();
	/* An empty GByteArray may hold no buffer at all. */
	if (len == 0)
		return refuse(&ck, 554, "5.6.0", "empty message");
	reason = check_bytes(data, len);
	if (reason != NULL)
		return refuse(&ck, 554, "5.6.0", "%s", reason);
	reason = check_header_block(data, len);
	if (reason != NULL)
		return malformed(&ck, reason);
	ret = parse(&ck, &msg);
	if (ret < 0)
		return ret;
	if (rules->allow_reports && is_report(msg)) {
		g_object_unref(msg);
		memset(info_r, 0, sizeof(*info_r));
		return 0;
	}
	if ((ret = check_from(&ck, msg)) == 0 &&
	    (ret = check_to(&ck, msg)) == 0 &&
	    (ret = check_mandatory(&ck, msg)) == 0 &&
	    (ret = check_optional(&ck, msg)) == 0)
		ret = check_parts(&ck, GMIME_MULTIPART(message_body(msg)));
	g_object_unref(msg);
	if (ret < 0)
		return ret;
	*info_r = ck.info;
	return 0;
}

void smtp_refusal_clear(struct smtp_refusal *refusal)
{
	g_clear_pointer(&refusal->text, g_free);
}

static char printable_char(char c)
{
	return (unsigned char)c < 0x20 || (unsigned char)c > 0x7e ? '?' : c;
}

void smtp_append_printable(GString *out, const char *s)
{
	for (; *s != '\0'; s++)
		g_string_append_c(out, printable_char(*s));
}

char *smtp_printable(const char *s)
{
	char *copy = g_strdup(s);

	for (char *p = copy; *p != '\0'; p++)
		*p = printable_char(*p);
	return copy;
}
