/* lib/media without GStreamer: media_probe() on files built here byte by
 * byte (every AMR frame type, WAV fmt codes and chunk layouts, raw GSM,
 * QCP fixed and variable rate, 3GP boxes), every refusal's reason, the
 * MIME types of the spec, media_info_is_target(), media_frames_next(),
 * and media_transcode_isolated() driven by fake workers (shell scripts).
 *
 * Every probe runs on a copy that ends right before an unmapped page, and
 * so does every shorter cut of it and a few hundred mutations: none may
 * read past the end, and every accepted file must satisfy what the header
 * promises (its frames found one by one add up to the data range). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "guard-page.h"
#include "vvm-media.h"

#define GUARD_PAGES 32

/* Frame sizes, ToC included, by frame type (3GPP TS 26.101, 26.201;
 * RFC 4867): written out here rather than taken from the library. */
static const size_t amr_nb_size[16] = { 13, 14, 16, 18, 20, 21, 27, 32,
					6, 1, 1, 1, 1, 1, 1, 1 };
static const size_t amr_wb_size[16] = { 18, 24, 33, 37, 41, 47, 51, 59,
					61, 6, 1, 1, 1, 1, 1, 1 };

static const uint8_t guid_qcelp[16] = {
	0x41, 0x6d, 0x7f, 0x5e, 0x15, 0xb1, 0xd0, 0x11,
	0xba, 0x91, 0x00, 0x80, 0x5f, 0xb4, 0xb9, 0x7e };
static const uint8_t guid_qcelp_b[16] = {
	0x42, 0x6d, 0x7f, 0x5e, 0x15, 0xb1, 0xd0, 0x11,
	0xba, 0x91, 0x00, 0x80, 0x5f, 0xb4, 0xb9, 0x7e };
static const uint8_t guid_evrc[16] = {
	0x8d, 0xd4, 0x89, 0xe6, 0x76, 0x90, 0xb5, 0x46,
	0x91, 0xef, 0x73, 0x6a, 0x51, 0x00, 0xce, 0xb4 };

/* ---- building files ---- */

static void put(GByteArray *b, const void *data, size_t len)
{
	g_byte_array_append(b, data, (guint)len);
}

static void put_str(GByteArray *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_u8(GByteArray *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_le16(GByteArray *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put(b, x, 2);
}

static void put_le32(GByteArray *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	put(b, x, 4);
}

static void put_be32(GByteArray *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };

	put(b, x, 4);
}

static void put_be64(GByteArray *b, uint64_t v)
{
	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b, (uint32_t)v);
}

static void put_fill(GByteArray *b, uint8_t byte, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u8(b, byte);
}

/* Deterministic payload bytes. */
static void put_noise(GByteArray *b, size_t n, uint32_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		put_u8(b, (uint8_t)(*seed >> 16));
	}
}

/* A RIFF chunk, with its pad byte when odd; declared is what its header
 * says (G_MAXSIZE: the truth). */
static void put_chunk(GByteArray *b, const char *id, const void *body,
		      size_t len, size_t declared)
{
	put(b, id, 4);
	put_le32(b, (uint32_t)(declared == G_MAXSIZE ? len : declared));
	put(b, body, len);
	if (len & 1)
		put_u8(b, 0);
}

/* Wraps chunks (after the form type) in RIFF form. */
static GByteArray *riff(const char *form, GByteArray *chunks)
{
	GByteArray *b = g_byte_array_new();

	put_str(b, "RIFF");
	put_le32(b, (uint32_t)(4 + chunks->len));
	put(b, form, 4);
	put(b, chunks->data, chunks->len);
	g_byte_array_unref(chunks);
	return b;
}

static GByteArray *amr_file(bool wideband, const uint8_t *types, size_t n)
{
	GByteArray *b = g_byte_array_new();
	uint32_t seed = 1;

	put_str(b, wideband ? "#!AMR-WB\n" : "#!AMR\n");
	for (size_t i = 0; i < n; i++) {
		size_t size = (wideband ? amr_wb_size : amr_nb_size)[types[i]];

		/* Q bit set, F and padding bits clear. */
		put_u8(b, (uint8_t)(types[i] << 3 | 0x04));
		put_noise(b, size - 1, &seed);
	}
	return b;
}

/* The fmt chunk body of a WAV. */
static GByteArray *wav_fmt_body(uint16_t format, uint16_t channels,
				uint32_t rate, uint16_t block, uint16_t bits)
{
	GByteArray *f = g_byte_array_new();

	put_le16(f, format);
	put_le16(f, channels);
	put_le32(f, rate);
	put_le32(f, rate * block);
	put_le16(f, block);
	put_le16(f, bits);
	return f;
}

/* A WAV with one fmt and one data chunk of data_len noise bytes,
 * declaring declared bytes (G_MAXSIZE: the truth). */
static GByteArray *wav_file(uint16_t format, uint16_t channels, uint32_t rate,
			    uint16_t block, uint16_t bits, size_t data_len,
			    size_t declared)
{
	GByteArray *f = wav_fmt_body(format, channels, rate, block, bits);
	GByteArray *c = g_byte_array_new();
	GByteArray *d = g_byte_array_new();
	uint32_t seed = 7;

	if (format != 1) {
		put_le16(f, 0);   /* cbSize */
	}
	put_chunk(c, "fmt ", f->data, f->len, G_MAXSIZE);
	put_noise(d, data_len, &seed);
	put_chunk(c, "data", d->data, d->len, declared);
	g_byte_array_unref(f);
	g_byte_array_unref(d);
	return riff("WAVE", c);
}

struct qcp_spec {
	const uint8_t *guid;
	bool vrat;              /* write a vrat chunk */
	uint32_t var_rate;      /* its flag */
	uint16_t packet_size;   /* fmt's */
	uint16_t rate;          /* fmt's sampling rate */
	const uint8_t *packets; /* rate bytes */
	const size_t *sizes;    /* each packet's size, rate byte included */
	size_t n;
	size_t declared;        /* of the data chunk; G_MAXSIZE the truth */
	size_t fmt_len;         /* 150 unless cut */
};

static GByteArray *qcp_file(const struct qcp_spec *s)
{
	GByteArray *f = g_byte_array_new();
	GByteArray *c = g_byte_array_new();
	GByteArray *d = g_byte_array_new();
	char name[80] = "test codec";
	uint32_t seed = 3625;

	put_u8(f, 1);
	put_u8(f, 0);
	put(f, s->guid, 16);
	put_le16(f, 1);
	put(f, name, sizeof(name));
	put_le16(f, 13000);
	put_le16(f, s->packet_size);
	put_le16(f, 160);
	put_le16(f, s->rate);
	put_le16(f, 16);
	put_le32(f, 5);
	put_fill(f, 0, 16 + 20);
	g_assert_cmpuint(f->len, ==, 150);
	g_byte_array_set_size(f, (guint)(s->fmt_len != 0 ? s->fmt_len : 150));
	put_chunk(c, "fmt ", f->data, f->len, G_MAXSIZE);
	if (s->vrat) {
		GByteArray *v = g_byte_array_new();

		put_le32(v, s->var_rate);
		put_le32(v, (uint32_t)s->n);
		put_chunk(c, "vrat", v->data, v->len, G_MAXSIZE);
		g_byte_array_unref(v);
	}
	for (size_t i = 0; i < s->n; i++) {
		put_u8(d, s->packets[i]);
		put_noise(d, s->sizes[i] - 1, &seed);
	}
	put_chunk(c, "data", d->data, d->len, s->declared);
	g_byte_array_unref(f);
	g_byte_array_unref(d);
	return riff("QLCM", c);
}

/* ISO base media boxes. */
static void put_box(GByteArray *b, const char *type, GByteArray *body)
{
	put_be32(b, 8 + body->len);
	put(b, type, 4);
	put(b, body->data, body->len);
	g_byte_array_unref(body);
}

static GByteArray *box_of(const char *type, GByteArray *body)
{
	GByteArray *b = g_byte_array_new();

	put_box(b, type, body);
	return b;
}

static GByteArray *cat(GByteArray *a, GByteArray *b)
{
	put(a, b->data, b->len);
	g_byte_array_unref(b);
	return a;
}

static GByteArray *mdhd(int version, uint32_t timescale, uint64_t duration)
{
	GByteArray *b = g_byte_array_new();

	put_u8(b, (uint8_t)version);
	put_fill(b, 0, 3);
	if (version == 1) {
		put_be64(b, 0);
		put_be64(b, 0);
		put_be32(b, timescale);
		put_be64(b, duration);
	} else {
		put_be32(b, 0);
		put_be32(b, 0);
		put_be32(b, timescale);
		put_be32(b, (uint32_t)duration);
	}
	put_le16(b, 0x55c4);   /* language "und" */
	put_le16(b, 0);
	return box_of("mdhd", b);
}

