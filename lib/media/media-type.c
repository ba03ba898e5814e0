/* The spec's voice MIME types (Table 8), which formats are already one of
 * them, and the containers we write around encoded audio. */
#include "vvm-media.h"

#include <string.h>

#include "media-private.h"

struct target_desc {
	const char *mime;
	const char *token;
	const char *extension;
};

static const struct target_desc targets[MEDIA_TARGET_COUNT] = {
	[MEDIA_TARGET_AMR] = { "audio/amr", "amr", "amr" },
	[MEDIA_TARGET_AMR_WB] = { "audio/amr-wb", "amr-wb", "awb" },
	[MEDIA_TARGET_WAV_ALAW] = { "audio/wav; codec=g711a", "wav-g711a", "wav" },
	[MEDIA_TARGET_WAV_ULAW] = { "audio/wav; codec=g711u", "wav-g711u", "wav" },
	[MEDIA_TARGET_WAV_PCM] = { "audio/wav", "wav", "wav" },
};

/* Removes one pair of quotes, straight or the typographic ones the spec's
 * Table 8 prints (`codec=“g711a”`). Returns value. */
static char *strip_quotes(char *value)
{
	static const char *const quotes[] = { "\"", "\u201c", "\u201d" };

	for (size_t i = 0; i < G_N_ELEMENTS(quotes); i++) {
		size_t n = strlen(quotes[i]);

		if (g_str_has_prefix(value, quotes[i]))
			memmove(value, value + n, strlen(value) - n + 1);
		if (g_str_has_suffix(value, quotes[i]))
			value[strlen(value) - n] = '\0';
	}
	return value;
}

/* The value of the codec parameter of a parameter list (`; codec="g711a"`),
 * unquoted and lower-cased, or NULL. */
static char *codec_parameter(const char *params)
{
	g_auto(GStrv) items = g_strsplit(params, ";", -1);

	for (char **item = items; *item != NULL; item++) {
		char *eq = strchr(*item, '=');
		g_autofree char *name = NULL;
		g_autofree char *value = NULL;

		if (eq == NULL)
			continue;
		name = g_strstrip(g_strndup(*item, (gsize)(eq - *item)));
		if (g_ascii_strcasecmp(name, "codec") != 0)
			continue;
		value = strip_quotes(g_strstrip(g_strdup(eq + 1)));
		return g_ascii_strdown(g_strstrip(value), -1);
	}
	return NULL;
}

bool media_target_parse(const char *mime_type, enum media_target *target_r)
{
	const char *semi = strchr(mime_type, ';');
	g_autofree char *type = g_strstrip(g_strndup(
		mime_type, semi != NULL ? (gsize)(semi - mime_type)
					: strlen(mime_type)));
	g_autofree char *codec = semi != NULL ? codec_parameter(semi + 1)
					      : NULL;

	if (g_ascii_strcasecmp(type, "audio/amr") == 0) {
		*target_r = MEDIA_TARGET_AMR;
		return codec == NULL;
	}
	if (g_ascii_strcasecmp(type, "audio/amr-wb") == 0) {
		*target_r = MEDIA_TARGET_AMR_WB;
		return codec == NULL;
	}
	if (g_ascii_strcasecmp(type, "audio/wav") != 0 &&
	    g_ascii_strcasecmp(type, "audio/x-wav") != 0 &&
	    g_ascii_strcasecmp(type, "audio/wave") != 0)
		return false;
	if (codec == NULL || strcmp(codec, "pcm") == 0)
		*target_r = MEDIA_TARGET_WAV_PCM;
	else if (strcmp(codec, "g711a") == 0)
		*target_r = MEDIA_TARGET_WAV_ALAW;
	else if (strcmp(codec, "g711u") == 0)
		*target_r = MEDIA_TARGET_WAV_ULAW;
	else
		return false;
	return true;
}

const char *media_target_mime(enum media_target target)
{
	return targets[target].mime;
}

const char *media_target_token(enum media_target target)
{
	return targets[target].token;
}

const char *media_target_extension(enum media_target target)
{
	return targets[target].extension;
}

