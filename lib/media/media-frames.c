/* The codec frames of a probed file, one by one, for a decoder that wants
 * them framed. */
#include "vvm-media.h"

#include "media-private.h"

void media_frames_init(struct media_frames *it, const void *data,
		       const struct media_info *info)
{
	it->data = data;
	it->position = info->data_offset;
	it->end = info->data_offset + info->data_length;
	it->info = info;
}

static size_t frame_size(const struct media_frames *it)
{
	uint8_t first = it->data[it->position];

	switch (it->info->codec) {
	case MEDIA_CODEC_AMR_NB:
	case MEDIA_CODEC_AMR_WB:
		return media_amr_frame_size(
			it->info->codec == MEDIA_CODEC_AMR_WB, first);
	case MEDIA_CODEC_GSM:
		return 33;
	case MEDIA_CODEC_GSM_MS:
		return 65;
	case MEDIA_CODEC_QCELP:
	case MEDIA_CODEC_EVRC:
		return it->info->packet_size != 0
			? it->info->packet_size
			: media_qcp_packet_size(it->info->codec, first);
	default:
		return it->end - it->position;
	}
}

bool media_frames_next(struct media_frames *it, const uint8_t **frame_r,
		       size_t *length_r)
{
	size_t size;

	if (it->position >= it->end)
		return false;
	size = frame_size(it);
	/* media_probe() checked every boundary; this only guards misuse. */
	if (size == 0 || size > it->end - it->position)
		return false;
	*frame_r = it->data + it->position;
	*length_r = size;
	it->position += size;
	return true;
}
