/* Fuzzes the container parsing of lib/media: whatever the bytes,
 * media_probe() must not read past them, and what it accepts must be
 * coherent: the codec data lies inside the file, the frames
 * media_frames_next() finds tile it exactly and are as many as info says,
 * each has the size its codec gives it, the duration follows from the
 * frames, and the whole frames alone probe to the same result. The first
 * bytes also go to media_target_parse() as a MIME type, whose canonical
 * type must parse back to the same target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vvm-media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* Frame sizes, first byte included, written out again from the specs
 * (3GPP TS 26.101 and 26.201 with RFC 4867; RFC 3625) rather than taken
 * from the library, so that both have to agree. */
static size_t amr_size(bool wideband, uint8_t toc)
{
	static const uint8_t nb[16] = { 13, 14, 16, 18, 20, 21, 27, 32, 6,
					 1, 1, 1, 1, 1, 1, 1 };
	static const uint8_t wb[16] = { 18, 24, 33, 37, 41, 47, 51, 59, 61,
					 6, 1, 1, 1, 1, 1, 1 };

	return (wideband ? wb : nb)[(toc >> 3) & 0x0f];
}

static size_t qcp_size(enum media_codec codec, uint8_t rate)
{
	static const uint8_t qcelp[5] = { 1, 4, 8, 17, 35 };
	static const uint8_t evrc[5] = { 1, 3, 0, 11, 23 };

	if (rate > 4)
		return 0;
	return codec == MEDIA_CODEC_EVRC ? evrc[rate] : qcelp[rate];
}

/* The container says which codecs it can hold. */
static void check_kind(const struct media_info *info)
{
	switch (info->container) {
	case MEDIA_CONTAINER_AMR:
		check(info->codec == MEDIA_CODEC_AMR_NB && info->rate == 8000);
		break;
	case MEDIA_CONTAINER_AMR_WB:
		check(info->codec == MEDIA_CODEC_AMR_WB && info->rate == 16000);
		break;
	case MEDIA_CONTAINER_GSM:
		check(info->codec == MEDIA_CODEC_GSM && info->rate == 8000);
		break;
	case MEDIA_CONTAINER_QCP:
		check(info->codec == MEDIA_CODEC_QCELP ||
		      info->codec == MEDIA_CODEC_EVRC);
		break;
	case MEDIA_CONTAINER_3GP:
		check(info->codec == MEDIA_CODEC_AMR_NB ||
		      info->codec == MEDIA_CODEC_AMR_WB ||
		      info->codec == MEDIA_CODEC_QCELP ||
		      info->codec == MEDIA_CODEC_EVRC);
		break;
	case MEDIA_CONTAINER_WAV:
		check(info->codec == MEDIA_CODEC_UNKNOWN ||
		      info->codec == MEDIA_CODEC_PCM ||
		      info->codec == MEDIA_CODEC_ALAW ||
		      info->codec == MEDIA_CODEC_ULAW ||
		      info->codec == MEDIA_CODEC_GSM_MS);
		break;
	default:
		check(false);
	}
	check(info->rate != 0 && info->channels != 0);
	check(media_codec_name(info->codec) != NULL);
	check(media_container_name(info->container) != NULL);
}

/* Walks the frames; returns how many there are. */
static uint64_t check_frames(const uint8_t *data, const struct media_info *info)
{
	const size_t start = info->data_offset;
	const size_t end = info->data_offset + info->data_length;
	struct media_frames it;
	const uint8_t *frame;
	size_t length, expect, sum = 0, next = start;
	uint64_t count = 0;

	media_frames_init(&it, data, info);
	while (media_frames_next(&it, &frame, &length)) {
		/* In order, back to back, inside the codec data. */
		check(frame == data + next);
		check(length != 0 && length <= end - next);
		switch (info->codec) {
		case MEDIA_CODEC_AMR_NB:
		case MEDIA_CODEC_AMR_WB:
			check((frame[0] & 0x83) == 0);
			expect = amr_size(info->codec == MEDIA_CODEC_AMR_WB,
					  frame[0]);
			break;
		case MEDIA_CODEC_GSM:
			check((frame[0] & 0xf0) == 0xd0);
			expect = 33;
			break;
		case MEDIA_CODEC_GSM_MS:
			expect = 65;
			break;
		case MEDIA_CODEC_QCELP:
		case MEDIA_CODEC_EVRC:
			expect = info->packet_size != 0
				? info->packet_size
				: qcp_size(info->codec, frame[0]);
			break;
		default:
			/* PCM and the like: the data chunk in one piece. */
			expect = info->data_length;
			break;
		}
		check(length == expect);
		next += length;
		sum += length;
		count++;
		check(count <= info->data_length);
	}
	check(next == end && sum == info->data_length);
	/* Done is done. */
	check(!media_frames_next(&it, &frame, &length));
	return count;
}