static GByteArray *hdlr(const char *handler)
{
	GByteArray *b = g_byte_array_new();

	put_fill(b, 0, 8);
	put(b, handler, 4);
	put_fill(b, 0, 13);
	return box_of("hdlr", b);
}

static GByteArray *stsd(const char *entry, uint32_t rate)
{
	GByteArray *b = g_byte_array_new();

	put_be32(b, 0);
	put_be32(b, 1);
	put_be32(b, 36);
	put(b, entry, 4);
	put_fill(b, 0, 6);
	put_le16(b, 0x0100);   /* data reference index 1, big-endian */
	put_fill(b, 0, 8);
	put_be32(b, 0x00020010);   /* 2 channels, 16 bits: ignored */
	put_be32(b, 0);
	put_be32(b, rate << 16);
	return box_of("stsd", b);
}

static GByteArray *trak(const char *handler, const char *entry,
			uint32_t rate, GByteArray *mdhd_box)
{
	GByteArray *stbl = box_of("stbl", stsd(entry, rate));
	GByteArray *minf = box_of("minf", stbl);
	GByteArray *mdia = cat(cat(mdhd_box, hdlr(handler)), minf);

	return box_of("trak", box_of("mdia", mdia));
}

static GByteArray *ftyp(void)
{
	GByteArray *b = g_byte_array_new();

	put_str(b, "3gp4");
	put_be32(b, 0);
	put_str(b, "isom3gp4");
	return box_of("ftyp", b);
}

/* ftyp, moov holding the traks, and an mdat of some bytes. */
static GByteArray *mp4_file(GByteArray *traks)
{
	GByteArray *file = ftyp();
	GByteArray *mdat = g_byte_array_new();

	put_fill(mdat, 0x3c, 64);
	file = cat(file, box_of("moov", traks));
	file = cat(file, box_of("mdat", mdat));
	return file;
}

/* ---- probing, with the checks every accepted file must pass ---- */

/* What an accepted file promises: its data range is inside the file, and
 * its frames, one by one, cover that range exactly. */
static void check_accepted(const uint8_t *data, size_t len,
			   const struct media_info *info)
{
	struct media_frames it;
	const uint8_t *frame;
	size_t length, total = 0;
	uint64_t count = 0;

	g_assert_cmpuint(info->data_offset, <=, len);
	g_assert_cmpuint(info->data_length, <=, len - info->data_offset);
	g_assert_cmpint(info->container, !=, MEDIA_CONTAINER_UNKNOWN);
	media_frames_init(&it, data, info);
	while (media_frames_next(&it, &frame, &length)) {
		g_assert_true(frame == data + info->data_offset + total);
		g_assert_cmpuint(length, >, 0);
		total += length;
		count++;
	}
	g_assert_cmpuint(total, ==, info->data_length);
	switch (info->codec) {
	case MEDIA_CODEC_AMR_NB:
	case MEDIA_CODEC_AMR_WB:
	case MEDIA_CODEC_GSM:
	case MEDIA_CODEC_QCELP:
	case MEDIA_CODEC_EVRC:
		if (info->container == MEDIA_CONTAINER_3GP)
			break;
		g_assert_cmpuint(count, ==, info->frames);
		g_assert_cmpuint(info->duration_ms, ==, info->frames * 20);
		break;
	case MEDIA_CODEC_GSM_MS:
		g_assert_cmpuint(count, ==, info->frames);
		break;
	default:
		break;
	}
}

/* Probes data placed before the unmapped page; every shorter cut of it
 * too (when it is small), which must not crash and, when accepted, must
 * keep its promises. Returns the whole file's result. */
static int probe(const void *data, size_t len, struct media_info *info,
		 const char **reason)
{
	const uint8_t *placed;
	int ret;

	if (len <= 4096) {
		for (size_t cut = 0; cut < len; cut++) {
			struct media_info cut_info;
			const char *cut_reason = NULL;

			placed = (const uint8_t *)guard_place(data, cut);
			if (media_probe(placed, cut, &cut_info, &cut_reason) == 0)
				check_accepted(placed, cut, &cut_info);
			else
				g_assert_nonnull(cut_reason);
		}
	}
	placed = (const uint8_t *)guard_place(data, len);
	*reason = NULL;
	ret = media_probe(placed, len, info, reason);
	if (ret == 0)
		check_accepted(placed, len, info);
	else
		g_assert_cmpint(ret, ==, -EINVAL);
	return ret;
}

static void probe_ok(GByteArray *b, struct media_info *info)
{
	const char *reason;
	int ret = probe(b->data, b->len, info, &reason);

	if (ret != 0)
		g_error("probe refused: %s", reason);
}

static void probe_fails(GByteArray *b, const char *expected)
{
	struct media_info info;
	const char *reason;

	g_assert_cmpint(probe(b->data, b->len, &info, &reason), ==, -EINVAL);
	g_assert_cmpstr(reason, ==, expected);
}

/* ---- AMR ---- */

static void check_amr_frame_types(bool wideband)
{
	const size_t *sizes = wideband ? amr_wb_size : amr_nb_size;
	size_t magic = wideband ? 9 : 6;

	for (uint8_t t = 0; t < 16; t++) {
		uint8_t types[3] = { t, t, t };
		g_autoptr(GByteArray) b = amr_file(wideband, types, 3);
		struct media_info info;
		struct media_frames it;
		const uint8_t *frame;
		size_t length;

		g_assert_cmpuint(b->len, ==, magic + 3 * sizes[t]);
		probe_ok(b, &info);
		g_assert_cmpint(info.container, ==, wideband ? MEDIA_CONTAINER_AMR_WB
						       : MEDIA_CONTAINER_AMR);
		g_assert_cmpint(info.codec, ==, wideband ? MEDIA_CODEC_AMR_WB
					       : MEDIA_CODEC_AMR_NB);
		g_assert_cmpuint(info.rate, ==, wideband ? 16000 : 8000);
		g_assert_cmpuint(info.channels, ==, 1);
		g_assert_cmpuint(info.frames, ==, 3);
		g_assert_cmpuint(info.duration_ms, ==, 60);
		g_assert_cmpuint(info.data_offset, ==, magic);
		g_assert_cmpuint(info.data_length, ==, 3 * sizes[t]);
		g_assert_false(info.truncated);
		media_frames_init(&it, b->data, &info);
		for (int i = 0; i < 3; i++) {
			g_assert_true(media_frames_next(&it, &frame, &length));
			g_assert_cmpuint(length, ==, sizes[t]);
			g_assert_cmpuint(frame[0] >> 3, ==, t);
		}
		g_assert_false(media_frames_next(&it, &frame, &length));

		/* One byte short: two whole frames, the third cut. */
		if (sizes[t] > 1) {
			g_byte_array_set_size(b, b->len - 1);
			probe_ok(b, &info);
			g_assert_cmpuint(info.frames, ==, 2);
			g_assert_cmpuint(info.duration_ms, ==, 40);
			g_assert_cmpuint(info.data_length, ==, 2 * sizes[t]);
			g_assert_true(info.truncated);
		}
	}
}

static void test_amr_nb_frame_types(void)
{
	check_amr_frame_types(false);
}

static void test_amr_wb_frame_types(void)
{
	check_amr_frame_types(true);
}

static void test_amr_counting(void)
{
	/* Speech at every rate, SID, NO_DATA: 250 frames, 5 s. */
	uint8_t nb[250], wb[250];
	size_t nb_bytes = 0, wb_bytes = 0;
	struct media_info info;

	for (int i = 0; i < 250; i++) {
		nb[i] = (uint8_t)(i % 9 == 8 ? 15 : i % 9);
		wb[i] = (uint8_t)(i % 11 == 10 ? 15 : i % 10);
		nb_bytes += amr_nb_size[nb[i]];
		wb_bytes += amr_wb_size[wb[i]];
	}
	g_autoptr(GByteArray) a = amr_file(false, nb, 250);
	probe_ok(a, &info);
	g_assert_cmpuint(info.frames, ==, 250);
	g_assert_cmpuint(info.duration_ms, ==, 5000);
	g_assert_cmpuint(info.data_length, ==, nb_bytes);
	g_assert_false(info.truncated);

	g_autoptr(GByteArray) w = amr_file(true, wb, 250);
	probe_ok(w, &info);
	g_assert_cmpuint(info.frames, ==, 250);
	g_assert_cmpuint(info.duration_ms, ==, 5000);
	g_assert_cmpuint(info.data_length, ==, wb_bytes);

	/* The magic alone: a valid file of no frames. */
	g_autoptr(GByteArray) empty = amr_file(false, NULL, 0);
	probe_ok(empty, &info);
	g_assert_cmpuint(info.frames, ==, 0);
	g_assert_cmpuint(info.data_length, ==, 0);
	g_assert_false(info.truncated);
}

