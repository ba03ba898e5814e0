/* The audio in messages (docs/media.md): at commit, each audio part is
 * measured and its Content-Duration made true; on fetch, a message is
 * rendered in a format the subscriber's phone accepts, through the
 * media worker, and the rendition cached with the message. */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vvm-media.h"
#include "vvm-profile.h"

/* One audio part of a message, as the commit found it. */
struct audio_part {
	const struct index_section *section;
	char *format;            /* media_target_token(), else the codec */
	int64_t duration_ms;     /* -1 when the audio could not be read */
};

static void audio_part_clear(void *data)
{
	struct audio_part *a = data;

	g_free(a->format);
}

/* A MIME part of the section list, as opposed to a message ("" or "N."). */
static bool is_part(const struct index_section *s)
{
	return s->part[0] != '\0' && !g_str_has_suffix(s->part, ".");
}

/* The part's content, transfer encoding undone. Quoted-printable audio
 * is not a thing; it reads as unreadable. */
static GBytes *part_content(const char *msg, const struct index_section *s)
{
	g_autofree char *cte = index_section_field(msg, s, "Content-Transfer-Encoding");
	const char *body = msg + s->body_offset;
	guchar *out;
	gint state = 0;
	guint save = 0;
	gsize n;

	if (cte == NULL || g_ascii_strcasecmp(g_strstrip(cte), "base64") != 0) {
		if (cte != NULL && g_ascii_strcasecmp(cte, "quoted-printable") == 0)
			return NULL;
		return g_bytes_new(body, s->body_length);
	}
	out = g_malloc(s->body_length * 3 / 4 + 3);
	n = g_base64_decode_step(body, s->body_length, out, &state, &save);
	return g_bytes_new_take(out, n);
}

/* A codec's name in a format token: lower case, no spaces. */
static const char *codec_token(enum media_codec codec)
{
	switch (codec) {
	case MEDIA_CODEC_AMR_NB:
		return "amr";
	case MEDIA_CODEC_AMR_WB:
		return "amr-wb";
	case MEDIA_CODEC_PCM:
		return "pcm";
	case MEDIA_CODEC_ALAW:
		return "g711a";
	case MEDIA_CODEC_ULAW:
		return "g711u";
	case MEDIA_CODEC_GSM:
	case MEDIA_CODEC_GSM_MS:
		return "gsm";
	case MEDIA_CODEC_QCELP:
		return "qcelp";
	case MEDIA_CODEC_EVRC:
		return "evrc";
	case MEDIA_CODEC_UNKNOWN:
		break;
	}
	return "unknown";
}

/* The audio record's name for a format (docs/media.md): a target's token
 * when the audio already is one; "qcelp"/"evrc" for QCP files, which is
 * what audio/qcelp and audio/evrc name; else container and codec, with
 * the rate, channels and sample size of a WAV that is no target. */
static char *format_token(const struct media_info *info)
{
	enum media_target target;
	const char *codec = codec_token(info->codec);

	if (media_info_target(info, &target))
		return g_strdup(media_target_token(target));
	if (info->container == MEDIA_CONTAINER_3GP)
		return g_strdup_printf("3gp-%s", codec);
	if (info->container != MEDIA_CONTAINER_WAV)
		return g_strdup(codec);
	if (info->codec == MEDIA_CODEC_GSM_MS)
		return g_strdup("wav-gsm");
	return g_strdup_printf("wav-%s%u-%uhz-%uch", codec, info->bits,
			       info->rate, info->channels);
}

static void measure(const char *msg, const struct index_section *s,
		    struct audio_part *a)
{
	g_autoptr(GBytes) content = part_content(msg, s);
	struct media_info info;
	const char *reason = "transfer encoding";

	a->section = s;
	a->duration_ms = -1;
	if (content == NULL ||
	    media_probe(g_bytes_get_data(content, NULL),
			g_bytes_get_size(content), &info, &reason) < 0) {
		a->format = g_strdup("unknown");
		g_message("audio part %s: %s", s->part, reason);
		return;
	}
	a->format = format_token(&info);
	if (info.codec != MEDIA_CODEC_UNKNOWN)
		a->duration_ms = (int64_t)info.duration_ms;
}

/* A header's Content-Duration is right when it is within a second (it is
 * a whole number) plus 2% of the audio. */
static bool duration_right(int64_t header, int64_t ms)
{
	int64_t diff = header * 1000 - ms;

	return ABS(diff) <= 1000 + ms / 50;
}

/* One header block to replace. */
struct edit {
	uint64_t offset;
	uint64_t length;
	GString *text;
};

