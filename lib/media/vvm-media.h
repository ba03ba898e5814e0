/* lib/media: the voice formats of the VVM spec ("Message Retrieval:
 * Supported Attachment Formats"): what a file holds and how long it lasts
 * (our own container parsing, no GStreamer), and transcoding between them
 * (GStreamer, run in a separate worker process with a budget).
 *
 * Three layers, so that each user links only what it needs:
 *   media-probe.c, media-type.c, media-frames.c  parsing; vvmfs, fuzzers
 *   media-gst.c                                  GStreamer; the worker, bench
 *   media-worker.c                               the isolated runner; vvmfs,
 *                                                vvmadm */
#ifndef VVM_MEDIA_H
#define VVM_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

enum media_container {
	MEDIA_CONTAINER_UNKNOWN = 0,
	MEDIA_CONTAINER_AMR,     /* RFC 4867 storage format, "#!AMR\n" */
	MEDIA_CONTAINER_AMR_WB,  /* "#!AMR-WB\n" */
	MEDIA_CONTAINER_WAV,     /* RIFF WAVE */
	MEDIA_CONTAINER_GSM,     /* raw GSM 06.10, 33-byte frames */
	MEDIA_CONTAINER_3GP,     /* ISO base media file (3GPP, 3GPP2, MP4) */
	MEDIA_CONTAINER_QCP,     /* RFC 3625 RIFF QLCM */
};

enum media_codec {
	MEDIA_CODEC_UNKNOWN = 0,
	MEDIA_CODEC_AMR_NB,
	MEDIA_CODEC_AMR_WB,
	MEDIA_CODEC_PCM,         /* linear PCM, 8-bit unsigned or 16-bit LE */
	MEDIA_CODEC_ALAW,        /* G.711 A-law */
	MEDIA_CODEC_ULAW,        /* G.711 mu-law */
	MEDIA_CODEC_GSM,         /* GSM 06.10 full rate, 33-byte frames */
	MEDIA_CODEC_GSM_MS,      /* GSM 06.10 in WAV (wav49): 65-byte blocks */
	MEDIA_CODEC_QCELP,
	MEDIA_CODEC_EVRC,
};

/* What a file holds, read from its bytes. */
struct media_info {
	enum media_container container;
	enum media_codec codec;
	uint32_t rate;           /* samples per second */
	uint16_t channels;
	uint16_t bits;           /* per sample, for PCM/A-law/mu-law */
	uint16_t wav_format;     /* the WAV fmt code (1, 6, 7, 0x31 ...) */
	uint64_t frames;         /* codec frames or PCM sample frames */
	uint64_t duration_ms;
	/* Codec data: the byte range a decoder consumes (the WAV data chunk,
	 * the AMR/QCP frames, the whole file for raw GSM). Empty for 3GP,
	 * whose samples only the demuxer finds. */
	size_t data_offset;
	size_t data_length;
	/* QCP packet size when fixed rate, else 0. */
	uint16_t packet_size;
	/* The file ends inside a frame or before the length its header
	 * declares; duration_ms counts the whole frames only. */
	bool truncated;
};

/* Reads what data holds. Returns 0 and fills *info_r, or -EINVAL for a
 * file that is no audio format listed above (or is damaged beyond use)
 * and sets *reason_r to a static, human-readable reason ("empty", "no
 * audio format recognized", "WAV without fmt chunk" ...). The whole file
 * is checked: a 0 return means every frame boundary was found. Costs one
 * pass over the frame headers and no allocation. */
