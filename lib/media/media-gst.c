/* Transcoding with GStreamer, in this process. Our own parser
 * (media-probe.c) frames the input and an appsrc feeds the frames to the
 * one decoder that fits them, so no typefinding or autoplugging ever
 * reaches plugins the format does not need; only 3GP goes through a
 * demuxer. The encoder's output is collected from an appsink and wrapped
 * in the container by media-type.c. Run it in the worker (media-worker.c):
 * a plugin is third-party code that a hostile file may crash. */
#include "vvm-media.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>

#include "media-private.h"

/* Decoders hand on a second of audio at a time, not each 20 ms frame:
 * every element downstream then runs 50 times less often. */
#define BATCH " min-latency=1000000000"
/* WAV PCM and G.711 data goes to the decoder in pieces of this size. */
#define RAW_CHUNK 65536

static void media_gst_init(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		gst_init(NULL, NULL);
		g_once_init_leave(&done, 1);
	}
}

/* Rate and channels of WAV samples. Past stereo GStreamer wants to know
 * where each channel goes before it mixes them down: WAV's default order
 * (channels_supported() keeps to what that covers). */
static char *sample_layout(const struct media_info *info)
{
	if (info->channels <= 2)
		return g_strdup_printf("rate=%u,channels=%u", info->rate,
				       info->channels);
	return g_strdup_printf("rate=%u,channels=%u,channel-mask=(bitmask)0x%" G_GINT64_MODIFIER "x",
			       info->rate, info->channels,
			       gst_audio_channel_get_fallback_mask(info->channels));
}

/* PCM up to 7.1; the G.711 decoders drop the channel positions, so
 * G.711 up to stereo. */
static bool channels_supported(const struct media_info *info)
{
	if (info->codec == MEDIA_CODEC_PCM)
		return info->channels <= 8;
	if (info->codec == MEDIA_CODEC_ALAW || info->codec == MEDIA_CODEC_ULAW)
		return info->channels <= 2;
	return true;
}

/* The decoding half of the pipeline, from its source element. */
static char *decoder_description(const struct media_info *info)
{
	g_autofree char *layout = sample_layout(info);

	switch (info->codec) {
	case MEDIA_CODEC_AMR_NB:
		return g_strdup("appsrc name=src format=time caps=audio/AMR,rate=8000,channels=1 ! amrnbdec" BATCH);
	case MEDIA_CODEC_AMR_WB:
		return g_strdup("appsrc name=src format=time caps=audio/AMR-WB,rate=16000,channels=1 ! amrwbdec" BATCH);
	case MEDIA_CODEC_GSM:
		return g_strdup("appsrc name=src format=time caps=audio/x-gsm,rate=8000,channels=1 ! gsmdec" BATCH);
	case MEDIA_CODEC_GSM_MS:
		return g_strdup_printf("appsrc name=src format=time caps=audio/ms-gsm,rate=%u,channels=1 ! gsmdec%s",
				       info->rate, BATCH);
	case MEDIA_CODEC_QCELP:
		return g_strdup("appsrc name=src format=time caps=audio/qcelp,rate=8000,channels=1 ! avdec_qcelp" BATCH);
	case MEDIA_CODEC_EVRC:
		/* gst-libav maps no caps to EVRC: its decoder takes any. */
		return g_strdup("appsrc name=src format=time caps=unknown/unknown,rate=8000,channels=1 ! avdec_evrc" BATCH);
	case MEDIA_CODEC_ALAW:
		return g_strdup_printf("appsrc name=src format=time caps=audio/x-alaw,%s ! alawdec" BATCH,
				       layout);
	case MEDIA_CODEC_ULAW:
		return g_strdup_printf("appsrc name=src format=time caps=audio/x-mulaw,%s ! mulawdec" BATCH,
				       layout);
	case MEDIA_CODEC_PCM:
		return g_strdup_printf("appsrc name=src format=time caps=audio/x-raw,format=%s,layout=interleaved,%s",
				       info->bits == 8 ? "U8" : "S16LE", layout);
	case MEDIA_CODEC_UNKNOWN:
		break;
	}
	return NULL;
}

static const char *encoder_description(enum media_target target)
{
	switch (target) {
	case MEDIA_TARGET_AMR:
		return "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! amrnbenc band-mode=MR122";
	case MEDIA_TARGET_AMR_WB:
		/* The plugin's enum is misnumbered past MR1265; 12.65 kbit/s
		 * is what it really sets, and what HD voice uses most. */
		return "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=16000,channels=1 ! voamrwbenc band-mode=MR1265";
	case MEDIA_TARGET_WAV_ALAW:
		return "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! alawenc";
	case MEDIA_TARGET_WAV_ULAW:
		return "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! mulawenc";
	case MEDIA_TARGET_WAV_PCM:
		return "audioconvert ! audio/x-raw,format=S16LE,channels=1";
	case MEDIA_TARGET_COUNT:
		break;
	}
	return NULL;
}

