/* What an audio file holds and how long it lasts, from its own bytes: the
 * container parsing that is ours (GStreamer only decodes). Every length
 * read from the file is checked against the bytes that are there. */
#include "vvm-media.h"

#include <errno.h>
#include <string.h>

#include "media-private.h"

#define AMR_MAGIC "#!AMR\n"
#define AMR_WB_MAGIC "#!AMR-WB\n"
#define GSM_FRAME 33
#define GSM_MS_BLOCK 65         /* two GSM frames, 320 samples */
#define FRAME_MS 20             /* AMR, GSM, QCELP and EVRC frames */
#define MP4_MAX_DEPTH 8

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int fail(const char **reason_r, const char *reason)
{
	*reason_r = reason;
	return -EINVAL;
}

/* Size in bytes, ToC included, of an AMR storage frame from its ToC byte
 * (RFC 4867 5.3; 3GPP TS 26.101 and 26.201 for the frame types). Types
 * without speech (SID aside) carry no bytes after the ToC. */
size_t media_amr_frame_size(bool wideband, uint8_t toc)
{
	static const uint8_t nb[16] = { 13, 14, 16, 18, 20, 21, 27, 32,
					 6, 1, 1, 1, 1, 1, 1, 1 };
	static const uint8_t wb[16] = { 18, 24, 33, 37, 41, 47, 51, 59,
					 61, 6, 1, 1, 1, 1, 1, 1 };

	return (wideband ? wb : nb)[(toc >> 3) & 0x0f];
}

static int probe_amr(const uint8_t *data, size_t len, bool wideband,
		     struct media_info *info, const char **reason_r)
{
	size_t pos = wideband ? strlen(AMR_WB_MAGIC) : strlen(AMR_MAGIC);

	info->container = wideband ? MEDIA_CONTAINER_AMR_WB
				   : MEDIA_CONTAINER_AMR;
	info->codec = wideband ? MEDIA_CODEC_AMR_WB : MEDIA_CODEC_AMR_NB;
	info->rate = wideband ? 16000 : 8000;
	info->channels = 1;
	info->data_offset = pos;
	while (pos < len) {
		size_t size;

		/* The F bit and the two padding bits are 0 in storage. */
		if ((data[pos] & 0x83) != 0)
			return fail(reason_r, "bad AMR frame header");
		size = media_amr_frame_size(wideband, data[pos]);
		if (size > len - pos) {
			info->truncated = true;
			break;
		}
		pos += size;
		info->frames++;
	}
	info->data_length = pos - info->data_offset;
	info->duration_ms = info->frames * FRAME_MS;
	return 0;
}

static bool looks_like_gsm(const uint8_t *data, size_t len)
{
	if (len < GSM_FRAME)
		return false;
	/* Each frame starts with the 0xD signature nibble. */
	for (size_t pos = 0; pos + GSM_FRAME <= len; pos += GSM_FRAME) {
		if ((data[pos] & 0xf0) != 0xd0)
			return false;
	}
	return true;
}

static void probe_gsm(size_t len, struct media_info *info)
{
	info->container = MEDIA_CONTAINER_GSM;
	info->codec = MEDIA_CODEC_GSM;
	info->rate = 8000;
	info->channels = 1;
	info->frames = len / GSM_FRAME;
	info->data_offset = 0;
	info->data_length = info->frames * GSM_FRAME;
	info->truncated = len % GSM_FRAME != 0;
	info->duration_ms = info->frames * FRAME_MS;
}

/* A RIFF chunk: its id and body, clamped to the file. */
struct riff_chunk {
	const uint8_t *id;
	const uint8_t *body;
	size_t length;
	bool truncated;     /* the declared length runs past the file */
};

/* Finds the chunks of a RIFF form (data, len from after the form type)
 * one by one: returns false at the end. */
static bool riff_next(const uint8_t *data, size_t len, size_t *pos,
		      struct riff_chunk *chunk)
{
	uint32_t declared;

	if (len - *pos < 8)
		return false;
	chunk->id = data + *pos;
	declared = le32(data + *pos + 4);
	chunk->body = data + *pos + 8;
	chunk->truncated = declared > len - *pos - 8;
	chunk->length = chunk->truncated ? len - *pos - 8 : declared;
	/* Chunks are padded to an even length. */
	*pos += 8 + chunk->length + (chunk->length & 1);
	if (*pos > len)
		*pos = len;
	return true;
}

