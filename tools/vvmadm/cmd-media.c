/* Voice files outside the mount: media info (what lib/media's probe reads
 * in a file) and media convert (a transcode through vvm-media-worker,
 * under the same budget the server uses). Neither touches the mount. */
#include "vvmadm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vvm-config.h"
#include "vvm-media.h"

/* --max-seconds not given: the budget's default. */
#define MAX_SECONDS_UNSET G_MININT

/* Prints the record of one file; returns false for a file that could not
 * be read or is no audio (the record then ends with an error line). */
static bool info_file(const char *file)
{
	g_autoptr(GBytes) data = NULL;
	struct media_info info;
	const char *reason = NULL;
	enum media_target target;
	size_t len;
	const void *bytes;
	int ret = vvmadm_read_file(file, &data);

	printf("file %s\n", file);
	if (ret < 0) {
		printf("error %s\n", g_strerror(-ret));
		fflush(stdout);
		vvmadm_error(-ret, NULL, "media info %s", file);
		return false;
	}
	bytes = g_bytes_get_data(data, &len);
	if (media_probe(bytes, len, &info, &reason) < 0) {
		printf("error %s\n", reason);
		fflush(stdout);
		fprintf(stderr, "vvmadm: media info %s: %s\n", file, reason);
		return false;
	}
	printf("container %s\n", media_container_name(info.container));
	printf("codec %s\n", media_codec_name(info.codec));
	if (media_info_target(&info, &target))
		printf("mime %s\n", media_target_mime(target));
	printf("rate %u\n", (unsigned)info.rate);
	printf("channels %u\n", (unsigned)info.channels);
	if (info.bits != 0)
		printf("bits %u\n", (unsigned)info.bits);
	if (info.container == MEDIA_CONTAINER_WAV)
		printf("wav_format %u\n", (unsigned)info.wav_format);
	printf("frames %" G_GUINT64_FORMAT "\n", (guint64)info.frames);
	printf("duration_ms %" G_GUINT64_FORMAT "\n",
	       (guint64)info.duration_ms);
	printf("content_duration %" G_GUINT64_FORMAT "\n",
	       (guint64)media_content_duration(info.duration_ms));
	printf("truncated %s\n", info.truncated ? "yes" : "no");
	return true;
}

static int media_info_run(struct vvmadm *adm, int argc, char **argv)
{
	int status = VVMADM_OK;

	if (!vvmadm_parse_options(adm, &argc, &argv, NULL))
		return VVMADM_USAGE;
	/* argv[1] is "info". */
	if (argc < 3)
		return vvmadm_usage(argv[0]);
	for (int i = 2; i < argc; i++) {
		/* One record per file, a blank line between two. */
		if (i > 2)
			putchar('\n');
		if (!info_file(argv[i]))
			status = VVMADM_FAILED;
	}
	if (fflush(stdout) != 0) {
		vvmadm_error(errno, NULL, "media info");
		status = VVMADM_FAILED;
	}
	return status;
}

/* The worker from --worker, else [media] worker of the config file, else
 * the installed one (and then [media] registry too). Returns NULL after
 * printing why the config file could not be read. */
static char *worker_find(const char *worker, const char *config_file)
{
	g_autoptr(GKeyFile) config = NULL;
	g_autofree char *error = NULL;

	if (worker != NULL)
		return g_strdup(worker);
	if (vvm_config_open(config_file, &config, &error) < 0) {
		fprintf(stderr, "vvmadm: media convert: %s\n", error);
		return NULL;
	}
	media_worker_use_registry(config);
	return media_worker_path(config);
}

/* Writes data to out by way of out.tmp, so that out is either the whole
 * result or untouched. Returns 0 or -errno. */
static int output_write(const char *out, GBytes *data)
{
	g_autofree char *tmp = g_strdup_printf("%s.tmp", out);
	size_t len;
	const void *bytes = g_bytes_get_data(data, &len);
	int fd, ret;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0666);
	if (fd < 0)
		return -errno;
	ret = vvm_write_all(fd, bytes, len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, out) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

static bool parse_target(const char *text, enum media_target *target_r)
{
	if (text == NULL) {
		fprintf(stderr, "vvmadm: media convert: --to is required\n");
		return false;
	}
	if (!media_target_from_token(text, target_r)) {
		fprintf(stderr, "vvmadm: media convert: --to '%s' is no format "
				"vvm produces (amr, amr-wb, wav-g711a, "
				"wav-g711u, wav, or their MIME types)\n", text);
		return false;
	}
	return true;
}

