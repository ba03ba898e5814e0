/* mediabench: how fast lib/media transcodes a voice message, in this
 * process (media_gst_transcode(), GStreamer already initialised) and in
 * the worker process vvmfs starts for a cold rendition
 * (media_transcode_isolated()), against any other command line timed the
 * same way (sox, ffmpeg). Driven by run.sh in this directory; not a test.
 *
 *   mediabench probe FILE...
 *   mediabench gst [-n ROUNDS] [-o OUT] INPUT TARGET
 *   mediabench worker [-n ROUNDS] [-o OUT] -w WORKER INPUT TARGET
 *   mediabench exec [-n ROUNDS] [-a AUDIO_MS] [-i STDIN] [-O STDOUT] -- CMD ARG...
 *   mediabench codec [-n ROUNDS] OP FILE
 *
 * TARGET is a token of vvm-media.h (amr, amr-wb, wav-g711a, wav-g711u,
 * wav). Every mode but probe runs once unmeasured (plugin loading,
 * GStreamer's registry, the page cache), then ROUNDS times measured, and
 * prints one RESULT line of medians:
 *   cpu_ms   CPU time of one conversion, all threads: CLOCK_PROCESS_CPUTIME_ID
 *            of this process (gst); plus the utime + stime of the child
 *            reaped (worker, exec: the whole process, its start included);
 *            CLOCK_THREAD_CPUTIME_ID (codec, which runs in one thread)
 *   wall_ms  CLOCK_MONOTONIC around the conversion
 *   xrt_cpu, xrt_wall  audio seconds / those seconds: "× realtime"
 * "probe" prints what media_probe() reads in each file, to check inputs
 * and outputs. "codec" is the floor under a transcode: the codec library
 * alone (the ones the GStreamer plugins wrap, dlopen()ed, so that no
 * -dev package is needed), in a plain loop over the frames of FILE, one
 * thread, no GStreamer; OP is amrnb-dec, amrwb-dec, gsm-dec (raw GSM or
 * wav49 in WAV), g711-dec (A-law or mu-law WAV), amrnb-enc (FILE: a
 * 16-bit 8 kHz WAV, 12.2 kbit/s), amrwb-enc (16-bit 16 kHz WAV,
 * 12.65 kbit/s) or alaw-enc (16-bit WAV). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "vvm-media.h"

extern char **environ;

static double now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double children_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double *s = g_memdup2(v, sizeof(*v) * (size_t)n);
	double m;

	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	g_free(s);
	return m;
}

static char *join(const double *v, int n)
{
	GString *s = g_string_new(NULL);

	for (int i = 0; i < n; i++)
		g_string_append_printf(s, "%s%.2f", i ? "," : "", v[i]);
	return g_string_free(s, FALSE);
}

static void die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mediabench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* One measured conversion. */
struct sample {
	double cpu_ms, wall_ms;
};

static void report(const char *mode, const char *what, uint64_t audio_ms,
		   const struct sample *s, int rounds, const char *extra)
{
	g_autofree double *cpu = g_new(double, rounds);
	g_autofree double *wall = g_new(double, rounds);
	g_autofree char *cpu_all = NULL, *wall_all = NULL;
	double mc, mw;

	for (int i = 0; i < rounds; i++) {
		cpu[i] = s[i].cpu_ms;
		wall[i] = s[i].wall_ms;
	}
	mc = median(cpu, rounds);
	mw = median(wall, rounds);
	cpu_all = join(cpu, rounds);
	wall_all = join(wall, rounds);
	printf("RESULT mode=%s %s audio_ms=%" G_GUINT64_FORMAT " rounds=%d"
	       " cpu_ms=%.3f wall_ms=%.3f xrt_cpu=%.1f xrt_wall=%.1f"
	       " cpu_all=%s wall_all=%s%s%s\n",
	       mode, what, audio_ms, rounds, mc, mw,
	       mc > 0 ? (double)audio_ms / mc : INFINITY,
	       mw > 0 ? (double)audio_ms / mw : INFINITY,
	       cpu_all, wall_all, extra ? " " : "", extra ? extra : "");
}

static void read_file(const char *path, char **data_r, size_t *len_r)
{
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(path, data_r, len_r, &error))
		die("%s", error->message);
}

static uint64_t probe_ms(const void *data, size_t len, const char *what)
{
	struct media_info info;
	const char *reason;

	if (media_probe(data, len, &info, &reason) < 0)
		die("%s: %s", what, reason);
	return info.duration_ms;
}