static enum media_codec wav_codec(uint16_t format, uint16_t bits)
{
	switch (format) {
	case 1:
		return bits == 8 || bits == 16 ? MEDIA_CODEC_PCM
					       : MEDIA_CODEC_UNKNOWN;
	case 6:
		return bits == 8 ? MEDIA_CODEC_ALAW : MEDIA_CODEC_UNKNOWN;
	case 7:
		return bits == 8 ? MEDIA_CODEC_ULAW : MEDIA_CODEC_UNKNOWN;
	case 0x31:
		return MEDIA_CODEC_GSM_MS;
	default:
		return MEDIA_CODEC_UNKNOWN;
	}
}

static int wav_fmt(const struct riff_chunk *fmt, struct media_info *info,
		   uint16_t *block_align_r, const char **reason_r)
{
	if (fmt->length < 16)
		return fail(reason_r, "WAV fmt chunk too short");
	info->wav_format = le16(fmt->body);
	info->channels = le16(fmt->body + 2);
	info->rate = le32(fmt->body + 4);
	*block_align_r = le16(fmt->body + 12);
	info->bits = le16(fmt->body + 14);
	/* WAVE_FORMAT_EXTENSIBLE names the real format in its sub-format
	 * GUID, whose first two bytes are the format code. */
	if (info->wav_format == 0xfffe && fmt->length >= 26)
		info->wav_format = le16(fmt->body + 24);
	if (info->channels == 0 || info->rate == 0 || *block_align_r == 0)
		return fail(reason_r, "WAV fmt chunk with zero channels, rate or block size");
	info->codec = wav_codec(info->wav_format, info->bits);
	if (info->codec == MEDIA_CODEC_GSM_MS &&
	    (*block_align_r != GSM_MS_BLOCK || info->channels != 1))
		return fail(reason_r, "WAV GSM with a block size other than 65");
	if ((info->codec == MEDIA_CODEC_PCM || info->codec == MEDIA_CODEC_ALAW ||
	     info->codec == MEDIA_CODEC_ULAW) &&
	    *block_align_r != info->channels * (info->bits / 8))
		return fail(reason_r, "WAV block size does not match its samples");
	return 0;
}

static int probe_wav(const uint8_t *data, size_t len, struct media_info *info,
		     const char **reason_r)
{
	struct riff_chunk chunk;
	size_t pos = 12;
	uint16_t block_align = 0;
	bool have_fmt = false;
	int ret;

	info->container = MEDIA_CONTAINER_WAV;
	while (riff_next(data, len, &pos, &chunk)) {
		if (memcmp(chunk.id, "fmt ", 4) == 0 && !have_fmt) {
			ret = wav_fmt(&chunk, info, &block_align, reason_r);
			if (ret < 0)
				return ret;
			have_fmt = true;
		} else if (memcmp(chunk.id, "data", 4) == 0) {
			if (!have_fmt)
				return fail(reason_r, "WAV data before its fmt chunk");
			info->data_offset = (size_t)(chunk.body - data);
			info->frames = chunk.length / block_align;
			info->data_length = info->frames * block_align;
			/* A part block at the end of a whole chunk is
			 * padding (sox pads wav49 data to even): only a
			 * file that ends early is truncated. */
			info->truncated = chunk.truncated;
			if (info->codec == MEDIA_CODEC_GSM_MS) {
				info->duration_ms = info->frames * 320 * 1000 /
						    info->rate;
			} else {
				info->duration_ms = info->frames * 1000 /
						    info->rate;
			}
			return 0;
		}
	}
	return fail(reason_r, have_fmt ? "WAV without data chunk"
				       : "WAV without fmt chunk");
}

/* RFC 3625: the codec GUIDs as stored (little-endian fields). */
static const uint8_t qcp_qcelp_a[16] = {
	0x41, 0x6d, 0x7f, 0x5e, 0x15, 0xb1, 0xd0, 0x11,
	0xba, 0x91, 0x00, 0x80, 0x5f, 0xb4, 0xb9, 0x7e };
static const uint8_t qcp_qcelp_b[16] = {
	0x42, 0x6d, 0x7f, 0x5e, 0x15, 0xb1, 0xd0, 0x11,
	0xba, 0x91, 0x00, 0x80, 0x5f, 0xb4, 0xb9, 0x7e };