bool media_target_from_token(const char *token, enum media_target *target_r)
{
	for (int t = 0; t < MEDIA_TARGET_COUNT; t++) {
		if (g_ascii_strcasecmp(token, targets[t].token) == 0) {
			*target_r = (enum media_target)t;
			return true;
		}
	}
	return media_target_parse(token, target_r);
}

/* What the server writes, and so what a client that names the type can
 * be trusted to play: G.711 at 8 kHz, PCM of 16 bits, all mono. */
bool media_info_is_target(const struct media_info *info,
			  enum media_target target)
{
	bool wav_mono = info->container == MEDIA_CONTAINER_WAV &&
			info->channels == 1;
	bool g711 = wav_mono && info->rate == 8000;

	switch (target) {
	case MEDIA_TARGET_AMR:
		return info->container == MEDIA_CONTAINER_AMR;
	case MEDIA_TARGET_AMR_WB:
		return info->container == MEDIA_CONTAINER_AMR_WB;
	case MEDIA_TARGET_WAV_ALAW:
		return g711 && info->codec == MEDIA_CODEC_ALAW;
	case MEDIA_TARGET_WAV_ULAW:
		return g711 && info->codec == MEDIA_CODEC_ULAW;
	case MEDIA_TARGET_WAV_PCM:
		return wav_mono && info->codec == MEDIA_CODEC_PCM &&
		       info->bits == 16;
	case MEDIA_TARGET_COUNT:
		break;
	}
	return false;
}

bool media_info_target(const struct media_info *info,
		       enum media_target *target_r)
{
	for (int t = 0; t < MEDIA_TARGET_COUNT; t++) {
		if (media_info_is_target(info, (enum media_target)t)) {
			*target_r = (enum media_target)t;
			return true;
		}
	}
	return false;
}

uint64_t media_content_duration(uint64_t duration_ms)
{
	return duration_ms == 0 ? 0 : MAX(1, (duration_ms + 500) / 1000);
}

bool media_codec_decodable(enum media_codec codec)
{
	return codec != MEDIA_CODEC_UNKNOWN;
}

void media_budget_defaults(struct media_budget *budget)
{
	if (budget->max_input == 0)
		budget->max_input = 64u << 20;
	if (budget->max_output == 0)
		budget->max_output = 256u << 20;
	if (budget->max_duration_ms == 0)
		budget->max_duration_ms = 4 * 3600 * 1000;
	if (budget->wall_seconds == 0)
		budget->wall_seconds = 30;
	if (budget->cpu_seconds == 0)
		budget->cpu_seconds = 30;
	if (budget->memory_mb == 0)
		budget->memory_mb = 1024;
}

static void put_le16(GByteArray *out, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	g_byte_array_append(out, b, 2);
}

static void put_le32(GByteArray *out, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	g_byte_array_append(out, b, 4);
}

void media_wav_header(GByteArray *out, uint16_t format, uint32_t rate,
		      uint16_t bits, uint32_t data_length)
{
	bool pcm = format == 1;
	uint16_t block = bits / 8;
	/* fmt is 16 bytes for PCM, 18 (with cbSize) otherwise, followed by
	 * a fact chunk with the sample count, as RIFF asks of non-PCM. */
	uint32_t fmt_length = pcm ? 16 : 18;
	uint32_t riff_length = 4 + 8 + fmt_length + (pcm ? 0 : 12) + 8 +
			       data_length + (data_length & 1);

	g_byte_array_append(out, (const guint8 *)"RIFF", 4);
	put_le32(out, riff_length);
	g_byte_array_append(out, (const guint8 *)"WAVEfmt ", 8);
	put_le32(out, fmt_length);
	put_le16(out, format);
	put_le16(out, 1);
	put_le32(out, rate);
	put_le32(out, rate * block);
	put_le16(out, block);
	put_le16(out, bits);
	if (!pcm) {
		put_le16(out, 0);
		g_byte_array_append(out, (const guint8 *)"fact", 4);
		put_le32(out, 4);
		put_le32(out, data_length / block);
	}
	g_byte_array_append(out, (const guint8 *)"data", 4);
	put_le32(out, data_length);
}

const char *media_amr_magic(bool wideband)
{
	return wideband ? "#!AMR-WB\n" : "#!AMR\n";
}