int media_probe(const void *data, size_t len, struct media_info *info_r,
		const char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* What a Content-Duration header (whole seconds) should say of audio
 * that lasts duration_ms: rounded to the nearest second, and at least 1
 * for any audio at all. */
uint64_t media_content_duration(uint64_t duration_ms);

/* "AMR-NB", "G.711 A-law" ... for people. */
const char *media_codec_name(enum media_codec codec);
const char *media_container_name(enum media_container container);

/* Iterates the codec frames of an AMR, AMR-WB, raw GSM, WAV/GSM or QCP
 * file that media_probe() accepted: each call sets *frame_r and
 * *length_r to the next frame and returns true, false at the end. WAV
 * PCM/A-law/mu-law has no frames: the data chunk comes in one piece. */
struct media_frames {
	const uint8_t *data;
	size_t position;
	size_t end;
	const struct media_info *info;
};
void media_frames_init(struct media_frames *it, const void *data,
		       const struct media_info *info);
bool media_frames_next(struct media_frames *it, const uint8_t **frame_r,
		       size_t *length_r);

/* The formats the server produces: the spec's voice MIME types. */
enum media_target {
	MEDIA_TARGET_AMR,        /* audio/amr: AMR-NB 12.2 kbit/s, 8 kHz */
	MEDIA_TARGET_AMR_WB,     /* audio/amr-wb: AMR-WB 12.65 kbit/s, 16 kHz */
	MEDIA_TARGET_WAV_ALAW,   /* audio/wav; codec=g711a: fmt 6, 8 kHz */
	MEDIA_TARGET_WAV_ULAW,   /* audio/wav; codec=g711u: fmt 7, 8 kHz */
	MEDIA_TARGET_WAV_PCM,    /* audio/wav: fmt 1, 16-bit, the source rate */
	MEDIA_TARGET_COUNT,
};

/* Parses one MIME type (parameters and quotes allowed, case-insensitive:
 * `audio/wav; codec="g711a"`, `audio/AMR`, `audio/x-wav`). Returns false
 * for a type the server cannot produce. */
bool media_target_parse(const char *mime_type, enum media_target *target_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* The canonical MIME type (`audio/wav; codec=g711a`), the token used in
 * file names and cache keys (`wav-g711a`), and a file extension. */
const char *media_target_mime(enum media_target target);
const char *media_target_token(enum media_target target);
const char *media_target_extension(enum media_target target);
/* Parses a token back, for command lines. */
bool media_target_from_token(const char *token, enum media_target *target_r)
	G_GNUC_WARN_UNUSED_RESULT;
/* True when a file with info is already in the target's format, so that
 * a client accepting the target can be sent it as it is. */
bool media_info_is_target(const struct media_info *info,
			  enum media_target target);
/* Sets *target_r to the format the file already is; false when it is
 * none of them. */
bool media_info_target(const struct media_info *info,
		       enum media_target *target_r) G_GNUC_WARN_UNUSED_RESULT;
/* True when the codec can be decoded here (GStreamer plugins present or
 * not: this is what the worker knows how to build a pipeline for). */
bool media_codec_decodable(enum media_codec codec);

/* Limits on one transcode. A limit of 0 is the default below. */
struct media_budget {
	uint64_t max_input;        /* bytes; default 64 MiB */
	uint64_t max_output;       /* bytes; default 256 MiB */
	uint64_t max_duration_ms;  /* decoded audio; default 4 hours */
	unsigned wall_seconds;     /* the worker is killed past it; default 30 */
	unsigned cpu_seconds;      /* RLIMIT_CPU of the worker; default 30 */
	unsigned memory_mb;        /* RLIMIT_AS of the worker; default 1024 */
};
void media_budget_defaults(struct media_budget *budget);

/* media-gst.c: transcodes in this process with GStreamer. Returns 0 and
 * sets *out_r, or a negative errno and *reason_r (allocated): -EINVAL for
 * undecodable input, -EFBIG past the budget's output or duration,
 * -ENOTSUP for a codec no plugin here decodes, -EIO for a pipeline
 * failure. Only the budget's byte and duration limits apply here; the
 * worker enforces the rest. */
int media_gst_transcode(const void *data, size_t len, enum media_target target,
			const struct media_budget *budget, GBytes **out_r,
			char **reason_r) G_GNUC_WARN_UNUSED_RESULT;
/* Decodes fully and returns the decoded duration: what a player would
 * play, to check media_probe() and durations. */
int media_gst_decoded_duration(const void *data, size_t len,
			       uint64_t *duration_ms_r, char **reason_r)
	G_GNUC_WARN_UNUSED_RESULT;

/* media-worker.c: runs the transcode in the worker program (a separate
 * process under the budget, so a crashing or hanging plugin costs only
 * that process). worker is the path of vvm-media-worker. Returns what
 * media_gst_transcode() returns, -ETIMEDOUT past the wall time, -ECHILD
 * when the worker died of a signal (CPU limit included) or could not
 * start. */
int media_transcode_isolated(const char *worker, const void *data, size_t len,
			     enum media_target target,
			     const struct media_budget *budget, GBytes **out_r,
			     char **reason_r) G_GNUC_WARN_UNUSED_RESULT;

/* The worker program to use: [media] worker from the key file when set,
 * else the installed one. Returns a new string. */
char *media_worker_path(GKeyFile *config);
/* Where [media] registry is set, the workers started from now on keep
 * GStreamer's registry cache in that file (GST_REGISTRY_1_0 in this
 * process's environment, which they inherit): a worker that cannot write
 * its default one rescans every plugin at each start. Call it before
 * starting threads. */
void media_worker_use_registry(GKeyFile *config);

#endif