static const uint8_t qcp_evrc[16] = {
	0x8d, 0xd4, 0x89, 0xe6, 0x76, 0x90, 0xb5, 0x46,
	0x91, 0xef, 0x73, 0x6a, 0x51, 0x00, 0xce, 0xb4 };

const uint8_t *media_qcp_guid(enum media_codec codec)
{
	return codec == MEDIA_CODEC_EVRC ? qcp_evrc : qcp_qcelp_a;
}

/* Packet size, rate byte included, from the rate byte (RFC 3625 has the
 * rate map in the fmt chunk; these are the values both codecs define). */
size_t media_qcp_packet_size(enum media_codec codec, uint8_t rate)
{
	static const uint8_t qcelp[5] = { 1, 4, 8, 17, 35 };
	static const uint8_t evrc[5] = { 1, 3, 0, 11, 23 };

	if (rate > 4)
		return 0;
	return (codec == MEDIA_CODEC_EVRC ? evrc : qcelp)[rate];
}

static int qcp_fmt(const struct riff_chunk *fmt, struct media_info *info,
		   const char **reason_r)
{
	/* major, minor, GUID, version, name[80], avg bps, packet size,
	 * block size, sampling rate, sample size ... */
	const uint8_t *guid = fmt->body + 2;

	if (fmt->length < 2 + 16 + 2 + 80 + 10)
		return fail(reason_r, "QCP fmt chunk too short");
	if (memcmp(guid, qcp_qcelp_a, 16) == 0 ||
	    memcmp(guid, qcp_qcelp_b, 16) == 0)
		info->codec = MEDIA_CODEC_QCELP;
	else if (memcmp(guid, qcp_evrc, 16) == 0)
		info->codec = MEDIA_CODEC_EVRC;
	else
		return fail(reason_r, "QCP codec is neither QCELP nor EVRC");
	info->packet_size = le16(fmt->body + 102);
	info->rate = le16(fmt->body + 106);
	if (info->rate == 0)
		info->rate = 8000;
	info->channels = 1;
	return 0;
}

static int qcp_count_packets(const uint8_t *data, struct media_info *info,
			     bool variable, const char **reason_r)
{
	size_t pos = info->data_offset, end = pos + info->data_length;

	while (pos < end) {
		size_t size = variable
			? media_qcp_packet_size(info->codec, data[pos])
			: info->packet_size;

		if (size == 0)
			return fail(reason_r, "bad QCP packet rate");
		if (size > end - pos) {
			info->truncated = true;
			break;
		}
		pos += size;
		info->frames++;
	}
	info->data_length = pos - info->data_offset;
	info->duration_ms = info->frames * FRAME_MS;
	return 0;
}

static int probe_qcp(const uint8_t *data, size_t len, struct media_info *info,
		     const char **reason_r)
{
	struct riff_chunk chunk;
	size_t pos = 12;
	bool have_fmt = false, variable = false;
	int ret;

	info->container = MEDIA_CONTAINER_QCP;
	while (riff_next(data, len, &pos, &chunk)) {
		if (memcmp(chunk.id, "fmt ", 4) == 0 && !have_fmt) {
			ret = qcp_fmt(&chunk, info, reason_r);
			if (ret < 0)
				return ret;
			have_fmt = true;
		} else if (memcmp(chunk.id, "vrat", 4) == 0 &&
			   chunk.length >= 8) {
			variable = le32(chunk.body) != 0;
		} else if (memcmp(chunk.id, "data", 4) == 0) {
			if (!have_fmt)
				return fail(reason_r, "QCP data before its fmt chunk");
			if (!variable && info->packet_size == 0)
				return fail(reason_r, "QCP fixed rate with packet size 0");
			if (variable)
				info->packet_size = 0;
			info->data_offset = (size_t)(chunk.body - data);
			info->data_length = chunk.length;
			info->truncated = chunk.truncated;
			return qcp_count_packets(data, info, variable,
						 reason_r);
		}
	}
	return fail(reason_r, have_fmt ? "QCP without data chunk"
				       : "QCP without fmt chunk");
}

/* An ISO base media box: its type and body, clamped to its parent. */
struct mp4_box {
	const uint8_t *type;
	const uint8_t *body;
	size_t length;
};