static void test_amr_bad_toc(void)
{
	static const uint8_t bits[] = { 0x80, 0x01, 0x02 };
	uint8_t types[4] = { 7, 7, 7, 7 };

	for (size_t i = 0; i < G_N_ELEMENTS(bits); i++) {
		for (int wideband = 0; wideband < 2; wideband++) {
			g_autoptr(GByteArray) b = amr_file(wideband, types, 4);
			size_t second = (wideband ? 9 : 6) +
				(wideband ? amr_wb_size : amr_nb_size)[7];

			b->data[second] |= bits[i];
			probe_fails(b, "bad AMR frame header");
		}
	}
}

/* ---- WAV ---- */

static void test_wav_codes(void)
{
	static const struct {
		uint16_t format, channels, bits, block;
		uint32_t rate;
		size_t data;
		enum media_codec codec;
		uint64_t frames, duration_ms;
	} cases[] = {
		{ 1, 1, 16, 2, 8000, 16000, MEDIA_CODEC_PCM, 8000, 1000 },
		{ 1, 2, 16, 4, 16000, 16000, MEDIA_CODEC_PCM, 4000, 250 },
		{ 1, 1, 8, 1, 8000, 4000, MEDIA_CODEC_PCM, 4000, 500 },
		{ 6, 1, 8, 1, 8000, 8000, MEDIA_CODEC_ALAW, 8000, 1000 },
		{ 7, 1, 8, 1, 8000, 2001, MEDIA_CODEC_ULAW, 2001, 250 },
		{ 7, 2, 8, 2, 8000, 3200, MEDIA_CODEC_ULAW, 1600, 200 },
		{ 0x31, 1, 0, 65, 8000, 65 * 50, MEDIA_CODEC_GSM_MS, 50, 2000 },
		/* A codec we have no decoder for: a WAV all the same. */
		{ 0x55, 1, 0, 1, 8000, 1000, MEDIA_CODEC_UNKNOWN, 1000, 125 },
		{ 1, 1, 24, 3, 8000, 2400, MEDIA_CODEC_UNKNOWN, 800, 100 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) b = wav_file(
			cases[i].format, cases[i].channels, cases[i].rate,
			cases[i].block, cases[i].bits, cases[i].data, G_MAXSIZE);
		struct media_info info;

		probe_ok(b, &info);
		g_assert_cmpint(info.container, ==, MEDIA_CONTAINER_WAV);
		g_assert_cmpint(info.codec, ==, cases[i].codec);
		g_assert_cmpuint(info.wav_format, ==, cases[i].format);
		g_assert_cmpuint(info.channels, ==, cases[i].channels);
		g_assert_cmpuint(info.rate, ==, cases[i].rate);
		g_assert_cmpuint(info.bits, ==, cases[i].bits);
		g_assert_cmpuint(info.frames, ==, cases[i].frames);
		g_assert_cmpuint(info.duration_ms, ==, cases[i].duration_ms);
		g_assert_cmpuint(info.data_length, ==, cases[i].data);
		g_assert_cmpuint(info.data_offset, ==,
				 cases[i].format == 1 ? 44 : 46);
		g_assert_false(info.truncated);
	}
}

static void test_wav_extensible(void)
{
	static const struct {
		uint16_t sub, bits, block;
		enum media_codec codec;
	} cases[] = {
		{ 1, 16, 2, MEDIA_CODEC_PCM },
		{ 6, 8, 1, MEDIA_CODEC_ALAW },
		{ 7, 8, 1, MEDIA_CODEC_ULAW },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		/* 16 bytes, cbSize 22, valid bits, channel mask, the
		 * sub-format GUID (its first two bytes the format code). */
		static const uint8_t tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10,
			0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };
		GByteArray *f = wav_fmt_body(0xfffe, 1, 8000, cases[i].block,
					     cases[i].bits);
		GByteArray *c = g_byte_array_new();
		g_autoptr(GByteArray) data = g_byte_array_new();
		struct media_info info;
		uint32_t seed = 1;

		put_le16(f, 22);
		put_le16(f, cases[i].bits);
		put_le32(f, 4);
		put_le16(f, cases[i].sub);
		put(f, tail, sizeof(tail));
		g_assert_cmpuint(f->len, ==, 40);
		put_chunk(c, "fmt ", f->data, f->len, G_MAXSIZE);
		put_noise(data, 800, &seed);
		put_chunk(c, "data", data->data, data->len, G_MAXSIZE);
		g_byte_array_unref(f);
		g_autoptr(GByteArray) b = riff("WAVE", c);

		probe_ok(b, &info);
		g_assert_cmpuint(info.wav_format, ==, cases[i].sub);
		g_assert_cmpint(info.codec, ==, cases[i].codec);
		g_assert_cmpuint(info.frames, ==, 800 / cases[i].block);
	}

	/* Too short to hold the sub-format: a format we do not know. */
	g_autoptr(GByteArray) s = wav_file(0xfffe, 1, 8000, 2, 16, 800,
					   G_MAXSIZE);
	struct media_info info;

	probe_ok(s, &info);
	g_assert_cmpuint(info.wav_format, ==, 0xfffe);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_UNKNOWN);
}

/* Chunks of odd length come with a pad byte, which is no part of them. */
static void test_wav_odd_chunks(void)
{
	GByteArray *c = g_byte_array_new();
	GByteArray *f = wav_fmt_body(6, 1, 8000, 1, 8);
	struct media_info info;
	static const uint8_t data[7] = { 1, 2, 3, 4, 5, 6, 7 };

	put_chunk(c, "LIST", "abc", 3, G_MAXSIZE);
	put_chunk(c, "fmt ", f->data, f->len, G_MAXSIZE);
	put_chunk(c, "junk", "x", 1, G_MAXSIZE);
	put_chunk(c, "data", data, sizeof(data), G_MAXSIZE);
	put_chunk(c, "LIST", "tail", 4, G_MAXSIZE);
	g_byte_array_unref(f);
	g_autoptr(GByteArray) b = riff("WAVE", c);

	probe_ok(b, &info);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_ALAW);
	g_assert_cmpuint(info.data_length, ==, 7);
	g_assert_cmpmem(b->data + info.data_offset, 7, data, 7);
	g_assert_cmpuint(info.frames, ==, 7);
	g_assert_false(info.truncated);

	/* Odd data chunk last, its pad byte missing: nothing is cut. */
	g_byte_array_set_size(b, (guint)(info.data_offset + 7));
	probe_ok(b, &info);
	g_assert_cmpuint(info.data_length, ==, 7);
	g_assert_false(info.truncated);

	/* A second fmt chunk does not replace the first. */
	GByteArray *c2 = g_byte_array_new();
	GByteArray *f6 = wav_fmt_body(6, 1, 8000, 1, 8);
	GByteArray *f1 = wav_fmt_body(1, 1, 8000, 2, 16);

	put_chunk(c2, "fmt ", f6->data, f6->len, G_MAXSIZE);
	put_chunk(c2, "fmt ", f1->data, f1->len, G_MAXSIZE);
	put_chunk(c2, "data", data, sizeof(data), G_MAXSIZE);
	g_byte_array_unref(f6);
	g_byte_array_unref(f1);
	g_autoptr(GByteArray) b2 = riff("WAVE", c2);
	probe_ok(b2, &info);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_ALAW);
}

static void test_wav_truncated(void)
{
	struct media_info info;

	/* The data chunk claims more than the file has. */
	g_autoptr(GByteArray) a = wav_file(1, 1, 8000, 2, 16, 1000, 1000000);
	probe_ok(a, &info);
	g_assert_true(info.truncated);
	g_assert_cmpuint(info.data_length, ==, 1000);
	g_assert_cmpuint(info.frames, ==, 500);

	/* 4 GB claimed. */
	g_autoptr(GByteArray) b = wav_file(6, 1, 8000, 1, 8, 1000, 0xffffffff);
	probe_ok(b, &info);
	g_assert_true(info.truncated);
	g_assert_cmpuint(info.data_length, ==, 1000);

	/* Cut inside a sample: the whole ones count. */
	g_autoptr(GByteArray) c = wav_file(1, 2, 8000, 4, 16, 1002, 1008);
	probe_ok(c, &info);
	g_assert_true(info.truncated);
	g_assert_cmpuint(info.frames, ==, 250);
	g_assert_cmpuint(info.data_length, ==, 1000);

	/* A data chunk that is no multiple of the block, all there: the
	 * whole blocks count, and the rest is padding (sox pads wav49 data
	 * to an even length), not a cut. */
	g_autoptr(GByteArray) d = wav_file(0x31, 1, 8000, 65, 0, 65 * 3 + 10,
					   G_MAXSIZE);
	probe_ok(d, &info);
	g_assert_false(info.truncated);
	g_assert_cmpuint(info.frames, ==, 3);
	g_assert_cmpuint(info.data_length, ==, 195);
	g_assert_cmpuint(info.duration_ms, ==, 120);
}