static int cmd_probe(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		g_autofree char *data = NULL;
		struct media_info info;
		const char *reason;
		size_t len;

		read_file(argv[i], &data, &len);
		if (media_probe(data, len, &info, &reason) < 0) {
			printf("PROBE file=%s error=\"%s\"\n", argv[i], reason);
			continue;
		}
		printf("PROBE file=%s bytes=%zu container=\"%s\" codec=\"%s\" rate=%u"
		       " channels=%u bits=%u wav_format=%u duration_ms=%" G_GUINT64_FORMAT
		       " truncated=%d\n", argv[i], len,
		       media_container_name(info.container),
		       media_codec_name(info.codec), info.rate, info.channels,
		       info.bits, info.wav_format, info.duration_ms,
		       info.truncated);
	}
	return 0;
}

/* gst and worker: one input, one target, converted in process or by the
 * worker. */
static int cmd_convert(bool isolated, int argc, char **argv)
{
	const char *out_path = NULL, *worker = NULL;
	int rounds = 5, opt;
	g_autofree char *data = NULL;
	g_autofree struct sample *s = NULL;
	g_autofree char *extra = NULL, *what = NULL;
	enum media_target target;
	struct media_budget budget = { 0 };
	size_t len;
	uint64_t audio_ms, out_ms = 0;
	size_t out_bytes = 0;

	optind = 1;
	while ((opt = getopt(argc, argv, "n:o:w:")) != -1) {
		switch (opt) {
		case 'n': rounds = atoi(optarg); break;
		case 'o': out_path = optarg; break;
		case 'w': worker = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || rounds < 1 || (isolated && worker == NULL))
		die("usage: %s [-n ROUNDS] [-o OUT]%s INPUT TARGET", argv[0],
		    isolated ? " -w WORKER" : "");
	if (!media_target_from_token(argv[optind + 1], &target))
		die("%s: no such target", argv[optind + 1]);
	read_file(argv[optind], &data, &len);
	audio_ms = probe_ms(data, len, argv[optind]);
	media_budget_defaults(&budget);
	s = g_new0(struct sample, rounds);

	/* round 0 is the warm-up */
	for (int i = -1; i < rounds; i++) {
		g_autoptr(GBytes) out = NULL;
		g_autofree char *reason = NULL;
		double c0, w0, k0;
		int ret;

		k0 = children_cpu_ms();
		c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		w0 = now_ms(CLOCK_MONOTONIC);
		ret = isolated
			? media_transcode_isolated(worker, data, len, target,
						   &budget, &out, &reason)
			: media_gst_transcode(data, len, target, &budget,
					      &out, &reason);
		if (i >= 0) {
			s[i].wall_ms = now_ms(CLOCK_MONOTONIC) - w0;
			s[i].cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0 +
				      (children_cpu_ms() - k0);
		}
		if (ret < 0)
			die("%s -> %s: %s (%s)", argv[optind], argv[optind + 1],
			    reason, g_strerror(-ret));
		if (i == -1) {
			out_bytes = g_bytes_get_size(out);
			out_ms = probe_ms(g_bytes_get_data(out, NULL), out_bytes,
					  "the output");
			if (out_path != NULL &&
			    !g_file_set_contents(out_path, g_bytes_get_data(out, NULL),
						 (gssize)out_bytes, NULL))
				die("cannot write %s", out_path);
		}
	}
	what = g_strdup_printf("input=%s target=%s", argv[optind],
			       media_target_token(target));
	extra = g_strdup_printf("out_bytes=%zu out_ms=%" G_GUINT64_FORMAT,
				out_bytes, out_ms);
	report(isolated ? "worker" : "gst", what, audio_ms, s, rounds, extra);
	return 0;
}

/* exec: any command, spawned per round like the worker, its stdin and
 * stdout optionally redirected from and to files. */
static int cmd_exec(int argc, char **argv)
{
	const char *in = "/dev/null", *out = "/dev/null";
	int rounds = 5, opt;
	uint64_t audio_ms = 0;
	g_autofree struct sample *s = NULL;
	g_autofree char *what = NULL, *name = NULL;

	optind = 1;
	while ((opt = getopt(argc, argv, "+n:a:i:O:")) != -1) {
		switch (opt) {
		case 'n': rounds = atoi(optarg); break;
		case 'a': audio_ms = g_ascii_strtoull(optarg, NULL, 10); break;
		case 'i': in = optarg; break;
		case 'O': out = optarg; break;
		default: return 2;
		}
	}
	if (optind >= argc || rounds < 1)
		die("usage: exec [-n ROUNDS] [-a AUDIO_MS] [-i STDIN] [-O STDOUT] -- CMD ARG...");
	s = g_new0(struct sample, rounds);
	for (int i = -1; i < rounds; i++) {
		posix_spawn_file_actions_t fa;
		double c0, w0, k0;
		pid_t pid;
		int status, ret;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, out,
						 O_WRONLY | O_CREAT | O_TRUNC, 0644);
		k0 = children_cpu_ms();
		c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		w0 = now_ms(CLOCK_MONOTONIC);
		ret = posix_spawnp(&pid, argv[optind], &fa, NULL, argv + optind,
				   environ);
		posix_spawn_file_actions_destroy(&fa);
		if (ret != 0)
			die("%s: %s", argv[optind], g_strerror(ret));
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR)
				die("waitpid: %s", g_strerror(errno));
		}
		if (i >= 0) {
			s[i].wall_ms = now_ms(CLOCK_MONOTONIC) - w0;
			s[i].cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0 +
				      (children_cpu_ms() - k0);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("%s failed (status 0x%x)", argv[optind], status);
	}
	name = g_path_get_basename(argv[optind]);
	what = g_strdup_printf("cmd=%s", name);
	report("exec", what, audio_ms, s, rounds, NULL);
	return 0;
}