static bool mp4_next(const uint8_t *data, size_t len, size_t *pos,
		     struct mp4_box *box, bool *bad)
{
	uint64_t size;
	size_t header = 8;

	if (len - *pos < 8)
		return false;
	size = be32(data + *pos);
	box->type = data + *pos + 4;
	if (size == 1) {
		if (len - *pos < 16) {
			*bad = true;
			return false;
		}
		size = be64(data + *pos + 8);
		header = 16;
	} else if (size == 0) {
		size = len - *pos;
	}
	if (size < header || size > len - *pos) {
		*bad = true;
		return false;
	}
	box->body = data + *pos + header;
	box->length = (size_t)size - header;
	*pos += (size_t)size;
	return true;
}

/* What one sound track says, while walking moov. */
struct mp4_track {
	bool sound;
	uint32_t timescale;
	uint64_t duration;
	enum media_codec codec;
	uint32_t rate;
};

static enum media_codec mp4_codec(const uint8_t *type)
{
	if (memcmp(type, "samr", 4) == 0)
		return MEDIA_CODEC_AMR_NB;
	if (memcmp(type, "sawb", 4) == 0)
		return MEDIA_CODEC_AMR_WB;
	if (memcmp(type, "sqcp", 4) == 0)
		return MEDIA_CODEC_QCELP;
	if (memcmp(type, "sevc", 4) == 0)
		return MEDIA_CODEC_EVRC;
	return MEDIA_CODEC_UNKNOWN;
}

static void mp4_mdhd(const struct mp4_box *box, struct mp4_track *track)
{
	const uint8_t *b = box->body;

	if (box->length >= 32 && b[0] == 1) {
		track->timescale = be32(b + 20);
		track->duration = be64(b + 24);
	} else if (box->length >= 24 && b[0] == 0) {
		track->timescale = be32(b + 12);
		track->duration = be32(b + 16);
	}
}

static void mp4_stsd(const struct mp4_box *box, struct mp4_track *track)
{
	/* version/flags, entry count, then the first sample entry: size,
	 * type, 6 reserved, data ref index, 8 reserved, channels, sample
	 * size, 4 reserved, rate as 16.16. */
	const uint8_t *b = box->body;

	if (box->length < 16)
		return;
	track->codec = mp4_codec(b + 12);
	if (box->length >= 8 + 36)
		track->rate = be32(b + 8 + 32) >> 16;
}

static bool mp4_walk(const uint8_t *data, size_t len, unsigned depth,
		     struct mp4_track *track, struct media_info *info);

/* The boxes whose children matter: moov/trak/mdia/minf/stbl. */
static bool mp4_container(const uint8_t *type)
{
	static const char *const names[] = { "moov", "trak", "mdia", "minf",
					     "stbl" };

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (memcmp(type, names[i], 4) == 0)
			return true;
	}
	return false;
}

/* duration / timescale in milliseconds, without overflow: mdhd v1 has a
 * 64-bit duration, so a hostile file can name any number of years (it
 * then saturates, and any duration budget refuses it). */
static uint64_t mp4_duration_ms(uint64_t duration, uint32_t timescale)
{
	uint64_t seconds = duration / timescale;
	uint64_t rest_ms = duration % timescale * 1000 / timescale;

	if (seconds > (UINT64_MAX - rest_ms) / 1000)
		return UINT64_MAX;
	return seconds * 1000 + rest_ms;
}

static void mp4_take_track(const struct mp4_track *track,
			   struct media_info *info)
{
	if (!track->sound || info->codec != MEDIA_CODEC_UNKNOWN)
		return;
	info->codec = track->codec;
	info->rate = track->rate;
	info->channels = 1;
	if (track->timescale != 0)
		info->duration_ms = mp4_duration_ms(track->duration,
						    track->timescale);
}

static bool mp4_walk(const uint8_t *data, size_t len, unsigned depth,
		     struct mp4_track *track, struct media_info *info)
{
	struct mp4_box box;
	size_t pos = 0;
	bool bad = false;

