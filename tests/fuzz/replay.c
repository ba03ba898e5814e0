/* Replays fuzz inputs without libFuzzer: calls LLVMFuzzerTestOneInput on
 * every file named on the command line and every file in the directories
 * named there, so that meson test keeps fixed crashes fixed. */
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	GError *error = NULL;
	gchar *data;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, &error)) {
		fprintf(stderr, "%s\n", error->message);
		g_error_free(error);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	g_free(data);
	return 0;
}

static int replay_dir(const char *path, unsigned *count)
{
	GError *error = NULL;
	GDir *dir = g_dir_open(path, 0, &error);
	const char *name;
	int ret = 0;

	if (dir == NULL) {
		fprintf(stderr, "%s\n", error->message);
		g_error_free(error);
		return -1;
	}
	while ((name = g_dir_read_name(dir)) != NULL && ret == 0) {
		gchar *file = g_build_filename(path, name, NULL);

		ret = replay_file(file);
		(*count)++;
		g_free(file);
	}
	g_dir_close(dir);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int i, ret = 0;

	for (i = 1; i < argc && ret == 0; i++) {
		if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
			ret = replay_dir(argv[i], &count);
		} else {
			ret = replay_file(argv[i]);
			count++;
		}
	}
	if (ret == 0)
		printf("replayed %u inputs\n", count);
	return ret == 0 ? 0 : 1;
}