static void test_wav_refusals(void)
{
	/* fmt too short. */
	{
		GByteArray *c = g_byte_array_new();

		put_chunk(c, "fmt ", "\x01\x00\x01\x00\x40\x1f\x00\x00", 8,
			  G_MAXSIZE);
		put_chunk(c, "data", "\0\0", 2, G_MAXSIZE);
		g_autoptr(GByteArray) b = riff("WAVE", c);
		probe_fails(b, "WAV fmt chunk too short");
	}
	/* Zero channels, rate, block. */
	{
		g_autoptr(GByteArray) a = wav_file(1, 0, 8000, 2, 16, 10, G_MAXSIZE);
		g_autoptr(GByteArray) b = wav_file(1, 1, 0, 2, 16, 10, G_MAXSIZE);
		g_autoptr(GByteArray) c = wav_file(1, 1, 8000, 0, 16, 10, G_MAXSIZE);

		probe_fails(a, "WAV fmt chunk with zero channels, rate or block size");
		probe_fails(b, "WAV fmt chunk with zero channels, rate or block size");
		probe_fails(c, "WAV fmt chunk with zero channels, rate or block size");
	}
	/* wav49 blocks are 65 bytes, mono. */
	{
		g_autoptr(GByteArray) a = wav_file(0x31, 1, 8000, 64, 0, 640, G_MAXSIZE);
		g_autoptr(GByteArray) b = wav_file(0x31, 2, 8000, 65, 0, 650, G_MAXSIZE);

		probe_fails(a, "WAV GSM with a block size other than 65");
		probe_fails(b, "WAV GSM with a block size other than 65");
	}
	/* Block sizes that are not the sample size. */
	{
		g_autoptr(GByteArray) a = wav_file(1, 1, 8000, 1, 16, 10, G_MAXSIZE);
		g_autoptr(GByteArray) b = wav_file(6, 2, 8000, 1, 8, 10, G_MAXSIZE);
		g_autoptr(GByteArray) c = wav_file(7, 1, 8000, 4, 8, 10, G_MAXSIZE);

		probe_fails(a, "WAV block size does not match its samples");
		probe_fails(b, "WAV block size does not match its samples");
		probe_fails(c, "WAV block size does not match its samples");
	}
	/* Missing chunks, data first. */
	{
		GByteArray *c = g_byte_array_new();
		GByteArray *f = wav_fmt_body(1, 1, 8000, 2, 16);

		put_chunk(c, "fmt ", f->data, f->len, G_MAXSIZE);
		g_autoptr(GByteArray) nodata = riff("WAVE", c);
		probe_fails(nodata, "WAV without data chunk");

		c = g_byte_array_new();
		put_chunk(c, "data", "\0\0", 2, G_MAXSIZE);
		put_chunk(c, "fmt ", f->data, f->len, G_MAXSIZE);
		g_autoptr(GByteArray) first = riff("WAVE", c);
		probe_fails(first, "WAV data before its fmt chunk");

		c = g_byte_array_new();
		put_chunk(c, "LIST", "abcd", 4, G_MAXSIZE);
		g_autoptr(GByteArray) nofmt = riff("WAVE", c);
		probe_fails(nofmt, "WAV without fmt chunk");

		g_autoptr(GByteArray) bare = riff("WAVE", g_byte_array_new());
		probe_fails(bare, "WAV without fmt chunk");
		g_byte_array_unref(f);
	}
	/* RIFF of another form. */
	{
		g_autoptr(GByteArray) b = riff("AVI ", g_byte_array_new());
		probe_fails(b, "RIFF file that is neither WAVE nor QLCM");
	}
}

/* ---- raw GSM ---- */

static GByteArray *gsm_file(size_t frames, size_t extra)
{
	GByteArray *b = g_byte_array_new();
	uint32_t seed = 610;

	for (size_t i = 0; i < frames; i++) {
		put_u8(b, (uint8_t)(0xd0 | (i & 0x0f)));
		put_noise(b, 32, &seed);
	}
	put_fill(b, 0xd5, extra);
	return b;
}

static void test_gsm(void)
{
	struct media_info info;

	g_autoptr(GByteArray) a = gsm_file(50, 0);
	probe_ok(a, &info);
	g_assert_cmpint(info.container, ==, MEDIA_CONTAINER_GSM);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_GSM);
	g_assert_cmpuint(info.frames, ==, 50);
	g_assert_cmpuint(info.duration_ms, ==, 1000);
	g_assert_cmpuint(info.data_offset, ==, 0);
	g_assert_cmpuint(info.data_length, ==, 1650);
	g_assert_false(info.truncated);

	/* A cut frame at the end. */
	g_autoptr(GByteArray) b = gsm_file(50, 20);
	probe_ok(b, &info);
	g_assert_cmpuint(info.frames, ==, 50);
	g_assert_cmpuint(info.data_length, ==, 1650);
	g_assert_true(info.truncated);

	/* One frame is the least. */
	g_autoptr(GByteArray) c = gsm_file(1, 0);
	probe_ok(c, &info);
	g_assert_cmpuint(info.frames, ==, 1);

	/* Not GSM: a frame without the 0xD signature; too short. */
	g_autoptr(GByteArray) d = gsm_file(50, 0);
	d->data[33 * 37] = 0xc0;
	probe_fails(d, "no audio format recognized");
	g_autoptr(GByteArray) e = gsm_file(1, 0);
	g_byte_array_set_size(e, 32);
	probe_fails(e, "no audio format recognized");
}

/* ---- QCP ---- */

static void test_qcp_variable(void)
{
	/* QCELP: blank, eighth, quarter, half, full; EVRC has no quarter. */
	static const uint8_t qr[5] = { 0, 1, 2, 3, 4 };
	static const size_t qs[5] = { 1, 4, 8, 17, 35 };
	static const uint8_t er[4] = { 0, 1, 3, 4 };
	static const size_t es[4] = { 1, 3, 11, 23 };
	uint8_t rates[100];
	size_t sizes[100], total = 0;
	struct media_info info;

	for (int i = 0; i < 100; i++) {
		rates[i] = qr[i % 5];
		sizes[i] = qs[i % 5];
		total += sizes[i];
	}
	struct qcp_spec q = { .guid = guid_qcelp, .vrat = true, .var_rate = 1,
			      .packet_size = 35, .rate = 8000, .packets = rates,
			      .sizes = sizes, .n = 100, .declared = G_MAXSIZE };
	g_autoptr(GByteArray) a = qcp_file(&q);
	probe_ok(a, &info);
	g_assert_cmpint(info.container, ==, MEDIA_CONTAINER_QCP);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_QCELP);
	g_assert_cmpuint(info.frames, ==, 100);
	g_assert_cmpuint(info.duration_ms, ==, 2000);
	g_assert_cmpuint(info.data_length, ==, total);
	g_assert_cmpuint(info.packet_size, ==, 0);
	g_assert_cmpuint(info.rate, ==, 8000);
	g_assert_false(info.truncated);

	/* Each packet as long as its rate byte says. */
	{
		struct media_frames it;
		const uint8_t *frame;
		size_t length;
		int i = 0;

		media_frames_init(&it, a->data, &info);
		while (media_frames_next(&it, &frame, &length)) {
			g_assert_cmpuint(frame[0], ==, rates[i]);
			g_assert_cmpuint(length, ==, sizes[i]);
			i++;
		}
		g_assert_cmpint(i, ==, 100);
	}

	/* The other QCELP GUID. */
	q.guid = guid_qcelp_b;
	g_autoptr(GByteArray) b = qcp_file(&q);
	probe_ok(b, &info);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_QCELP);

	/* The last packet cut. */
	g_byte_array_set_size(b, b->len - (total & 1) - 2);
	probe_ok(b, &info);
	g_assert_cmpuint(info.frames, ==, 99);
	g_assert_true(info.truncated);

	total = 0;
	for (int i = 0; i < 100; i++) {
		rates[i] = er[i % 4];
		sizes[i] = es[i % 4];
		total += sizes[i];
	}
	struct qcp_spec e = { .guid = guid_evrc, .vrat = true, .var_rate = 1,
			      .packet_size = 23, .rate = 0, .packets = rates,
			      .sizes = sizes, .n = 100, .declared = G_MAXSIZE };
	g_autoptr(GByteArray) c = qcp_file(&e);
	probe_ok(c, &info);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_EVRC);
	g_assert_cmpuint(info.frames, ==, 100);
	g_assert_cmpuint(info.data_length, ==, total);
	/* A rate of 0 in fmt means 8000. */
	g_assert_cmpuint(info.rate, ==, 8000);

	/* EVRC quarter rate (2), erasure (14): no such packet. */
	rates[50] = 2;
	g_autoptr(GByteArray) d = qcp_file(&e);
	probe_fails(d, "bad QCP packet rate");
	rates[50] = 14;
	g_autoptr(GByteArray) f = qcp_file(&e);
	probe_fails(f, "bad QCP packet rate");
}