/* codec: the libraries under the plugins, called directly. Prototypes as
 * in opencore-amr's interf_dec.h/interf_enc.h/dec_if.h, vo-amrwbenc's
 * enc_if.h and gsm.h. */
struct codec_lib {
	void *(*nb_dec_init)(void);
	void (*nb_dec)(void *, const unsigned char *, short *, int);
	void (*nb_dec_exit)(void *);
	void *(*nb_enc_init)(int);
	int (*nb_enc)(void *, int, const short *, unsigned char *, int);
	void (*nb_enc_exit)(void *);
	void *(*wb_dec_init)(void);
	void (*wb_dec)(void *, const unsigned char *, short *, int);
	void (*wb_dec_exit)(void *);
	void *(*wb_enc_init)(void);
	int (*wb_enc)(void *, int, const short *, unsigned char *, int);
	void (*wb_enc_exit)(void *);
	void *(*gsm_create)(void);
	int (*gsm_option)(void *, int, int *);
	int (*gsm_decode)(void *, const unsigned char *, short *);
	void (*gsm_destroy)(void *);
};

static void *sym(const char *lib, const char *name)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	void *f = h != NULL ? dlsym(h, name) : NULL;

	if (f == NULL)
		die("%s: %s", lib, dlerror());
	return f;
}

#define NB "libopencore-amrnb.so.0"
#define WB "libopencore-amrwb.so.0"
#define VOWB "libvo-amrwbenc.so.0"
#define GSM "libgsm.so.1"
#define GSM_OPT_WAV49 4

/* linear2alaw() of the G.711 reference code (Sun's g711.c), as
 * alawenc's table-free path does it */
static uint8_t alaw_encode(int pcm)
{
	static const short seg_end[8] = { 0x1f, 0x3f, 0x7f, 0xff,
					  0x1ff, 0x3ff, 0x7ff, 0xfff };
	int mask, seg;

	pcm >>= 3;
	if (pcm >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		pcm = -pcm - 1;
	}
	for (seg = 0; seg < 8 && pcm > seg_end[seg]; seg++)
		;
	if (seg >= 8)
		return (uint8_t)(0x7f ^ mask);
	return (uint8_t)(((seg << 4) | ((pcm >> (seg < 2 ? 1 : seg)) & 0xf)) ^ mask);
}

/* One pass of OP over the file; returns the samples or bytes made, so
 * that the work cannot be optimised away. */
static uint64_t codec_pass(struct codec_lib *c, const char *op,
			   const uint8_t *data, const struct media_info *info)
{
	struct media_frames it;
	const uint8_t *frame;
	size_t length;
	uint64_t sum = 0;
	short pcm[640];
	unsigned char bits[128];

	media_frames_init(&it, data, info);
	if (strcmp(op, "amrnb-dec") == 0) {
		void *st = c->nb_dec_init();

		while (media_frames_next(&it, &frame, &length)) {
			c->nb_dec(st, frame, pcm, 0);
			sum += (uint16_t)pcm[0];
		}
		c->nb_dec_exit(st);
	} else if (strcmp(op, "amrwb-dec") == 0) {
		void *st = c->wb_dec_init();

		while (media_frames_next(&it, &frame, &length)) {
			c->wb_dec(st, frame, pcm, 0);
			sum += (uint16_t)pcm[0];
		}
		c->wb_dec_exit(st);
	} else if (strcmp(op, "gsm-dec") == 0) {
		void *st = c->gsm_create();
		int one = 1;

		if (info->codec == MEDIA_CODEC_GSM_MS)
			c->gsm_option(st, GSM_OPT_WAV49, &one);
		while (media_frames_next(&it, &frame, &length)) {
			/* wav49: a 65-byte block is two frames, 33 + 32 bytes */
			c->gsm_decode(st, frame, pcm);
			if (length == 65)
				c->gsm_decode(st, frame + 33, pcm + 160);
			sum += (uint16_t)pcm[0];
		}
		c->gsm_destroy(st);
	} else if (strcmp(op, "g711-dec") == 0 || strcmp(op, "alaw-enc") == 0 ||
		   strcmp(op, "amrnb-enc") == 0 || strcmp(op, "amrwb-enc") == 0) {
		const uint8_t *bytes = data + info->data_offset;
		size_t n = info->data_length;

		if (strcmp(op, "g711-dec") == 0) {
			/* a table lookup per sample, as alawdec/mulawdec do */
			static int16_t table[256];

			for (int i = 0; i < 256; i++)
				table[i] = (int16_t)(i * 257);
			for (size_t i = 0; i < n; i++)
				sum += (uint16_t)table[bytes[i]];
		} else if (strcmp(op, "alaw-enc") == 0) {
			for (size_t i = 0; i + 1 < n; i += 2)
				sum += alaw_encode((int16_t)(bytes[i] | bytes[i + 1] << 8));
		} else {
			bool wb = strcmp(op, "amrwb-enc") == 0;
			size_t step = wb ? 640 : 320;
			void *st = wb ? c->wb_enc_init() : c->nb_enc_init(0);

			for (size_t pos = 0; pos + step <= n; pos += step) {
				memcpy(pcm, bytes + pos, step);
				sum += (uint64_t)(wb ? c->wb_enc(st, 2, pcm, bits, 0)
						     : c->nb_enc(st, 7, pcm, bits, 0));
			}
			if (wb)
				c->wb_enc_exit(st);
			else
				c->nb_enc_exit(st);
		}
	} else {
		die("unknown codec operation %s", op);
	}
	return sum;
}