/* One run of a pipeline: where its output goes and when to stop. */
struct run {
	GstElement *pipeline;
	GstAppSink *sink;
	GByteArray *output;
	uint64_t max_output;
	uint64_t max_duration_ns;
	uint64_t decoded_ns;      /* running end of the decoded audio */
	uint64_t decoded_bytes;   /* of S16 mono, when output is NULL */
	uint32_t rate;            /* of the sink's caps */
	int error;
	char *reason;
};

static void run_fail(struct run *r, int error, char *reason)
{
	if (r->error == 0) {
		r->error = error;
		r->reason = reason;
	} else {
		g_free(reason);
	}
}

/* 3GP: qtdemux wants to seek, so it reads the bytes from a memfd through
 * filesrc. The memfd is closed when the pipeline is. */
static GstElement *build_3gp(const void *data, size_t len,
			     const struct media_info *info,
			     const char *encoder, char **reason_r, int *fd_r)
{
	const char *decoder = info->codec == MEDIA_CODEC_AMR_NB ? "amrnbdec"
			    : info->codec == MEDIA_CODEC_AMR_WB ? "amrwbdec"
			    : info->codec == MEDIA_CODEC_QCELP ? "avdec_qcelp"
			    : "avdec_evrc";
	g_autofree char *desc = NULL;
	g_autoptr(GError) error = NULL;
	GstElement *pipeline;
	int fd = memfd_create("vvm-media-3gp", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		*reason_r = g_strdup_printf("memfd: %s", g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	desc = g_strdup_printf("filesrc location=/proc/self/fd/%d ! qtdemux ! %s ! %s ! appsink name=sink sync=false async=false",
			       fd, decoder, encoder);
	pipeline = gst_parse_launch(desc, &error);
	if (pipeline == NULL) {
		*reason_r = g_strdup(error->message);
		close(fd);
		return NULL;
	}
	*fd_r = fd;
	return pipeline;
}

static GstElement *build(const struct media_info *info, const char *encoder,
			 char **reason_r)
{
	g_autofree char *decoder = decoder_description(info);
	g_autofree char *desc = NULL;
	g_autoptr(GError) error = NULL;
	GstElement *pipeline;

	if (decoder == NULL) {
		*reason_r = g_strdup_printf("no decoder for %s",
					    media_codec_name(info->codec));
		return NULL;
	}
	if (!channels_supported(info)) {
		*reason_r = g_strdup_printf("%s with %u channels is not supported",
					    media_codec_name(info->codec),
					    info->channels);
		return NULL;
	}
	desc = g_strdup_printf("%s ! %s ! appsink name=sink sync=false async=false",
			       decoder, encoder);
	pipeline = gst_parse_launch(desc, &error);
	if (pipeline == NULL) {
		*reason_r = g_strdup_printf("%s: %s",
					    media_codec_name(info->codec),
					    error->message);
		return NULL;
	}
	return pipeline;
}

/* Timestamped, so that elements that keep state across buffers (the
 * resampler's filter) drain it whole at the end. */
static void push(GstAppSrc *src, GstBuffer *buffer, GstClockTime pts,
		 GstClockTime duration)
{
	GST_BUFFER_PTS(buffer) = pts;
	GST_BUFFER_DURATION(buffer) = duration;
	gst_app_src_push_buffer(src, buffer);
}

/* Feeds the probed input to the appsrc: frame by frame where the decoder
 * wants frames, in large pieces for PCM and G.711. Frames only point into
 * the input, which outlives the pipeline; PCM is copied, because with PCM
 * the encoder gets these very buffers and opencore's AMR encoder writes
 * into its input. */
static void feed(GstAppSrc *src, const void *data,
		 const struct media_info *info)
{
	const uint8_t *bytes = (const uint8_t *)data + info->data_offset;
	/* A wav49 block holds 320 samples at the fmt chunk's rate; every
	 * other codec here has 20 ms frames. */
	GstClockTime frame_ns = info->codec == MEDIA_CODEC_GSM_MS
		? gst_util_uint64_scale(320, GST_SECOND, info->rate)
		: 20 * GST_MSECOND;
	GstClockTime pts = 0;
	struct media_frames frames;
	const uint8_t *frame;
	size_t length;

	if (info->codec == MEDIA_CODEC_AMR_NB ||
	    info->codec == MEDIA_CODEC_AMR_WB) {
		/* The AMR decoders find frame boundaries themselves. */
		push(src, gst_buffer_new_wrapped_full(
			     GST_MEMORY_FLAG_READONLY, (gpointer)bytes,
			     info->data_length, 0, info->data_length, NULL, NULL),
		     0, info->frames * frame_ns);
	} else if (info->codec == MEDIA_CODEC_PCM ||
		   info->codec == MEDIA_CODEC_ALAW ||
		   info->codec == MEDIA_CODEC_ULAW) {
		size_t block = info->channels * (info->bits / 8u);
		size_t chunk = RAW_CHUNK - RAW_CHUNK % block;

		for (size_t pos = 0; pos < info->data_length; pos += chunk) {
			size_t n = MIN(chunk, info->data_length - pos);
			GstClockTime end = gst_util_uint64_scale(
				(pos + n) / block, GST_SECOND, info->rate);

			push(src, gst_buffer_new_memdup(bytes + pos, n), pts,
			     end - pts);
			pts = end;
		}
	} else {
		media_frames_init(&frames, data, info);
		while (media_frames_next(&frames, &frame, &length)) {
			push(src, gst_buffer_new_wrapped_full(
				     GST_MEMORY_FLAG_READONLY, (gpointer)frame,
				     length, 0, length, NULL, NULL),
			     pts, frame_ns);
			pts += frame_ns;
		}
	}
	gst_app_src_end_of_stream(src);
}

static void take_sample(struct run *r, GstSample *sample)
{
	GstBuffer *buffer = gst_sample_get_buffer(sample);
	GstMapInfo map;

	if (r->rate == 0) {
		GstStructure *caps = gst_caps_get_structure(
			gst_sample_get_caps(sample), 0);
		int rate = 0;

		gst_structure_get_int(caps, "rate", &rate);
		r->rate = (uint32_t)MAX(rate, 0);
	}
	if (GST_BUFFER_PTS_IS_VALID(buffer) &&
	    GST_BUFFER_DURATION_IS_VALID(buffer))
		r->decoded_ns = GST_BUFFER_PTS(buffer) +
				GST_BUFFER_DURATION(buffer);
	if (r->decoded_ns > r->max_duration_ns) {
		run_fail(r, -EFBIG, g_strdup("decoded audio longer than the budget"));
		return;
	}
	if (!gst_buffer_map(buffer, &map, GST_MAP_READ))
		return;
	if (r->output == NULL)
		r->decoded_bytes += map.size;
	else if (r->output->len + map.size > r->max_output)
		run_fail(r, -EFBIG, g_strdup("transcoded audio larger than the budget"));
	else
		g_byte_array_append(r->output, map.data, (guint)map.size);
	gst_buffer_unmap(buffer, &map);
}

/* The appsink's callback, in the streaming thread: taking samples there
 * rather than pulling them from this thread saves two thread switches a
 * frame. A budget overrun stops the pipeline with an error. */
static GstFlowReturn on_sample(GstAppSink *sink, gpointer data)
{
	struct run *r = data;
	GstSample *sample = gst_app_sink_pull_sample(sink);

	if (sample == NULL)
		return GST_FLOW_EOS;
	take_sample(r, sample);
	gst_sample_unref(sample);
	return r->error == 0 ? GST_FLOW_OK : GST_FLOW_ERROR;
}

/* Waits for the end of the stream or the first error. */
static void wait_for_end(struct run *r)
{
	GstBus *bus = gst_element_get_bus(r->pipeline);
	GstMessage *msg = gst_bus_timed_pop_filtered(
		bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);

	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		g_autoptr(GError) error = NULL;

		gst_message_parse_error(msg, &error, NULL);
		run_fail(r, -EINVAL, g_strdup_printf("cannot decode: %s",
						     error->message));
	}
	gst_message_unref(msg);
	gst_object_unref(bus);
}

/* Runs the pipeline over the input; r->output collects what the appsink
 * gets (or only durations are kept when r->output is NULL). */
static int run_pipeline(struct run *r, const void *data, size_t len,
			const struct media_info *info, const char *encoder)
{
	int memfd = -1;
	GstElement *src;

	media_gst_init();
	r->pipeline = info->container == MEDIA_CONTAINER_3GP
		? build_3gp(data, len, info, encoder, &r->reason, &memfd)
		: build(info, encoder, &r->reason);
	if (r->pipeline == NULL) {
		r->error = -ENOTSUP;
		return r->error;
	}
	r->sink = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(r->pipeline), "sink"));
	gst_app_sink_set_callbacks(r->sink, &(GstAppSinkCallbacks){
		.new_sample = on_sample }, r, NULL);
	src = gst_bin_get_by_name(GST_BIN(r->pipeline), "src");
	if (gst_element_set_state(r->pipeline, GST_STATE_PLAYING) ==
	    GST_STATE_CHANGE_FAILURE) {
		run_fail(r, -EIO, g_strdup("the pipeline did not start"));
	} else {
		if (src != NULL)
			feed(GST_APP_SRC(src), data, info);
		wait_for_end(r);
	}
	gst_element_set_state(r->pipeline, GST_STATE_NULL);
	if (src != NULL)
		gst_object_unref(src);
	gst_object_unref(r->sink);
	gst_object_unref(r->pipeline);
	if (memfd >= 0)
		close(memfd);
	return r->error;
}