static void check_duration(const struct media_info *info, uint64_t count)
{
	uint64_t block;

	switch (info->codec) {
	case MEDIA_CODEC_AMR_NB:
	case MEDIA_CODEC_AMR_WB:
	case MEDIA_CODEC_GSM:
	case MEDIA_CODEC_QCELP:
	case MEDIA_CODEC_EVRC:
		if (info->container == MEDIA_CONTAINER_3GP) {
			/* Only the track header knows: frames follow it. */
			check(info->frames == info->duration_ms / 20);
			check(count == 0);
		} else {
			check(count == info->frames);
			check(info->duration_ms == info->frames * 20);
		}
		break;
	case MEDIA_CODEC_GSM_MS:
		/* 65-byte blocks of two frames, 320 samples. */
		check(count == info->frames);
		check(info->data_length == info->frames * 65);
		check(info->channels == 1);
		check(info->duration_ms == info->frames * 320 * 1000 / info->rate);
		break;
	default:
		/* Sample frames, the data chunk in one piece. */
		check(count == (info->data_length != 0 ? 1 : 0));
		check(info->duration_ms == info->frames * 1000 / info->rate);
		break;
	}
	if (info->codec == MEDIA_CODEC_PCM || info->codec == MEDIA_CODEC_ALAW ||
	    info->codec == MEDIA_CODEC_ULAW) {
		block = (uint64_t)info->channels * (info->bits / 8);
		check(info->bits == 8 || info->bits == 16);
		check(info->codec == MEDIA_CODEC_PCM || info->bits == 8);
		check(info->data_length == info->frames * block);
	}
}

static bool same_info(const struct media_info *a, const struct media_info *b)
{
	return a->container == b->container && a->codec == b->codec &&
	       a->rate == b->rate && a->channels == b->channels &&
	       a->bits == b->bits && a->wav_format == b->wav_format &&
	       a->frames == b->frames && a->duration_ms == b->duration_ms &&
	       a->data_offset == b->data_offset &&
	       a->data_length == b->data_length &&
	       a->packet_size == b->packet_size && a->truncated == b->truncated;
}

static void check_probe(const uint8_t *data, size_t size)
{
	struct media_info info, again;
	const char *reason = NULL;
	uint64_t count;
	int ret;

	ret = media_probe(data, size, &info, &reason);
	if (ret != 0) {
		check(ret < 0 && reason != NULL && reason[0] != '\0');
		return;
	}
	check(info.data_offset <= size &&
	      info.data_length <= size - info.data_offset);
	if (info.container == MEDIA_CONTAINER_3GP)
		check(info.data_offset == 0 && info.data_length == 0);
	check_kind(&info);
	count = check_frames(data, &info);
	check_duration(&info, count);

	/* The same bytes say the same. */
	check(media_probe(data, size, &again, &reason) == 0);
	check(same_info(&info, &again));

	/* In the headerless and header-only formats the codec data runs to
	 * the end: anything after it is a partial frame, and without it the
	 * file is the same, whole. */
	if (info.container == MEDIA_CONTAINER_AMR ||
	    info.container == MEDIA_CONTAINER_AMR_WB ||
	    info.container == MEDIA_CONTAINER_GSM) {
		size_t whole = info.data_offset + info.data_length;

		check(info.truncated == (whole != size));
		check(media_probe(data, whole, &again, &reason) == 0);
		info.truncated = false;
		check(same_info(&info, &again));
	}
}

static void check_target(const uint8_t *data, size_t size)
{
	char mime[201];
	size_t n = 0;
	enum media_target target, again;

	while (n < size && n < sizeof(mime) - 1 && data[n] != '\0') {
		mime[n] = (char)data[n];
		n++;
	}
	mime[n] = '\0';
	if (!media_target_parse(mime, &target))
		return;
	check((unsigned)target < MEDIA_TARGET_COUNT);
	check(media_target_parse(media_target_mime(target), &again));
	check(again == target);
	check(media_target_from_token(media_target_token(target), &again));
	check(again == target);
	check(media_target_extension(target) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_probe(data, size);
	check_target(data, size);
	return 0;
}