static int cmd_codec(int argc, char **argv)
{
	struct codec_lib c = { 0 };
	int rounds = 5, opt;
	g_autofree char *data = NULL, *what = NULL, *extra = NULL;
	g_autofree struct sample *s = NULL;
	struct media_info info;
	const char *reason, *op;
	size_t len;
	uint64_t check = 0;

	optind = 1;
	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			return 2;
		rounds = atoi(optarg);
	}
	if (argc - optind != 2 || rounds < 1)
		die("usage: codec [-n ROUNDS] OP FILE");
	op = argv[optind];
	read_file(argv[optind + 1], &data, &len);
	if (media_probe(data, len, &info, &reason) < 0)
		die("%s: %s", argv[optind + 1], reason);
	if (g_str_has_prefix(op, "amrnb")) {
		c.nb_dec_init = sym(NB, "Decoder_Interface_init");
		c.nb_dec = sym(NB, "Decoder_Interface_Decode");
		c.nb_dec_exit = sym(NB, "Decoder_Interface_exit");
		c.nb_enc_init = sym(NB, "Encoder_Interface_init");
		c.nb_enc = sym(NB, "Encoder_Interface_Encode");
		c.nb_enc_exit = sym(NB, "Encoder_Interface_exit");
	} else if (strcmp(op, "amrwb-dec") == 0) {
		c.wb_dec_init = sym(WB, "D_IF_init");
		c.wb_dec = sym(WB, "D_IF_decode");
		c.wb_dec_exit = sym(WB, "D_IF_exit");
	} else if (strcmp(op, "amrwb-enc") == 0) {
		c.wb_enc_init = sym(VOWB, "E_IF_init");
		c.wb_enc = sym(VOWB, "E_IF_encode");
		c.wb_enc_exit = sym(VOWB, "E_IF_exit");
	} else if (strcmp(op, "gsm-dec") == 0) {
		c.gsm_create = sym(GSM, "gsm_create");
		c.gsm_option = sym(GSM, "gsm_option");
		c.gsm_decode = sym(GSM, "gsm_decode");
		c.gsm_destroy = sym(GSM, "gsm_destroy");
	}
	s = g_new0(struct sample, rounds);
	for (int i = -1; i < rounds; i++) {
		double c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		double w0 = now_ms(CLOCK_MONOTONIC);

		check += codec_pass(&c, op, (const uint8_t *)data, &info);
		if (i >= 0) {
			s[i].wall_ms = now_ms(CLOCK_MONOTONIC) - w0;
			s[i].cpu_ms = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
		}
	}
	what = g_strdup_printf("op=%s input=%s", op, argv[optind + 1]);
	extra = g_strdup_printf("check=%" G_GUINT64_FORMAT, check);
	report("codec", what, info.duration_ms, s, rounds, extra);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: mediabench probe|gst|worker|exec|codec ... (see mediabench.c)");
	if (strcmp(argv[1], "probe") == 0)
		return cmd_probe(argc - 2, argv + 2);
	if (strcmp(argv[1], "gst") == 0)
		return cmd_convert(false, argc - 1, argv + 1);
	if (strcmp(argv[1], "worker") == 0)
		return cmd_convert(true, argc - 1, argv + 1);
	if (strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 1, argv + 1);
	if (strcmp(argv[1], "codec") == 0)
		return cmd_codec(argc - 1, argv + 1);
	die("unknown mode %s", argv[1]);
}