static int probe_input(const void *data, size_t len,
		       const struct media_budget *budget,
		       struct media_info *info, char **reason_r)
{
	const char *reason;

	if (len > budget->max_input) {
		*reason_r = g_strdup("input larger than the budget");
		return -EFBIG;
	}
	if (media_probe(data, len, info, &reason) < 0) {
		*reason_r = g_strdup(reason);
		return -EINVAL;
	}
	if (info->frames == 0) {
		*reason_r = g_strdup("no audio in the file");
		return -EINVAL;
	}
	if (info->duration_ms > budget->max_duration_ms) {
		*reason_r = g_strdup("audio longer than the budget");
		return -EFBIG;
	}
	return 0;
}

static GBytes *wrap(enum media_target target, const struct run *r)
{
	GByteArray *out = g_byte_array_sized_new(r->output->len + 64);
	bool wideband = target == MEDIA_TARGET_AMR_WB;

	switch (target) {
	case MEDIA_TARGET_AMR:
	case MEDIA_TARGET_AMR_WB:
		g_byte_array_append(out, (const guint8 *)media_amr_magic(wideband),
				    (guint)strlen(media_amr_magic(wideband)));
		break;
	case MEDIA_TARGET_WAV_ALAW:
	case MEDIA_TARGET_WAV_ULAW:
		media_wav_header(out, target == MEDIA_TARGET_WAV_ALAW ? 6 : 7,
				 r->rate, 8, r->output->len);
		break;
	case MEDIA_TARGET_WAV_PCM:
	case MEDIA_TARGET_COUNT:
		media_wav_header(out, 1, r->rate, 16, r->output->len);
		break;
	}
	g_byte_array_append(out, r->output->data, r->output->len);
	/* RIFF pads a chunk of odd length. */
	if (target != MEDIA_TARGET_AMR && target != MEDIA_TARGET_AMR_WB &&
	    (r->output->len & 1))
		g_byte_array_append(out, (const guint8 *)"", 1);
	return g_byte_array_free_to_bytes(out);
}