static void test_qcp_fixed(void)
{
	uint8_t rates[60];
	size_t sizes[60];
	struct media_info info;

	memset(rates, 4, sizeof(rates));
	for (int i = 0; i < 60; i++)
		sizes[i] = 35;
	/* No vrat chunk: fixed rate, packets of fmt's packet size. */
	struct qcp_spec q = { .guid = guid_qcelp, .packet_size = 35,
			      .rate = 8000, .packets = rates, .sizes = sizes,
			      .n = 60, .declared = G_MAXSIZE };
	g_autoptr(GByteArray) a = qcp_file(&q);
	probe_ok(a, &info);
	g_assert_cmpuint(info.packet_size, ==, 35);
	g_assert_cmpuint(info.frames, ==, 60);
	g_assert_cmpuint(info.duration_ms, ==, 1200);
	g_assert_cmpuint(info.data_length, ==, 60 * 35);

	/* A vrat chunk whose flag is 0 says the same; the rate bytes do
	 * not matter then. */
	q.vrat = true;
	q.var_rate = 0;
	rates[10] = 0;
	g_autoptr(GByteArray) b = qcp_file(&q);
	probe_ok(b, &info);
	g_assert_cmpuint(info.frames, ==, 60);

	/* Data longer than declared... shorter than declared: truncated. */
	q.declared = 60 * 35 + 100;
	g_autoptr(GByteArray) c = qcp_file(&q);
	probe_ok(c, &info);
	g_assert_true(info.truncated);
	g_assert_cmpuint(info.frames, ==, 60);

	/* Packet size 0 at fixed rate. */
	q.declared = G_MAXSIZE;
	q.packet_size = 0;
	g_autoptr(GByteArray) d = qcp_file(&q);
	probe_fails(d, "QCP fixed rate with packet size 0");

	/* ... which a variable rate file may have. */
	q.var_rate = 1;
	memset(rates, 4, sizeof(rates));
	g_autoptr(GByteArray) e = qcp_file(&q);
	probe_ok(e, &info);
	g_assert_cmpuint(info.frames, ==, 60);
}

static void test_qcp_refusals(void)
{
	static const uint8_t unknown[16] = { 1, 2, 3 };
	uint8_t rates[4] = { 4, 4, 4, 4 };
	size_t sizes[4] = { 35, 35, 35, 35 };
	struct qcp_spec q = { .guid = unknown, .packet_size = 35, .rate = 8000,
			      .packets = rates, .sizes = sizes, .n = 4,
			      .declared = G_MAXSIZE };

	g_autoptr(GByteArray) a = qcp_file(&q);
	probe_fails(a, "QCP codec is neither QCELP nor EVRC");
	q.guid = guid_qcelp;
	q.fmt_len = 109;
	g_autoptr(GByteArray) b = qcp_file(&q);
	probe_fails(b, "QCP fmt chunk too short");

	GByteArray *c = g_byte_array_new();
	put_chunk(c, "data", "\4", 1, G_MAXSIZE);
	g_autoptr(GByteArray) first = riff("QLCM", c);
	probe_fails(first, "QCP data before its fmt chunk");

	g_autoptr(GByteArray) bare = riff("QLCM", g_byte_array_new());
	probe_fails(bare, "QCP without fmt chunk");

	/* fmt, no data. */
	q.fmt_len = 0;
	g_autoptr(GByteArray) full = qcp_file(&q);
	size_t fmt_end = 12 + 8 + 150;
	g_byte_array_set_size(full, (guint)fmt_end);
	probe_fails(full, "QCP without data chunk");
}

/* ---- 3GP ---- */

static void test_3gp(void)
{
	struct media_info info;

	/* mdhd version 0: 8000 Hz timescale, 3 s. */
	g_autoptr(GByteArray) a = mp4_file(trak("soun", "samr", 8000,
						mdhd(0, 8000, 24000)));
	probe_ok(a, &info);
	g_assert_cmpint(info.container, ==, MEDIA_CONTAINER_3GP);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_AMR_NB);
	g_assert_cmpuint(info.rate, ==, 8000);
	g_assert_cmpuint(info.channels, ==, 1);
	g_assert_cmpuint(info.duration_ms, ==, 3000);
	g_assert_cmpuint(info.frames, ==, 150);
	g_assert_cmpuint(info.data_length, ==, 0);

	/* Version 1, 64-bit duration past 2^32 ticks: 2^32 + 16000 ticks
	 * at 1 MHz. */
	g_autoptr(GByteArray) b = mp4_file(trak("soun", "sawb", 16000,
						mdhd(1, 1000000, 4294983296ull)));
	probe_ok(b, &info);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_AMR_WB);
	g_assert_cmpuint(info.rate, ==, 16000);
	g_assert_cmpuint(info.duration_ms, ==, 4294983);

	/* A video track first, then the sound; QCELP and EVRC entries. */
	static const struct {
		const char *entry;
		enum media_codec codec;
	} entries[] = {
		{ "sqcp", MEDIA_CODEC_QCELP },
		{ "sevc", MEDIA_CODEC_EVRC },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(entries); i++) {
		GByteArray *traks = cat(trak("vide", "s263", 0, mdhd(0, 90000, 90000)),
					trak("soun", entries[i].entry, 8000,
					     mdhd(0, 1000, 2500)));
		g_autoptr(GByteArray) c = mp4_file(traks);

		probe_ok(c, &info);
		g_assert_cmpint(info.codec, ==, entries[i].codec);
		g_assert_cmpuint(info.duration_ms, ==, 2500);
		g_assert_cmpuint(info.frames, ==, 125);
	}

	/* The first sound track we know wins. */
	g_autoptr(GByteArray) d = mp4_file(cat(
		trak("soun", "mp4a", 44100, mdhd(0, 44100, 44100)),
		trak("soun", "samr", 8000, mdhd(0, 8000, 16000))));
	probe_ok(d, &info);
	g_assert_cmpint(info.codec, ==, MEDIA_CODEC_AMR_NB);
	g_assert_cmpuint(info.duration_ms, ==, 2000);

	/* No rate in a short sample entry: the codec's. */
	{
		GByteArray *s = g_byte_array_new();

		put_be32(s, 0);
		put_be32(s, 1);
		put_be32(s, 16);
		put_str(s, "sawb");
		GByteArray *mdia = cat(cat(mdhd(0, 16000, 16000), hdlr("soun")),
				       box_of("minf", box_of("stbl",
							     box_of("stsd", s))));
		g_autoptr(GByteArray) e = mp4_file(box_of("trak",
							  box_of("mdia", mdia)));
		probe_ok(e, &info);
		g_assert_cmpuint(info.rate, ==, 16000);
	}
}

static void test_3gp_boxes(void)
{
	struct media_info info;

	/* A 64-bit box size (size 1) and a last box running to the end
	 * (size 0). */
	{
		GByteArray *moov = box_of("moov", trak("soun", "samr", 8000,
						       mdhd(0, 8000, 8000)));
		g_autoptr(GByteArray) f = ftyp();

		put_be32(f, 1);
		put(f, moov->data + 4, 4);
		put_be64(f, 16 + moov->len - 8);
		put(f, moov->data + 8, moov->len - 8);
		put_be32(f, 0);
		put_str(f, "mdat");
		put_fill(f, 0, 100);
		g_byte_array_unref(moov);
		probe_ok(f, &info);
		g_assert_cmpint(info.codec, ==, MEDIA_CODEC_AMR_NB);
		g_assert_cmpuint(info.duration_ms, ==, 1000);
	}
	/* Damaged: a box larger than its parent; a 64-bit size cut; a
	 * size smaller than the header. */
	{
		g_autoptr(GByteArray) a = mp4_file(trak("soun", "samr", 8000,
							mdhd(0, 8000, 8000)));
		a->data[a->len - 72 + 3] += 1;   /* mdat's size */
		probe_fails(a, "damaged 3GP box structure");

		g_autoptr(GByteArray) b = ftyp();
		put_be32(b, 1);
		put_str(b, "mdat");
		put_be32(b, 0);
		probe_fails(b, "damaged 3GP box structure");

		g_autoptr(GByteArray) c = ftyp();
		put_be32(c, 4);
		put_str(c, "free");
		probe_fails(c, "damaged 3GP box structure");
	}
	/* Nesting deeper than anyone needs. */
	{
		GByteArray *inner = trak("soun", "samr", 8000, mdhd(0, 8000, 8000));

		for (int i = 0; i < 10; i++)
			inner = box_of("moov", inner);
		g_autoptr(GByteArray) f = cat(ftyp(), inner);
		probe_fails(f, "damaged 3GP box structure");
	}
	/* No sound track we decode. */
	{
		g_autoptr(GByteArray) a = mp4_file(trak("vide", "samr", 8000,
							mdhd(0, 8000, 8000)));
		g_autoptr(GByteArray) b = mp4_file(trak("soun", "mp4a", 8000,
							mdhd(0, 8000, 8000)));
		g_autoptr(GByteArray) c = ftyp();

		probe_fails(a, "3GP without an AMR, QCELP or EVRC track");
		probe_fails(b, "3GP without an AMR, QCELP or EVRC track");
		probe_fails(c, "3GP without an AMR, QCELP or EVRC track");
	}
	/* Timescale 0: no duration, no frames (the worker then refuses:
	 * no audio). */
	{
		g_autoptr(GByteArray) a = mp4_file(trak("soun", "samr", 8000,
							mdhd(0, 0, 8000)));
		probe_ok(a, &info);
		g_assert_cmpuint(info.duration_ms, ==, 0);
		g_assert_cmpuint(info.frames, ==, 0);
	}
}