static int media_convert_run(struct vvmadm *adm, int argc, char **argv)
{
	g_autofree char *to = NULL;
	g_autofree char *out = NULL;
	g_autofree char *worker_arg = NULL;
	g_autofree char *config_file = NULL;
	gint max_seconds = MAX_SECONDS_UNSET;
	const GOptionEntry entries[] = {
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to,
		  "the format to produce: amr, amr-wb, wav-g711a, wav-g711u, "
		  "wav, or a MIME type such as 'audio/wav; codec=g711u'",
		  "TYPE" },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
		  "write to OUT (default: standard output)", "OUT" },
		{ "worker", 0, 0, G_OPTION_ARG_FILENAME, &worker_arg,
		  "the vvm-media-worker program to run (default: [media] "
		  "worker of the config file, else the installed one)",
		  "PATH" },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_file,
		  "the vvm config file (default: " VVM_CONFIG_DEFAULT
		  " if it exists)", "FILE" },
		{ "max-seconds", 0, 0, G_OPTION_ARG_INT, &max_seconds,
		  "kill the worker after N seconds of wall-clock or CPU time "
		  "(default 30)", "N" },
		G_OPTION_ENTRY_NULL
	};
	struct media_budget budget = { 0 };
	enum media_target target;
	g_autofree char *worker = NULL;
	g_autofree char *reason = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GBytes) result = NULL;
	const char *file;
	bool to_stdout;
	int ret;

	if (!vvmadm_parse_options(adm, &argc, &argv, entries))
		return VVMADM_USAGE;
	/* argv[1] is "convert". */
	if (argc != 3)
		return vvmadm_usage(argv[0]);
	file = argv[2];
	if (!parse_target(to, &target))
		return VVMADM_USAGE;
	if (max_seconds == MAX_SECONDS_UNSET) {
		max_seconds = 0;
	} else if (max_seconds <= 0) {
		fprintf(stderr, "vvmadm: media convert: --max-seconds must be "
				"a positive number\n");
		return VVMADM_USAGE;
	}
	to_stdout = out == NULL || strcmp(out, "-") == 0;
	if (to_stdout && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "vvmadm: media convert: not writing audio to "
				"a terminal; give -o OUT or redirect\n");
		return VVMADM_USAGE;
	}
	/* Both limits: a plugin that spins costs CPU time, one that blocks
	 * only wall-clock time. */
	budget.wall_seconds = (unsigned)max_seconds;
	budget.cpu_seconds = (unsigned)max_seconds;

	worker = worker_find(worker_arg, config_file);
	if (worker == NULL)
		return VVMADM_FAILED;
	ret = vvmadm_read_file(file, &data);
	if (ret < 0) {
		fprintf(stderr, "vvmadm: convert %s: %s\n", file,
			g_strerror(-ret));
		return VVMADM_FAILED;
	}
	ret = media_transcode_isolated(worker, g_bytes_get_data(data, NULL),
				       g_bytes_get_size(data), target, &budget,
				       &result, &reason);
	if (ret < 0) {
		fprintf(stderr, "vvmadm: convert %s: %s\n", file, reason);
		return VVMADM_FAILED;
	}
	if (to_stdout) {
		ret = vvm_write_all(STDOUT_FILENO,
				    g_bytes_get_data(result, NULL),
				    g_bytes_get_size(result));
	} else {
		ret = output_write(out, result);
	}
	if (ret < 0) {
		fprintf(stderr, "vvmadm: convert %s: %s: %s\n", file,
			to_stdout ? "standard output" : out, g_strerror(-ret));
		return VVMADM_FAILED;
	}
	return VVMADM_OK;
}

int cmd_media(struct vvmadm *adm, int argc, char **argv)
{
	/* The sub-command stays in argv: the options of the command table's
	 * "media" entry are parsed around it. */
	if (argc >= 2 && strcmp(argv[1], "info") == 0)
		return media_info_run(adm, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "convert") == 0)
		return media_convert_run(adm, argc, argv);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0))
		return vvmadm_help(argv[0]);
	if (argc >= 2 && argv[1][0] != '-')
		fprintf(stderr, "vvmadm: media: unknown sub-command '%s'\n",
			argv[1]);
	return vvmadm_usage(argv[0]);
}
