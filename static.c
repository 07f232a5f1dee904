/* static.c - finds the chat page's files: in the binary, or in a folder.
 *
 * Paths arrive percent-decoded. A path with a ".." segment, a backslash or
 * a NUL is refused before any lookup, and a file of --static-dir is served
 * only where it resolves (symbolic links followed) to a place inside that
 * folder, so neither can hand out a file outside the page's own. */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static.h"

#define MAX_FILE (4u << 20)     /* a folder's file larger than this is not served */

static const char *root;        /* --static-dir, or NULL */
static unsigned char *loaded;   /* the last file read from root */

void static_set_dir(const char *dir)
{
    root = dir;
}

static const char *content_type(const char *path, size_t len)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i].ext);
        if (len >= n && memcmp(path + len - n, types[i].ext, n) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static bool path_safe(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/' || memchr(p, '\0', len) || memchr(p, '\\', len))
        return false;
    for (size_t i = 0; i < len; i++) {
        /* A ".." segment: "/.." followed by the end or another '/'. */
        if (p[i] == '/' && i + 2 < len && p[i + 1] == '.' && p[i + 2] == '.' &&
            (i + 3 == len || p[i + 3] == '/'))
            return false;
    }
    return true;
}

/* Is the file `full` names inside root, once every symbolic link on the
 * way is followed? A link in the folder may point anywhere on the disk. */
static bool inside_root(const char *full, char *resolved)
{
    char top[PATH_MAX];
    if (!realpath(root, top) || !realpath(full, resolved))
        return false;
    size_t n = strlen(top);
    return strncmp(resolved, top, n) == 0 && (resolved[n] == '/' || (n == 1 && top[0] == '/'));
}

/* Reads root + path. Regular files only, and bounded: the page is small. */
static int load_from_dir(const char *path, struct static_file *out)
{
    char full[4096], resolved[PATH_MAX];
    if (snprintf(full, sizeof full, "%s%s", root, path) >= (int)sizeof full)
        return -1;
    if (!inside_root(full, resolved))
        return -1;
    int fd = open(resolved, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
        close(fd);
        return -1;
    }
    free(loaded);
    loaded = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (loaded && got < (size_t)st.st_size) {
        ssize_t n = read(fd, loaded + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!loaded || got != (size_t)st.st_size)
        return -1;
    out->data = loaded;
    out->len = got;
    return 0;
}

int static_find(const char *path, size_t len, struct static_file *out)
{
    if (!path_safe(path, len))
        return -2;
    if (len == 1) {
        path = "/index.html";
        len = strlen(path);
    }
    char p[1024];
    if (len >= sizeof p)
        return -1;
    memcpy(p, path, len);
    p[len] = '\0';
    out->path = NULL;
    out->type = content_type(p, len);
    if (root)
        return load_from_dir(p, out);
    for (size_t i = 0; i < static_files_count; i++) {
        if (strcmp(static_files[i].path, p) == 0) {
            out->data = static_files[i].data;
            out->len = static_files[i].len;
            return 0;
        }
    }
    return -1;
}
