/* vvm-media-worker: one transcode, in a process of its own (see
 * media-worker.c). Standard input is the audio, standard output the
 * result; on failure standard error says why, in one line, and the exit
 * status is the errno. It limits itself before it reads a byte, so that
 * whatever a plugin does with a hostile file stays inside the budget. */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "vvm-media.h"

#ifdef __SANITIZE_ADDRESS__
/* GLib's constructor allocates its quark table and, when GStreamer's
 * quarks outgrow it, moves it and leaves the old block behind for readers
 * that take no lock: LeakSanitizer sees a leak at every exit. Only a full
 * unwind reaches the constructor frame that tells it from a real leak.
 *
 * The suppression names the dynamic loader's module, not a function in
 * it: function names inside ld.so (call_init) exist only where libc6-dbg
 * is installed, its module path everywhere. It hides what is allocated
 * while ld.so is on the stack, that is by the constructors of the
 * libraries (GLib's, a plugin's), never by the worker's own code, which
 * has none. */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);

const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

const char *__lsan_default_suppressions(void)
{
	return "leak:/ld-linux-\n";
}
#endif

static void limit(int resource, rlim_t value)
{
	struct rlimit rl = { value, value };

	setrlimit(resource, &rl);
}

static int fail(int err, const char *reason)
{
	fprintf(stderr, "%s\n", reason);
	return err;
}

static void on_alarm(int sig)
{
	static const char reason[] = "transcoding took longer than the budget\n";

	(void)sig;
	(void)!write(2, reason, sizeof(reason) - 1);
	_exit(ETIMEDOUT);
}

/* The wall clock of its own: GStreamer can hang where no CPU limit
 * fires (below), and the worker may run without media-worker.c. */
static void limit_wall_clock(unsigned seconds)
{
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}

/* GLib and GStreamer warnings stay off stderr, which holds the reason
 * only (GST_DEBUG still prints GStreamer's own log there). One warning
 * ends the run: GStreamer 1.22 deadlocks in gst_task_join() after it
 * fails to create a streaming thread, which is how a small memory
 * budget shows. */
static GLogWriterOutput quiet_writer(GLogLevelFlags level,
				     const GLogField *fields, gsize n_fields,
				     gpointer data)
{
	(void)data;
	for (gsize i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0 &&
		    fields[i].length < 0 &&
		    g_str_has_prefix(fields[i].value, "failed to create thread")) {
			fail(0, "cannot create a thread within the memory budget");
			_exit(ENOMEM);
		}
	}
	if (level & G_LOG_LEVEL_ERROR)
		return g_log_writer_standard_streams(level, fields, n_fields,
						     NULL);
	return G_LOG_WRITER_HANDLED;
}

static bool write_all(int fd, const void *data, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct media_budget budget = { 0 };
	g_autofree char *to = NULL;
	gint64 max_output = 0, max_duration = 0;
	int wall = 0, cpu = 0, memory = 0;
	GOptionEntry entries[] = {
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to, "target format", "TYPE" },
		{ "max-output", 0, 0, G_OPTION_ARG_INT64, &max_output, "bytes", "N" },
		{ "max-duration-ms", 0, 0, G_OPTION_ARG_INT64, &max_duration, "ms", "N" },
		{ "wall-seconds", 0, 0, G_OPTION_ARG_INT, &wall, "seconds", "N" },
		{ "cpu-seconds", 0, 0, G_OPTION_ARG_INT, &cpu, "seconds", "N" },
		{ "memory-mb", 0, 0, G_OPTION_ARG_INT, &memory, "MiB", "N" },
		{ NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new("< IN > OUT");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) out = NULL;
	g_autofree char *reason = NULL;
	enum media_target target;
	struct stat st;
	void *data = NULL;
	int ret;

	/* Nothing of the parent's but the three standard streams. */
	closefrom(3);
	/* GOption reads arguments in the locale's charset. */
	setlocale(LC_ALL, "");
	g_log_set_writer_func(quiet_writer, NULL, NULL);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return fail(EINVAL, error->message);
	if (to == NULL || !media_target_from_token(to, &target))
		return fail(EINVAL, "--to names no format the server produces");
	budget.max_output = (uint64_t)MAX(max_output, 0);
	budget.max_duration_ms = (uint64_t)MAX(max_duration, 0);
	budget.wall_seconds = (unsigned)MAX(wall, 0);
	budget.cpu_seconds = (unsigned)MAX(cpu, 0);
	budget.memory_mb = (unsigned)MAX(memory, 0);
	media_budget_defaults(&budget);
	limit_wall_clock(budget.wall_seconds);
	limit(RLIMIT_CPU, budget.cpu_seconds);
#ifndef __SANITIZE_ADDRESS__
	/* AddressSanitizer reserves terabytes of address space: under it
	 * the memory budget cannot be an address-space limit. */
	limit(RLIMIT_AS, (rlim_t)budget.memory_mb << 20);
#endif
	limit(RLIMIT_FSIZE, budget.max_output + 4096);
	limit(RLIMIT_CORE, 0);

	if (fstat(0, &st) < 0 || !S_ISREG(st.st_mode))
		return fail(EINVAL, "standard input must be a file");
	if (st.st_size > 0) {
		data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, 0, 0);
		if (data == MAP_FAILED)
			return fail(errno == ENOMEM ? ENOMEM : EIO,
				    g_strerror(errno));
	}
	ret = media_gst_transcode(data, (size_t)st.st_size, target, &budget,
				  &out, &reason);
	if (ret < 0)
		return fail(-ret, reason);
	if (!write_all(1, g_bytes_get_data(out, NULL), g_bytes_get_size(out)))
		return fail(EIO, "cannot write the output");
	return 0;
}