	if (depth > MP4_MAX_DEPTH)
		return false;
	while (mp4_next(data, len, &pos, &box, &bad)) {
		if (memcmp(box.type, "trak", 4) == 0) {
			struct mp4_track inner = { 0 };

			if (!mp4_walk(box.body, box.length, depth + 1, &inner,
				      info))
				return false;
			mp4_take_track(&inner, info);
		} else if (mp4_container(box.type)) {
			if (!mp4_walk(box.body, box.length, depth + 1, track,
				      info))
				return false;
		} else if (memcmp(box.type, "mdhd", 4) == 0) {
			mp4_mdhd(&box, track);
		} else if (memcmp(box.type, "hdlr", 4) == 0 &&
			   box.length >= 12) {
			track->sound = memcmp(box.body + 8, "soun", 4) == 0;
		} else if (memcmp(box.type, "stsd", 4) == 0) {
			mp4_stsd(&box, track);
		}
	}
	return !bad;
}

static int probe_3gp(const uint8_t *data, size_t len, struct media_info *info,
		     const char **reason_r)
{
	struct mp4_track none = { 0 };

	info->container = MEDIA_CONTAINER_3GP;
	if (!mp4_walk(data, len, 0, &none, info))
		return fail(reason_r, "damaged 3GP box structure");
	if (info->codec == MEDIA_CODEC_UNKNOWN)
		return fail(reason_r, "3GP without an AMR, QCELP or EVRC track");
	if (info->rate == 0)
		info->rate = info->codec == MEDIA_CODEC_AMR_WB ? 16000 : 8000;
	info->frames = info->duration_ms / FRAME_MS;
	return 0;
}

static bool has_prefix(const uint8_t *data, size_t len, const char *magic)
{
	size_t n = strlen(magic);

	return len >= n && memcmp(data, magic, n) == 0;
}

int media_probe(const void *data, size_t len, struct media_info *info_r,
		const char **reason_r)
{
	const uint8_t *d = data;

	memset(info_r, 0, sizeof(*info_r));
	if (len == 0)
		return fail(reason_r, "empty");
	if (has_prefix(d, len, AMR_WB_MAGIC))
		return probe_amr(d, len, true, info_r, reason_r);
	if (has_prefix(d, len, AMR_MAGIC))
		return probe_amr(d, len, false, info_r, reason_r);
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0) {
		if (memcmp(d + 8, "WAVE", 4) == 0)
			return probe_wav(d, len, info_r, reason_r);
		if (memcmp(d + 8, "QLCM", 4) == 0)
			return probe_qcp(d, len, info_r, reason_r);
		return fail(reason_r, "RIFF file that is neither WAVE nor QLCM");
	}
	if (len >= 8 && memcmp(d + 4, "ftyp", 4) == 0)
		return probe_3gp(d, len, info_r, reason_r);
	if (has_prefix(d, len, "#!AMR"))
		return fail(reason_r, "multichannel or unknown AMR variant");
	if (looks_like_gsm(d, len)) {
		probe_gsm(len, info_r);
		return 0;
	}
	return fail(reason_r, "no audio format recognized");
}

const char *media_codec_name(enum media_codec codec)
{
	switch (codec) {
	case MEDIA_CODEC_AMR_NB:
		return "AMR-NB";
	case MEDIA_CODEC_AMR_WB:
		return "AMR-WB";
	case MEDIA_CODEC_PCM:
		return "PCM";
	case MEDIA_CODEC_ALAW:
		return "G.711 A-law";
	case MEDIA_CODEC_ULAW:
		return "G.711 mu-law";
	case MEDIA_CODEC_GSM:
		return "GSM 06.10";
	case MEDIA_CODEC_GSM_MS:
		return "GSM 06.10 (wav49)";
	case MEDIA_CODEC_QCELP:
		return "QCELP";
	case MEDIA_CODEC_EVRC:
		return "EVRC";
	case MEDIA_CODEC_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *media_container_name(enum media_container container)
{
	switch (container) {
	case MEDIA_CONTAINER_AMR:
		return "AMR";
	case MEDIA_CONTAINER_AMR_WB:
		return "AMR-WB";
	case MEDIA_CONTAINER_WAV:
		return "WAV";
	case MEDIA_CONTAINER_GSM:
		return "GSM";
	case MEDIA_CONTAINER_3GP:
		return "3GP";
	case MEDIA_CONTAINER_QCP:
		return "QCP";
	case MEDIA_CONTAINER_UNKNOWN:
		break;
	}
	return "unknown";
}
