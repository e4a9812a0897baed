/* Replays inputs through a fuzz target without libFuzzer: every file named on the command
 * line, and every file below a named directory, is passed to LLVMFuzzerTestOneInput once,
 * in an exactly sized heap buffer so that sanitizers see any overread. Exits non-zero when
 * a path cannot be read or no input was found (an empty corpus must not pass silently). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

#define REPLAY_MAX_BYTES ((size_t)4 << 20)

static int replay_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            fprintf(stderr, "%s: out of memory\n", path);
            return -1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= REPLAY_MAX_BYTES)
            break;
        uint8_t *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f) || n >= REPLAY_MAX_BYTES;
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "%s: read error or larger than %zu bytes\n", path, REPLAY_MAX_BYTES);
        return -1;
    }
    /* Exactly n bytes, so that reading past the input is an ASan report. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (n)
        memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    (*count)++;
    return 0;
}

static int replay_path(const char *path, size_t *count, int depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode))
        return replay_file(path, count);
    if (depth > 8) {
        fprintf(stderr, "%s: directories nested too deep\n", path);
        return -1;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    const struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ., .. and hidden files such as .gitkeep */
        size_t len = strlen(path) + 1 + strlen(e->d_name) + 1;
        char *child = malloc(len);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, len, "%s/%s", path, e->d_name);
        if (replay_path(child, count, depth + 1) != 0)
            rc = -1;
        free(child);
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i], &count, 0) != 0)
            rc = 1;
    if (count == 0) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    printf("%s: replayed %zu inputs\n", argv[0], count);
    return rc;
}