static void edit_clear(void *data)
{
	struct edit *e = data;

	g_string_free(e->text, TRUE);
}

/* Copies a header block without the fields named in drop, then appends
 * extra (complete "Name: value\r\n" lines) before the blank line. */
static GString *header_rewrite(const char *hdr, size_t len,
			       const char *const *drop, const char *extra)
{
	GString *out = g_string_sized_new(len + 64);
	const char *p = hdr, *end = hdr + len;

	while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		const char *field_end = g_strstr_len(p, end - p, "\r\n");
		bool keep = true;

		field_end = field_end != NULL ? field_end + 2 : end;
		while (field_end < end && (*field_end == ' ' || *field_end == '\t')) {
			const char *next = g_strstr_len(field_end, end - field_end, "\r\n");

			field_end = next != NULL ? next + 2 : end;
		}
		for (const char *const *d = drop; *d != NULL; d++) {
			size_t n = strlen(*d);

			if ((size_t)(field_end - p) > n && p[n] == ':' &&
			    g_ascii_strncasecmp(p, *d, n) == 0)
				keep = false;
		}
		if (keep)
			g_string_append_len(out, p, field_end - p);
		p = field_end;
	}
	g_string_append(out, extra);
	g_string_append(out, "\r\n");
	return out;
}

static void edit_duration(GArray *edits, const char *msg,
			  const struct index_section *s, int64_t seconds)
{
	static const char *const drop[] = { "Content-Duration", NULL };
	g_autofree char *line = g_strdup_printf("Content-Duration: %" G_GINT64_FORMAT "\r\n",
						seconds);
	struct edit e = {
		.offset = s->header_offset, .length = s->header_length,
		.text = header_rewrite(msg + s->header_offset, s->header_length,
				       drop, line),
	};

	g_array_append_val(edits, e);
}

/* Applies the edits (in document order, not overlapping) to msg. */
static GBytes *apply_edits(const char *msg, size_t len, GArray *edits)
{
	GString *out = g_string_sized_new(len + 256);
	uint64_t pos = 0;

	for (guint i = 0; i < edits->len; i++) {
		struct edit *e = &g_array_index(edits, struct edit, i);

		g_string_append_len(out, msg + pos, (gssize)(e->offset - pos));
		g_string_append_len(out, e->text->str, (gssize)e->text->len);
		pos = e->offset + e->length;
	}
	g_string_append_len(out, msg + pos, (gssize)(len - pos));
	return g_string_free_to_bytes(out);
}

/* Checks one Content-Duration against the audio: adds an edit when it is
 * missing or (by policy) wrong; -EINVAL when policy rejects. */
static int check_duration(struct vvmfs *fs, GArray *edits, const char *msg,
			  const struct index_section *s, int64_t ms)
{
	g_autofree char *value = index_section_field(msg, s, "Content-Duration");
	int64_t header;

	if (ms < 0)
		return 0;
	if (value == NULL) {
		edit_duration(edits, msg, s, (int64_t)media_content_duration((uint64_t)ms));
		return 0;
	}
	header = g_ascii_strtoll(value, NULL, 10);
	if (duration_right(header, ms))
		return 0;
	if (fs->options.duration_reject)
		return -EINVAL;
	edit_duration(edits, msg, s, (int64_t)media_content_duration((uint64_t)ms));
	return 0;
}

static GBytes *audio_record(GArray *parts)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < parts->len; i++) {
		struct audio_part *a = &g_array_index(parts, struct audio_part, i);

		g_string_append_printf(out, "%s %s %" G_GINT64_FORMAT "\n",
				       a->section->part, a->format,
				       a->duration_ms);
	}
	return g_string_free_to_bytes(out);
}

/* The Content-Duration checks of a message: each audio part's own, and
 * the top level's, which is the sum of the audio parts directly in it
 * (edits in document order: the top level first). A message that is one
 * audio body has a single header for both. */
static int duration_edits(struct vvmfs *fs, const char *msg,
			  const struct index *index, GArray *parts,
			  GArray *edits)
{
	const struct index_section *top =
		&g_array_index(index->sections, struct index_section, 0);
	int64_t sum = 0;
	bool shared = false;
	int ret = 0;

	for (guint i = 0; i < parts->len; i++) {
		struct audio_part *a = &g_array_index(parts, struct audio_part, i);

		if (a->section->header_offset == top->header_offset)
			shared = true;
		else if (strchr(a->section->part, '.') == NULL && a->duration_ms > 0)
			sum += a->duration_ms;
	}
	if (!shared && sum > 0)
		ret = check_duration(fs, edits, msg, top, sum);
	for (guint i = 0; i < parts->len && ret == 0; i++) {
		struct audio_part *a = &g_array_index(parts, struct audio_part, i);

		ret = check_duration(fs, edits, msg, a->section, a->duration_ms);
	}
	return ret;
}

