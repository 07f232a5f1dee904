/* users.h - routing's table of users by userId. */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>
#include <stdint.h>

#define NO_MEMBER UINT32_MAX    /* the end of a user's list of connections */

struct user {
    uint32_t members;           /* its first connection's id (routing links the rest) */
    uint32_t nconns;            /* how many */
    uint32_t hash;              /* of id, so a shift needs no rehash */
    uint8_t len;                /* bytes in id */
    char id[];                  /* the userId, stored once, NUL-terminated */
};

/* A table for up to max_users at once. 0, or -1 when out of memory. */
int users_init(size_t max_users);
/* The user called id[0..len), or NULL. */
struct user *users_find(const char *id, size_t len);
/* The same, made (with no connection) where there is none; NULL when out of
 * memory. */
struct user *users_add(const char *id, size_t len);
/* Takes u out of the table; the caller frees it (after its last words). */
void users_remove(struct user *u);
size_t users_count(void);
/* Fills ids with up to cap userIds, in no order; returns how many. */
size_t users_ids(const char **ids, size_t cap);

#endif
