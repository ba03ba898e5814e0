/* Shared inside lib/media: frame sizes and the containers we write. */
#ifndef VVM_MEDIA_PRIVATE_H
#define VVM_MEDIA_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "vvm-media.h"

/* Size of an AMR storage frame, ToC byte included, from that byte. */
size_t media_amr_frame_size(bool wideband, uint8_t toc);
/* Size of a QCP packet, rate byte included, from that byte; 0 for a rate
 * the codec does not have. */
size_t media_qcp_packet_size(enum media_codec codec, uint8_t rate);
/* The RFC 3625 codec GUID of a QCP file, as stored. */
const uint8_t *media_qcp_guid(enum media_codec codec);

/* Writes the container around encoded data: a WAV header (fmt code,
 * rate, 1 channel, a fact chunk for non-PCM) or the AMR magic. */
void media_wav_header(GByteArray *out, uint16_t format, uint32_t rate,
		      uint16_t bits, uint32_t data_length);
const char *media_amr_magic(bool wideband);

#endif