int media_gst_transcode(const void *data, size_t len, enum media_target target,
			const struct media_budget *budget, GBytes **out_r,
			char **reason_r)
{
	struct media_budget limits = *budget;
	struct media_info info;
	struct run r = { 0 };
	GBytes *out = NULL;
	int ret;

	media_budget_defaults(&limits);
	ret = probe_input(data, len, &limits, &info, reason_r);
	if (ret < 0)
		return ret;
	r.output = g_byte_array_new();
	r.max_output = limits.max_output;
	r.max_duration_ns = limits.max_duration_ms * GST_MSECOND;
	ret = run_pipeline(&r, data, len, &info, encoder_description(target));
	if (ret == 0 && r.output->len == 0)
		run_fail(&r, -EINVAL, g_strdup("the decoder produced no audio"));
	if (r.error == 0)
		out = wrap(target, &r);
	/* The budget is on the file, container included. */
	if (out != NULL && g_bytes_get_size(out) > r.max_output) {
		g_clear_pointer(&out, g_bytes_unref);
		run_fail(&r, -EFBIG, g_strdup("transcoded audio larger than the budget"));
	}
	if (r.error == 0)
		*out_r = out;
	else
		*reason_r = g_steal_pointer(&r.reason);
	g_byte_array_unref(r.output);
	g_free(r.reason);
	return r.error;
}

int media_gst_decoded_duration(const void *data, size_t len,
			       uint64_t *duration_ms_r, char **reason_r)
{
	struct media_budget limits = { 0 };
	struct media_info info;
	struct run r = { 0 };
	int ret;

	media_budget_defaults(&limits);
	ret = probe_input(data, len, &limits, &info, reason_r);
	if (ret < 0)
		return ret;
	r.max_output = limits.max_output;
	r.max_duration_ns = limits.max_duration_ms * GST_MSECOND;
	ret = run_pipeline(&r, data, len, &info,
			   "audioconvert ! audio/x-raw,format=S16LE,channels=1");
	if (ret < 0) {
		*reason_r = g_steal_pointer(&r.reason);
		return ret;
	}
	*duration_ms_r = r.rate == 0 ? 0 : r.decoded_bytes / 2 * 1000 / r.rate;
	return 0;
}
