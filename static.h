/* static.h - the chat page's files: built into the binary, or a folder. */
#ifndef STATIC_H
#define STATIC_H

#include <stddef.h>

struct static_file {
    const char *path;           /* "/index.html" */
    const char *type;           /* its Content-Type */
    const unsigned char *data;  /* its bytes */
    size_t len;
};

/* The built-in files (generated from static/ at build time). */
extern const struct static_file static_files[];
extern const size_t static_files_count;

/* Serves from dir instead of the built-in files (NULL: built-in). */
void static_set_dir(const char *dir);

/* Looks up a decoded request path ("/" means "/index.html"). Returns 0 and
 * fills *out (the bytes stay valid until the next call), -1 when there is no
 * such file, -2 when the path tries to leave the folder. */
int static_find(const char *path, size_t len, struct static_file *out);

#endif