/* mdhd v1 has a 64-bit duration: converting it to milliseconds must not
 * wrap (2^64 / 1000 rounded up would wrap to 384 ms and slip past the
 * duration budget), and must keep the fraction of a second. */
static void test_3gp_duration_overflow(void)
{
	struct media_info info;
	/* 584 million years at timescale 1: saturates. */
	g_autoptr(GByteArray) huge = mp4_file(trak("soun", "samr", 8000,
						   mdhd(1, 1, 18446744073709552ull)));
	/* 3600.5 s at timescale 8000, through the v1 box. */
	g_autoptr(GByteArray) hour = mp4_file(trak("soun", "samr", 8000,
						   mdhd(1, 8000, 28804000ull)));

	probe_ok(huge, &info);
	g_assert_cmpuint(info.duration_ms, ==, UINT64_MAX);
	probe_ok(hour, &info);
	g_assert_cmpuint(info.duration_ms, ==, 3600500);
}

/* ---- every reason, from the top ---- */

static void test_reasons(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *reason;
	} cases[] = {
		{ "", 0, "empty" },
		{ "x", 1, "no audio format recognized" },
		{ "RIFF", 4, "no audio format recognized" },
		{ "#!AMR", 5, "multichannel or unknown AMR variant" },
		{ "#!AMR-WB", 8, "multichannel or unknown AMR variant" },
		{ "#!AMR-XX\n", 9, "multichannel or unknown AMR variant" },
		{ "#!AMR_MC1.0\n\0\0\0\1", 16, "multichannel or unknown AMR variant" },
		{ "#!amr\n", 6, "no audio format recognized" },
		{ "RIFX\0\0\0\0WAVE", 12, "no audio format recognized" },
		{ "RIFF\0\0\0\0WAVX", 12, "RIFF file that is neither WAVE nor QLCM" },
		{ "RIFF\4\0\0\0WAVE", 12, "WAV without fmt chunk" },
		{ "RIFF\4\0\0\0QLCM", 12, "QCP without fmt chunk" },
		{ "\0\0\0\x08" "ftyp", 8, "3GP without an AMR, QCELP or EVRC track" },
		{ "\0\0\0\x09" "ftyp", 8, "damaged 3GP box structure" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct media_info info;
		const char *reason;

		g_test_message("case %zu", i);
		g_assert_cmpint(probe(cases[i].bytes, cases[i].len, &info,
				      &reason), ==, -EINVAL);
		g_assert_cmpstr(reason, ==, cases[i].reason);
	}
	/* The AMR magic with nothing after it is a file of no frames. */
	{
		struct media_info info;
		const char *reason;

		g_assert_cmpint(probe("#!AMR\n", 6, &info, &reason), ==, 0);
		g_assert_cmpint(probe("#!AMR-WB\n", 9, &info, &reason), ==, 0);
		g_assert_cmpint(info.container, ==, MEDIA_CONTAINER_AMR_WB);
	}
}

/* Each built file with bytes overwritten, a few hundred times: whatever
 * the probe says, it reads nothing past the end, and what it accepts
 * keeps its promises (check_accepted). */
static void test_mutations(void)
{
	uint8_t types[40];
	uint8_t rates[40];
	size_t sizes[40];
	GPtrArray *files = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_byte_array_unref);
	g_autoptr(GRand) rand = g_rand_new_with_seed(4867);

	for (int i = 0; i < 40; i++) {
		types[i] = (uint8_t)(i % 16);
		rates[i] = (uint8_t)(i % 5);
		sizes[i] = (size_t[]){ 1, 4, 8, 17, 35 }[i % 5];
	}
	struct qcp_spec q = { .guid = guid_qcelp, .vrat = true, .var_rate = 1,
			      .packet_size = 35, .rate = 8000, .packets = rates,
			      .sizes = sizes, .n = 40, .declared = G_MAXSIZE };
	g_ptr_array_add(files, amr_file(false, types, 40));
	g_ptr_array_add(files, amr_file(true, types, 40));
	g_ptr_array_add(files, wav_file(1, 1, 8000, 2, 16, 400, G_MAXSIZE));
	g_ptr_array_add(files, wav_file(0x31, 1, 8000, 65, 0, 650, G_MAXSIZE));
	g_ptr_array_add(files, gsm_file(20, 0));
	g_ptr_array_add(files, qcp_file(&q));
	g_ptr_array_add(files, mp4_file(cat(
		trak("vide", "s263", 0, mdhd(0, 90000, 90000)),
		trak("soun", "samr", 8000, mdhd(1, 8000, 80000)))));

	for (guint f = 0; f < files->len; f++) {
		GByteArray *orig = g_ptr_array_index(files, f);

		for (int round = 0; round < 100; round++) {
			g_autoptr(GByteArray) b = g_byte_array_new();
			int changes = g_rand_int_range(rand, 1, 5);
			struct media_info info;
			const char *reason;

			put(b, orig->data, orig->len);
			for (int c = 0; c < changes; c++) {
				guint at = (guint)g_rand_int_range(rand, 0, (gint32)b->len);

				b->data[at] = (uint8_t)g_rand_int_range(rand, 0, 256);
			}
			if (probe(b->data, b->len, &info, &reason) < 0)
				g_assert_nonnull(reason);
		}
	}
	g_ptr_array_unref(files);
}

/* ---- frames ---- */

static void test_frames(void)
{
	struct media_info info;
	struct media_frames it;
	const uint8_t *frame;
	size_t length;
	int n;

	/* raw GSM: 33-byte frames from the first byte. */
	g_autoptr(GByteArray) g = gsm_file(5, 7);
	probe_ok(g, &info);
	media_frames_init(&it, g->data, &info);
	for (n = 0; media_frames_next(&it, &frame, &length); n++) {
		g_assert_true(frame == g->data + 33 * n);
		g_assert_cmpuint(length, ==, 33);
	}
	g_assert_cmpint(n, ==, 5);

	/* wav49: 65-byte blocks. */
	g_autoptr(GByteArray) w = wav_file(0x31, 1, 8000, 65, 0, 65 * 4, G_MAXSIZE);
	probe_ok(w, &info);
	media_frames_init(&it, w->data, &info);
	for (n = 0; media_frames_next(&it, &frame, &length); n++)
		g_assert_cmpuint(length, ==, 65);
	g_assert_cmpint(n, ==, 4);

	/* PCM and G.711: the data chunk in one piece. */
	g_autoptr(GByteArray) p = wav_file(7, 1, 8000, 1, 8, 333, G_MAXSIZE);
	probe_ok(p, &info);
	media_frames_init(&it, p->data, &info);
	g_assert_true(media_frames_next(&it, &frame, &length));
	g_assert_true(frame == p->data + info.data_offset);
	g_assert_cmpuint(length, ==, 333);
	g_assert_false(media_frames_next(&it, &frame, &length));
	g_assert_false(media_frames_next(&it, &frame, &length));

	/* An empty data chunk: nothing. */
	g_autoptr(GByteArray) e = wav_file(1, 1, 8000, 2, 16, 0, G_MAXSIZE);
	probe_ok(e, &info);
	g_assert_cmpuint(info.frames, ==, 0);
	media_frames_init(&it, e->data, &info);
	g_assert_false(media_frames_next(&it, &frame, &length));

	/* 3GP: the demuxer's business. */
	g_autoptr(GByteArray) m = mp4_file(trak("soun", "samr", 8000,
						mdhd(0, 8000, 8000)));
	probe_ok(m, &info);
	media_frames_init(&it, m->data, &info);
	g_assert_false(media_frames_next(&it, &frame, &length));

	/* A truncated AMR stops at its last whole frame. */
	uint8_t types[3] = { 7, 2, 7 };
	g_autoptr(GByteArray) a = amr_file(false, types, 3);
	g_byte_array_set_size(a, a->len - 5);
	probe_ok(a, &info);
	media_frames_init(&it, a->data, &info);
	g_assert_true(media_frames_next(&it, &frame, &length));
	g_assert_cmpuint(length, ==, 32);
	g_assert_true(media_frames_next(&it, &frame, &length));
	g_assert_cmpuint(length, ==, 16);
	g_assert_false(media_frames_next(&it, &frame, &length));
}