static GArray *audio_parts(const char *msg, const struct index *index)
{
	GArray *parts = g_array_new(FALSE, TRUE, sizeof(struct audio_part));

	g_array_set_clear_func(parts, audio_part_clear);
	for (guint i = 0; i < index->sections->len; i++) {
		const struct index_section *s =
			&g_array_index(index->sections, struct index_section, i);
		struct audio_part a = { 0 };

		if (!is_part(s) || !index_section_is_audio(msg, s))
			continue;
		measure(msg, s, &a);
		g_array_append_val(parts, a);
	}
	return parts;
}

int media_commit(struct vvmfs *fs, GBytes **canonical, struct index **index,
		 GBytes **audio_r, const char **reason_r)
{
	const char *msg = g_bytes_get_data(*canonical, NULL);
	g_autoptr(GArray) parts = audio_parts(msg, *index);
	g_autoptr(GArray) edits = g_array_new(FALSE, TRUE, sizeof(struct edit));
	struct index *fixed = NULL;
	GBytes *bytes;
	int ret;

	g_array_set_clear_func(edits, edit_clear);
	*audio_r = NULL;
	if (parts->len == 0)
		return 0;
	ret = duration_edits(fs, msg, *index, parts, edits);
	if (ret < 0) {
		*reason_r = "Content-Duration does not match the audio";
		return ret;
	}
	if (edits->len > 0) {
		bytes = apply_edits(msg, g_bytes_get_size(*canonical), edits);
		ret = index_message(g_bytes_get_data(bytes, NULL),
				    g_bytes_get_size(bytes), &fs->index_limits,
				    &fixed, reason_r);
		if (ret < 0) {
			g_bytes_unref(bytes);
			return ret;
		}
		g_bytes_unref(*canonical);
		*canonical = bytes;
		index_free(index);
		*index = fixed;
		/* The sections moved with the edits. */
		g_array_unref(parts);
		parts = audio_parts(g_bytes_get_data(bytes, NULL), fixed);
	}
	*audio_r = audio_record(parts);
	return 0;
}

/* True when an accept list item names format: a type the server
 * produces by its token, any other (audio/qcelp) by its subtype. */
static bool item_names(const char *item, const char *format)
{
	enum media_target target;
	const char *semi;
	g_autofree char *type = NULL;

	if (media_target_parse(item, &target))
		return strcmp(format, media_target_token(target)) == 0;
	semi = strchr(item, ';');
	type = g_strstrip(g_strndup(item, semi != NULL ? (gsize)(semi - item)
						       : strlen(item)));
	return g_ascii_strncasecmp(type, "audio/", 6) == 0 &&
	       g_ascii_strcasecmp(type + 6, format) == 0;
}

static bool accepted(char **accept, const char *format)
{
	for (char **item = accept; *item != NULL; item++) {
		if (item_names(*item, format))
			return true;
	}
	return false;
}

/* The audio record's lines as (part, format) pairs. */
static char **audio_lines(GBytes *audio)
{
	g_autofree char *text = g_strndup(g_bytes_get_data(audio, NULL),
					  g_bytes_get_size(audio));

	return g_strsplit(g_strchomp(text), "\n", -1);
}

/* Which format the phone gets: none (the original) when every audio part
 * is already in a format the accept list names, else the first format in
 * the list the server produces. */
static bool rendition_target(char **accept, GBytes *audio,
			     enum media_target *target_r)
{
	g_auto(GStrv) lines = audio_lines(audio);
	bool all_accepted = true;

	for (char **line = lines; *line != NULL; line++) {
		g_auto(GStrv) f = g_strsplit(*line, " ", 3);

		if (g_strv_length(f) == 3 && !accepted(accept, f[1]))
			all_accepted = false;
	}
	if (all_accepted)
		return false;
	for (char **item = accept; *item != NULL; item++) {
		if (media_target_parse(*item, target_r))
			return true;
	}
	return false;
}

/* The filename parameter of a Content-Disposition with its extension
 * made ext; the value as it was when it has no filename. */
