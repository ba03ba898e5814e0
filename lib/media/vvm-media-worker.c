/* vvm-media-worker: one transcode, in a process of its own (see
 * media-worker.c). Standard input is the audio, standard output the
 * result; on failure standard error says why and the exit status is the
 * errno. It limits itself before it reads a byte, so that whatever a
 * plugin does with a hostile file stays inside the budget. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "vvm-media.h"

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
	int cpu = 0, memory = 0;
	GOptionEntry entries[] = {
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to, "target format", "TYPE" },
		{ "max-output", 0, 0, G_OPTION_ARG_INT64, &max_output, "bytes", "N" },
		{ "max-duration-ms", 0, 0, G_OPTION_ARG_INT64, &max_duration, "ms", "N" },
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
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return fail(EINVAL, error->message);
	if (to == NULL || !media_target_from_token(to, &target))
		return fail(EINVAL, "--to names no format the server produces");
	budget.max_output = (uint64_t)MAX(max_output, 0);
	budget.max_duration_ms = (uint64_t)MAX(max_duration, 0);
	budget.cpu_seconds = (unsigned)MAX(cpu, 0);
	budget.memory_mb = (unsigned)MAX(memory, 0);
	media_budget_defaults(&budget);
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
			return fail(EIO, g_strerror(errno));
	}
	ret = media_gst_transcode(data, (size_t)st.st_size, target, &budget,
				  &out, &reason);
	if (ret < 0)
		return fail(-ret, reason);
	if (!write_all(1, g_bytes_get_data(out, NULL), g_bytes_get_size(out)))
		return fail(EIO, "cannot write the output");
	return 0;
}