/* ---- MIME types ---- */

static void test_target_parse(void)
{
	static const struct {
		const char *mime;
		enum media_target target;
	} ok[] = {
		{ "audio/amr", MEDIA_TARGET_AMR },
		{ "audio/AMR", MEDIA_TARGET_AMR },
		{ "audio/amr; octet-align=1", MEDIA_TARGET_AMR },
		{ "audio/amr-wb", MEDIA_TARGET_AMR_WB },
		{ "audio/AMR-WB", MEDIA_TARGET_AMR_WB },
		{ "audio/wav; codec=g711a", MEDIA_TARGET_WAV_ALAW },
		{ "audio/wav;codec=g711a", MEDIA_TARGET_WAV_ALAW },
		{ "audio/wav; codec=\"g711a\"", MEDIA_TARGET_WAV_ALAW },
		{ "audio/wav; codec=g711u", MEDIA_TARGET_WAV_ULAW },
		{ "audio/wav; codec=\"g711u\"", MEDIA_TARGET_WAV_ULAW },
		{ "audio/wav; codec=\u201cg711a\u201d", MEDIA_TARGET_WAV_ALAW },
		{ "audio/wav; codec=\u201cg711u\u201d", MEDIA_TARGET_WAV_ULAW },
		{ "AUDIO/WAV; CODEC=G711A", MEDIA_TARGET_WAV_ALAW },
		{ " audio/wav ; codec = g711u ", MEDIA_TARGET_WAV_ULAW },
		{ "audio/wav; rate=8000; codec=g711u", MEDIA_TARGET_WAV_ULAW },
		{ "audio/x-wav; codec=g711a", MEDIA_TARGET_WAV_ALAW },
		{ "audio/x-wav", MEDIA_TARGET_WAV_PCM },
		{ "audio/wav", MEDIA_TARGET_WAV_PCM },
		{ "audio/wave", MEDIA_TARGET_WAV_PCM },
		{ "audio/wav; codec=pcm", MEDIA_TARGET_WAV_PCM },
		{ "audio/wav;", MEDIA_TARGET_WAV_PCM },
	};
	static const char *const refused[] = {
		"audio/qcelp", "audio/evrc", "audio/3gpp", "video/3gpp",
		"audio/wav; codec=mp3", "audio/wav; codec=", "audio/wav; codec=\"\"",
		"audio/amr; codec=g711a", "audio/mpeg", "audio", "audio/wavx",
		"text/plain", "", "audio/amr-wb+",
	};
	enum media_target t;

	for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
		t = MEDIA_TARGET_COUNT;
		g_test_message("%s", ok[i].mime);
		g_assert_true(media_target_parse(ok[i].mime, &t));
		g_assert_cmpint(t, ==, ok[i].target);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
		g_test_message("%s", refused[i]);
		g_assert_false(media_target_parse(refused[i], &t));
	}
}

static void test_target_names(void)
{
	static const char *const tokens[] = { "amr", "amr-wb", "wav-g711a",
					      "wav-g711u", "wav" };
	static const char *const mimes[] = { "audio/amr", "audio/amr-wb",
		"audio/wav; codec=g711a", "audio/wav; codec=g711u", "audio/wav" };
	enum media_target t;

	for (int i = 0; i < MEDIA_TARGET_COUNT; i++) {
		g_assert_cmpstr(media_target_token(i), ==, tokens[i]);
		g_assert_cmpstr(media_target_mime(i), ==, mimes[i]);
		g_assert_nonnull(media_target_extension(i));
		g_assert_true(media_target_parse(media_target_mime(i), &t));
		g_assert_cmpint(t, ==, i);
		g_assert_true(media_target_from_token(media_target_token(i), &t));
		g_assert_cmpint(t, ==, i);
	}
	g_assert_cmpstr(media_target_extension(MEDIA_TARGET_AMR), ==, "amr");
	g_assert_cmpstr(media_target_extension(MEDIA_TARGET_AMR_WB), ==, "awb");
	g_assert_cmpstr(media_target_extension(MEDIA_TARGET_WAV_ULAW), ==, "wav");
	g_assert_true(media_target_from_token("WAV-G711A", &t));
	g_assert_cmpint(t, ==, MEDIA_TARGET_WAV_ALAW);
	g_assert_true(media_target_from_token("audio/x-wav", &t));
	g_assert_cmpint(t, ==, MEDIA_TARGET_WAV_PCM);
	g_assert_false(media_target_from_token("mp3", &t));
	g_assert_false(media_target_from_token("", &t));

	for (int c = MEDIA_CODEC_AMR_NB; c <= MEDIA_CODEC_EVRC; c++) {
		g_assert_cmpstr(media_codec_name(c), !=, "unknown");
		g_assert_true(media_codec_decodable(c));
	}
	g_assert_cmpstr(media_codec_name(MEDIA_CODEC_UNKNOWN), ==, "unknown");
	g_assert_false(media_codec_decodable(MEDIA_CODEC_UNKNOWN));
	for (int c = MEDIA_CONTAINER_AMR; c <= MEDIA_CONTAINER_QCP; c++)
		g_assert_cmpstr(media_container_name(c), !=, "unknown");
	g_assert_cmpstr(media_container_name(MEDIA_CONTAINER_UNKNOWN), ==,
			"unknown");
}

/* ---- already in the target's format ---- */

static void test_is_target(void)
{
	uint8_t types[2] = { 7, 7 };
	uint8_t rates[2] = { 4, 4 };
	size_t sizes[2] = { 35, 35 };
	struct qcp_spec q = { .guid = guid_qcelp, .packet_size = 35,
			      .rate = 8000, .packets = rates, .sizes = sizes,
			      .n = 2, .declared = G_MAXSIZE };
	GByteArray *files[] = {
		amr_file(false, types, 2),
		amr_file(true, types, 2),
		wav_file(6, 1, 8000, 1, 8, 100, G_MAXSIZE),
		wav_file(7, 1, 8000, 1, 8, 100, G_MAXSIZE),
		wav_file(1, 1, 8000, 2, 16, 100, G_MAXSIZE),
		wav_file(1, 1, 16000, 2, 16, 100, G_MAXSIZE),
		wav_file(0x31, 1, 8000, 65, 0, 130, G_MAXSIZE),
		gsm_file(2, 0),
		qcp_file(&q),
		mp4_file(trak("soun", "samr", 8000, mdhd(0, 8000, 8000))),
	};
	/* Which target each file already is, -1 for none. */
	static const int expected[] = {
		MEDIA_TARGET_AMR, MEDIA_TARGET_AMR_WB, MEDIA_TARGET_WAV_ALAW,
		MEDIA_TARGET_WAV_ULAW, MEDIA_TARGET_WAV_PCM,
		MEDIA_TARGET_WAV_PCM, -1, -1, -1, -1,
	};

	G_STATIC_ASSERT(G_N_ELEMENTS(files) == G_N_ELEMENTS(expected));
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		struct media_info info;

		probe_ok(files[i], &info);
		for (int t = 0; t < MEDIA_TARGET_COUNT; t++) {
			g_test_message("file %zu target %d", i, t);
			g_assert_cmpint(media_info_is_target(&info, t), ==,
					t == expected[i]);
		}
		g_byte_array_unref(files[i]);
	}
}

/* A file is sent as it is only when it is what the server would write:
 * G.711 at 8 kHz mono, PCM 16-bit mono (any rate). */