static char *disposition_with_extension(const char *value, const char *ext)
{
	const char *name = strcasestr(value, "filename=");
	const char *start, *end, *dot;

	if (name == NULL)
		return g_strdup(value);
	start = name + strlen("filename=");
	if (*start == '"') {
		start++;
		end = strchr(start, '"');
	} else {
		end = start + strcspn(start, "; \t\r\n");
	}
	if (end == NULL)
		return g_strdup(value);
	dot = g_strrstr_len(start, end - start, ".");
	if (dot == NULL)
		dot = end;
	return g_strdup_printf("%.*s.%s%s", (int)(dot - value), value, ext, end);
}

static GString *base64_lines(GBytes *data)
{
	g_autofree char *flat = g_base64_encode(g_bytes_get_data(data, NULL),
						g_bytes_get_size(data));
	size_t len = strlen(flat);
	GString *out = g_string_sized_new(len + len / 38 + 2);

	for (size_t pos = 0; pos < len; pos += 76) {
		if (pos > 0)
			g_string_append(out, "\r\n");
		g_string_append_len(out, flat + pos, (gssize)MIN(76, len - pos));
	}
	return out;
}

static bool is_target(GBytes *audio, enum media_target target)
{
	struct media_info info;
	const char *reason;

	return media_probe(g_bytes_get_data(audio, NULL), g_bytes_get_size(audio),
			   &info, &reason) == 0 &&
	       media_info_is_target(&info, target) && !info.truncated;
}

/* The edit that replaces an audio part, header and body, with its
 * transcoded audio; false (and a log line) when it cannot be. */
static bool transcode_part(struct vvmfs *fs, const char *msg,
			   const struct index_section *s,
			   enum media_target target, struct edit *e)
{
	static const char *const drop[] = { "Content-Type",
		"Content-Transfer-Encoding", "Content-Disposition", NULL };
	g_autoptr(GBytes) content = part_content(msg, s);
	g_autoptr(GBytes) out = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *disposition = index_section_field(msg, s, "Content-Disposition");
	g_autofree char *new_disposition = NULL;
	g_autofree char *extra = NULL;
	g_autoptr(GString) body = NULL;
	int ret = content == NULL ? -EINVAL
		: media_transcode_isolated(fs->options.media_worker,
					   g_bytes_get_data(content, NULL),
					   g_bytes_get_size(content), target,
					   &fs->options.media_budget, &out,
					   &reason);

	if (ret == 0 && !is_target(out, target)) {
		/* The worker is trusted with the bytes, not with the type. */
		reason = g_strdup("the worker's output is not that format");
		ret = -EINVAL;
	}
	if (ret < 0) {
		g_message("audio part %s not transcoded to %s, serving it as stored: %s",
			  s->part, media_target_token(target),
			  reason != NULL ? reason : "unreadable transfer encoding");
		return false;
	}
	if (disposition != NULL)
		new_disposition = disposition_with_extension(
			g_strstrip(disposition), media_target_extension(target));
	extra = g_strdup_printf("Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n%s%s%s",
				media_target_mime(target),
				new_disposition != NULL ? "Content-Disposition: " : "",
				new_disposition != NULL ? new_disposition : "",
				new_disposition != NULL ? "\r\n" : "");
	e->offset = s->header_offset;
	e->length = s->body_offset + s->body_length - s->header_offset;
	e->text = header_rewrite(msg + s->header_offset, s->header_length,
				 drop, extra);
	body = base64_lines(out);
	g_string_append_len(e->text, body->str, (gssize)body->len);
	return true;
}

static const struct index_section *find_section(const struct index *index,
						const char *part)
{
	for (guint i = 0; i < index->sections->len; i++) {
		const struct index_section *s =
			&g_array_index(index->sections, struct index_section, i);

		if (strcmp(s->part, part) == 0)
			return s;
	}
	return NULL;
}

/* Renders the message for target: returns NULL when no part changed. */
static GBytes *render(struct vvmfs *fs, GBytes *original,
		      const struct index *index, GBytes *audio,
		      enum media_target target)
{
	const char *msg = g_bytes_get_data(original, NULL);
	g_autoptr(GArray) edits = g_array_new(FALSE, TRUE, sizeof(struct edit));
	g_auto(GStrv) lines = audio_lines(audio);

	g_array_set_clear_func(edits, edit_clear);
	for (char **line = lines; *line != NULL; line++) {
		g_auto(GStrv) f = g_strsplit(*line, " ", 3);
		const struct index_section *s;
		struct edit e;

		if (g_strv_length(f) != 3 || strcmp(f[1], "unknown") == 0 ||
		    strcmp(f[1], media_target_token(target)) == 0)
			continue;
		s = find_section(index, f[0]);
		if (s != NULL && transcode_part(fs, msg, s, target, &e))
			g_array_append_val(edits, e);
	}
	if (edits->len == 0)
		return NULL;
	return apply_edits(msg, g_bytes_get_size(original), edits);
}