static void test_is_target_strict(void)
{
	static const struct {
		uint16_t format, channels;
		uint32_t rate;
		uint16_t bits;
		int target;
	} cases[] = {
		{ 6, 1, 8000, 8, MEDIA_TARGET_WAV_ALAW },
		{ 6, 2, 8000, 8, -1 },
		{ 6, 1, 16000, 8, -1 },
		{ 7, 1, 8000, 8, MEDIA_TARGET_WAV_ULAW },
		{ 7, 1, 11025, 8, -1 },
		{ 1, 1, 44100, 16, MEDIA_TARGET_WAV_PCM },
		{ 1, 1, 8000, 8, -1 },
		{ 1, 2, 8000, 16, -1 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint16_t block = cases[i].channels * cases[i].bits / 8;
		g_autoptr(GByteArray) w = wav_file(cases[i].format,
						   cases[i].channels,
						   cases[i].rate, block,
						   cases[i].bits, 100, G_MAXSIZE);
		struct media_info info;
		enum media_target target;

		g_test_message("case %zu", i);
		probe_ok(w, &info);
		g_assert_cmpint(media_info_target(&info, &target), ==,
				cases[i].target >= 0);
		if (cases[i].target >= 0)
			g_assert_cmpint(target, ==, cases[i].target);
	}
}

static void test_budget_defaults(void)
{
	struct media_budget b = { 0 };
	struct media_budget set = { 1, 2, 3, 4, 5, 6 };

	media_budget_defaults(&b);
	g_assert_cmpuint(b.max_input, ==, 64u << 20);
	g_assert_cmpuint(b.max_output, ==, 256u << 20);
	g_assert_cmpuint(b.max_duration_ms, ==, 4u * 3600 * 1000);
	g_assert_cmpuint(b.wall_seconds, ==, 30);
	g_assert_cmpuint(b.cpu_seconds, ==, 30);
	g_assert_cmpuint(b.memory_mb, ==, 1024);
	media_budget_defaults(&set);
	g_assert_cmpuint(set.max_input, ==, 1);
	g_assert_cmpuint(set.memory_mb, ==, 6);
}

/* ---- the isolated runner, with fake workers ---- */

static char *fake_dir;

static char *fake_worker(const char *name, const char *script)
{
	char *path = g_build_filename(fake_dir, name, NULL);
	g_autofree char *text = g_strconcat("#!/bin/sh\n", script, "\n", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(path, text, -1, &error));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return path;
}

static int isolated(const char *worker, const char *input,
		    struct media_budget *budget, GBytes **out, char **reason)
{
	*out = NULL;
	*reason = NULL;
	return media_transcode_isolated(worker, input, strlen(input),
					MEDIA_TARGET_WAV_ALAW, budget, out,
					reason);
}

static void test_isolated(void)
{
	struct media_budget budget = { .max_output = 1000,
				       .max_duration_ms = 5000,
				       .cpu_seconds = 7, .memory_mb = 300 };
	g_autoptr(GBytes) out = NULL;
	g_autofree char *reason = NULL;
	const char *text, *expected;
	size_t len;

	/* Arguments, then the input, which is a regular file. */
	g_autofree char *echo = fake_worker("echo",
		"printf '%s\\n' \"$@\"; [ -f /dev/stdin ] && echo file; cat");
	g_assert_cmpint(isolated(echo, "INPUT", &budget, &out, &reason), ==, 0);
	g_assert_null(reason);
	text = g_bytes_get_data(out, &len);
	expected = "--to=wav-g711a\n--max-output=1000\n--max-duration-ms=5000\n"
		   "--wall-seconds=30\n--cpu-seconds=7\n--memory-mb=300\nfile\nINPUT";
	g_assert_cmpmem(text, len, expected, strlen(expected));
	g_clear_pointer(&out, g_bytes_unref);

	/* An errno status and its reason. */
	g_autofree char *bad = fake_worker("bad",
		"echo 'no audio format recognized' >&2; exit 22");
	g_assert_cmpint(isolated(bad, "x", &budget, &out, &reason), ==, -EINVAL);
	g_assert_cmpstr(reason, ==, "no audio format recognized");
	g_assert_null(out);
	g_clear_pointer(&reason, g_free);

	/* A status without a reason. */
	g_autofree char *big = fake_worker("big", "exit 27");
	g_assert_cmpint(isolated(big, "x", &budget, &out, &reason), ==, -EFBIG);
	g_assert_true(g_str_has_prefix(reason, "the media worker failed"));
	g_clear_pointer(&reason, g_free);

	/* A status that is none of the worker's errnos: not the worker. */
	g_autofree char *odd = fake_worker("odd", "echo 'usage' >&2; exit 3");
	g_assert_cmpint(isolated(odd, "x", &budget, &out, &reason), ==, -ECHILD);
	g_assert_true(g_str_has_prefix(reason, "usage"));
	g_clear_pointer(&reason, g_free);

	/* A crash. */
	g_autofree char *crash = fake_worker("crash", "kill -SEGV $$");
	g_assert_cmpint(isolated(crash, "x", &budget, &out, &reason), ==, -ECHILD);
	g_assert_nonnull(strstr(reason, "signal 11"));
	g_clear_pointer(&reason, g_free);

	/* No such worker. */
	g_autofree char *none = g_build_filename(fake_dir, "none", NULL);
	g_assert_cmpint(isolated(none, "x", &budget, &out, &reason), ==, -ECHILD);
	g_assert_nonnull(strstr(reason, "cannot start"));
	g_clear_pointer(&reason, g_free);

	/* Input past the budget: no worker at all. */
	budget.max_input = 3;
	g_assert_cmpint(isolated(crash, "four", &budget, &out, &reason), ==, -EFBIG);
	g_clear_pointer(&reason, g_free);
	budget.max_input = 0;

	/* Past the wall clock. */
	g_autofree char *slow = fake_worker("slow", "exec sleep 10");
	gint64 start = g_get_monotonic_time();

	budget.wall_seconds = 1;
	g_assert_cmpint(isolated(slow, "x", &budget, &out, &reason), ==, -ETIMEDOUT);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
	g_clear_pointer(&reason, g_free);
}

/* A worker that writes more than max_output and exits 0 is not the
 * worker: its output is refused, not cut to size. */
static void test_isolated_output_limit(void)
{
	struct media_budget budget = { .max_output = 100 };
	g_autoptr(GBytes) out = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *loud = fake_worker("loud", "head -c 101 /dev/zero");
	g_autofree char *exact = fake_worker("exact", "head -c 100 /dev/zero");

	g_assert_cmpint(isolated(loud, "x", &budget, &out, &reason), ==, -EFBIG);
	g_assert_null(out);
	g_assert_cmpstr(reason, ==, "the media worker's output is larger than the budget");
	g_clear_pointer(&reason, g_free);
	g_assert_cmpint(isolated(exact, "x", &budget, &out, &reason), ==, 0);
	g_assert_cmpuint(g_bytes_get_size(out), ==, 100);
}

static void test_worker_path(void)
{
	g_autoptr(GKeyFile) config = g_key_file_new();
	g_autofree char *installed = media_worker_path(NULL);
	g_autofree char *configured = NULL;
	g_autofree char *fallback = NULL;

	g_assert_true(g_str_has_suffix(installed, "/vvm-media-worker"));
	fallback = media_worker_path(config);
	g_assert_cmpstr(fallback, ==, installed);
	g_key_file_set_string(config, "media", "worker", "/opt/w");
	configured = media_worker_path(config);
	g_assert_cmpstr(configured, ==, "/opt/w");
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int ret;

	g_test_init(&argc, &argv, NULL);
	guard_init(GUARD_PAGES);
	fake_dir = g_dir_make_tmp("test-media-XXXXXX", &error);
	g_assert_no_error(error);

	g_test_add_func("/media/probe/amr-nb/frame-types", test_amr_nb_frame_types);
	g_test_add_func("/media/probe/amr-wb/frame-types", test_amr_wb_frame_types);
	g_test_add_func("/media/probe/amr/counting", test_amr_counting);
	g_test_add_func("/media/probe/amr/bad-toc", test_amr_bad_toc);
	g_test_add_func("/media/probe/wav/codes", test_wav_codes);
	g_test_add_func("/media/probe/wav/extensible", test_wav_extensible);
	g_test_add_func("/media/probe/wav/odd-chunks", test_wav_odd_chunks);
	g_test_add_func("/media/probe/wav/truncated", test_wav_truncated);
	g_test_add_func("/media/probe/wav/refusals", test_wav_refusals);
	g_test_add_func("/media/probe/gsm", test_gsm);
	g_test_add_func("/media/probe/qcp/variable", test_qcp_variable);
	g_test_add_func("/media/probe/qcp/fixed", test_qcp_fixed);
	g_test_add_func("/media/probe/qcp/refusals", test_qcp_refusals);
	g_test_add_func("/media/probe/3gp/tracks", test_3gp);
	g_test_add_func("/media/probe/3gp/boxes", test_3gp_boxes);
	g_test_add_func("/media/probe/3gp/duration-overflow",
			test_3gp_duration_overflow);
	g_test_add_func("/media/probe/reasons", test_reasons);
	g_test_add_func("/media/probe/mutations", test_mutations);
	g_test_add_func("/media/frames", test_frames);
	g_test_add_func("/media/target/parse", test_target_parse);
	g_test_add_func("/media/target/names", test_target_names);
	g_test_add_func("/media/target/is-target", test_is_target);
	g_test_add_func("/media/target/is-target-strict", test_is_target_strict);
	g_test_add_func("/media/budget/defaults", test_budget_defaults);
	g_test_add_func("/media/isolated/fake-workers", test_isolated);
	g_test_add_func("/media/isolated/output-limit",
			test_isolated_output_limit);
	g_test_add_func("/media/isolated/worker-path", test_worker_path);
	ret = g_test_run();

	/* The fake workers. */
	{
		GDir *dir = g_dir_open(fake_dir, 0, NULL);
		const char *name;

		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree char *path = g_build_filename(fake_dir, name, NULL);

			g_unlink(path);
		}
		if (dir != NULL)
			g_dir_close(dir);
		g_rmdir(fake_dir);
		g_free(fake_dir);
	}
	return ret;
}