static int original(struct vvmfs *fs, uint64_t msgid, GBytes **body_r,
		    struct index **index_r)
{
	int ret = ms_message_body(fs->ms, msgid, body_r);

	if (ret == 0) {
		ret = ms_message_index(fs->ms, msgid, index_r);
		if (ret < 0)
			g_clear_pointer(body_r, g_bytes_unref);
	}
	return ret;
}

/* Makes and caches the rendition of a message that has none yet. */
static int render_and_cache(struct vvmfs *fs, uint32_t mbox_id,
			    const struct ms_message *msg, GBytes *audio,
			    enum media_target target, GBytes **body_r,
			    struct index **index_r)
{
	g_autoptr(GBytes) rendered = NULL;
	g_autoptr(GBytes) blob = NULL;
	struct index *index = NULL;
	const char *reason = NULL;
	int ret = original(fs, msg->msgid, body_r, index_r);

	if (ret < 0)
		return ret;
	rendered = render(fs, *body_r, *index_r, audio, target);
	if (rendered != NULL &&
	    index_message(g_bytes_get_data(rendered, NULL),
			  g_bytes_get_size(rendered), &fs->index_limits,
			  &index, &reason) < 0) {
		g_warning("rendition of %u/%u as %s does not index (%s); serving the original",
			  mbox_id, msg->uid, media_target_token(target), reason);
		g_clear_pointer(&rendered, g_bytes_unref);
	}
	if (rendered != NULL) {
		blob = index_serialize(index);
		g_bytes_unref(*body_r);
		index_free(index_r);
		*body_r = g_bytes_ref(rendered);
		*index_r = index;
	}
	/* A failed transcode is cached as "the original" too, so that a
	 * hostile file costs the worker once, not at every fetch. The cache
	 * is best effort: a rendition not kept is made again; -ENOENT is a
	 * message expunged meanwhile. */
	ret = ms_rendition_put(fs->ms, mbox_id, msg->uid, msg->msgid,
			       (uint8_t)target, rendered, blob);
	if (ret < 0 && ret != -ENOENT)
		g_warning("rendition of %u/%u as %s not cached: %s", mbox_id,
			  msg->uid, media_target_token(target),
			  g_strerror(-ret));
	return 0;
}

int media_rendition(struct vvmfs *fs, uint32_t mbox_id, uint32_t uid,
		    GBytes **body_r, struct index **index_r)
{
	g_autoptr(GBytes) audio = NULL;
	g_autoptr(GBytes) cached = NULL;
	g_autoptr(GBytes) cached_index = NULL;
	g_autofree char *accept_text = NULL;
	g_auto(GStrv) accept = NULL;
	enum media_target target;
	struct ms_message msg;
	struct ms_mailbox mbox = { 0 };
	int ret;

	ret = ms_message_get(fs->ms, mbox_id, uid, &msg);
	if (ret == 0)
		ret = ms_mailbox_get(fs->ms, mbox_id, &mbox);
	if (ret < 0)
		return ret;
	ret = ms_profile_get(fs->ms, mbox.sub_id,
			     vvm_profile_key_find("accept"), &accept_text);
	ms_mailbox_clear(&mbox);
	if (ret < 0)
		return ret;
	accept = g_strsplit(accept_text, ",", -1);
	if (*accept_text == '\0')
		return original(fs, msg.msgid, body_r, index_r);
	/* No audio record: no audio parts. One that cannot be read is an
	 * error, not a message without audio. */
	ret = ms_message_audio(fs->ms, msg.msgid, &audio);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	if (ret == -ENOENT || !rendition_target(accept, audio, &target))
		return original(fs, msg.msgid, body_r, index_r);
	ret = ms_rendition_get(fs->ms, msg.msgid, (uint8_t)target, &cached,
			       &cached_index);
	if (ret == -ENOENT)
		return render_and_cache(fs, mbox_id, &msg, audio, target,
					body_r, index_r);
	if (ret < 0)
		return ret;
	if (cached == NULL)
		return original(fs, msg.msgid, body_r, index_r);
	if (index_deserialize(g_bytes_get_data(cached_index, NULL),
			      g_bytes_get_size(cached_index), index_r) < 0)
		return -EIO;
	*body_r = g_steal_pointer(&cached);
	return 0;
}
