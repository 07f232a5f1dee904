/* test_rooms.c - routing's table of rooms: exact names, join and leave and
 * their refusals, a random churn against a bitmap model, the LRU histories
 * (every frame counted back), and joins and leaves as cheap in a room of
 * 10 000 as in one of 10. A connection is its id (conn_id() is all rooms.c
 * asks); frame_unref() is stubbed to count frees. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "conn.h"
#include "history.h"
#include "rooms.h"

/* ------------------------------------------------------------- stubs */

#define MAX_IDS 32768
#define MAX_PER_CONN 5
#define MAX_HISTORIES 3

struct conn {
    int id;
};

int conn_id(const struct conn *c)
{
    return c->id;
}

static struct conn conns[MAX_IDS];

static size_t frames_made, frames_freed;

static struct frame *frame_new(void)
{
    struct frame *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->refs = 1;
    frames_made++;
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0) {
        frames_freed++;
        free(f);
    }
}

/* ----------------------------------------------------------- helpers */

static struct room *get(const char *name)
{
    return rooms_get(name, strlen(name));
}

static struct room *find(const char *name)
{
    return rooms_find(name, strlen(name));
}

static int join(int id, struct room *r)
{
    return rooms_join(&conns[id], r);
}

static int leave(int id, struct room *r)
{
    return rooms_leave(&conns[id], r);
}

static size_t nrooms_of(int id)
{
    struct room *const *rs;
    return rooms_of(&conns[id], &rs);
}

/* Leaves every room, the last first, as routing does on close. */
static void close_conn(int id)
{
    struct room *const *rs;
    size_t n;
    while ((n = rooms_of(&conns[id], &rs)) > 0 && rooms_leave(&conns[id], rs[n - 1]) == ROOMS_OK)
        ;
    if (n > 0)
        CHECK(!"close: a room of rooms_of() could not be left");
}

static bool is_member(const struct room *r, int id)
{
    const uint32_t *ids;
    uint32_t n = rooms_members(r, &ids);
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == (uint32_t)id)
            return true;
    return false;
}

/* -------------------------------------------------------- the basics */

static void test_basics(void)
{
    struct room *a = get("lobby");
    CHECK(a && find("lobby") == a && get("lobby") == a);
    CHECK(find("Lobby") == NULL && find("lobbx") == NULL && find("lobb") == NULL);
    CHECK(rooms_find("lobby\0", 6) == NULL);
    struct room *b = get("Lobby"), *z = rooms_get("lobby\0", 6);
    CHECK(b && z && b != a && z != a && z != b);
    CHECK(find("Lobby") == b && rooms_find("lobby\0", 6) == z);
    size_t len;
    CHECK(memcmp(rooms_name(z, &len), "lobby\0", 6) == 0 && len == 6);

    CHECK(join(1, a) == ROOMS_OK && join(1, a) == ROOMS_ALREADY_IN);
    CHECK(join(2, a) == ROOMS_OK && join(1, b) == ROOMS_OK && join(3, z) == ROOMS_OK);
    CHECK(rooms_has(&conns[1], a) && rooms_has(&conns[1], b) && !rooms_has(&conns[1], z));
    CHECK(rooms_has(&conns[2], a) && !rooms_has(&conns[2], b) && !rooms_has(&conns[4], a));
    CHECK(is_member(a, 1) && is_member(a, 2) && !is_member(a, 3));
    const uint32_t *ids;
    CHECK(rooms_members(a, &ids) == 2 && rooms_members(b, &ids) == 1 && ids[0] == 1);
    struct room *const *rs;
    CHECK(rooms_of(&conns[1], &rs) == 2 && rs[0] == a && rs[1] == b && nrooms_of(4) == 0);
    CHECK(rooms_open() == 3 && rooms_memberships() == 4);

    CHECK(leave(3, a) == ROOMS_NOT_IN && leave(4, a) == ROOMS_NOT_IN);
    CHECK(leave(1, a) == ROOMS_OK && leave(1, a) == ROOMS_NOT_IN);
    CHECK(find("lobby") == a && !rooms_has(&conns[1], a) && !is_member(a, 1));
    CHECK(rooms_of(&conns[1], &rs) == 1 && rs[0] == b);
    CHECK(leave(2, a) == ROOMS_OK && find("lobby") == NULL); /* empty, no history: gone */
    CHECK(rooms_open() == 2 && rooms_memberships() == 2);

    /* Past max_per_conn: refused, and the room made for it does not stay. */
    char name[32];
    for (int i = 0; i < MAX_PER_CONN - 1; i++) {
        snprintf(name, sizeof name, "many-%d", i);
        CHECK(join(1, get(name)) == ROOMS_OK);
    }
    CHECK(nrooms_of(1) == MAX_PER_CONN);
    CHECK(join(1, get("one-too-many")) == ROOMS_TOO_MANY && find("one-too-many") == NULL);
    CHECK(join(1, b) == ROOMS_ALREADY_IN);  /* not TOO_MANY: it is in b */
    /* A refused join into a room others are in leaves that room alone. */
    CHECK(join(3, z) == ROOMS_ALREADY_IN && join(1, z) == ROOMS_TOO_MANY);
    CHECK(rooms_find("lobby\0", 6) == z && is_member(z, 3));
    CHECK(!rooms_has(&conns[1], z) && nrooms_of(1) == MAX_PER_CONN);
    close_conn(1);
    CHECK(nrooms_of(1) == 0 && find("Lobby") == NULL && find("many-0") == NULL);

    /* A room with a history stays once empty; it stops being open. */
    struct room *h = get("kept");
    CHECK(join(5, h) == ROOMS_OK && rooms_history(h) != NULL);
    CHECK(rooms_open() == 2 && rooms_memberships() == 2);
    CHECK(leave(5, h) == ROOMS_OK && find("kept") == h && rooms_history_if_any(h) != NULL);
    CHECK(rooms_members(h, &ids) == 0);
    close_conn(3);
    CHECK(rooms_find("lobby\0", 6) == NULL && rooms_open() == 0 && rooms_memberships() == 0);

    /* Many rooms at once: the table grows and still finds every one. */
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "grow-%d", i);
        found += join(100 + i, get(name)) == ROOMS_OK;
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "grow-%d", i);
        struct room *r = find(name);
        found += r && rooms_has(&conns[100 + i], r) && is_member(r, 100 + i);
    }
    CHECK(found == 2000 && rooms_open() == 1000);
    for (int i = 0; i < 1000; i++)
        close_conn(100 + i);
    CHECK(find("grow-0") == NULL && rooms_open() == 0 && rooms_memberships() == 0);
}

/* ------------------------------------------------- churn against a model */

#define NCONNS 300
#define NROOMS 40
#define STEPS 20000

static bool model[NCONNS][NROOMS];
static char room_names[NROOMS][16];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* The model's index of a room, or -1. */
static int room_index(const struct room *r)
{
    for (int k = 0; k < NROOMS; k++)
        if (find(room_names[k]) == r)
            return k;
    return -1;
}

/* c's rooms as the table has them, against the model: 1 when they agree. */
static int conn_agrees(int c)
{
    struct room *const *rs;
    size_t n = rooms_of(&conns[c], &rs), want = 0;
    bool seen[NROOMS] = {0};
    for (int k = 0; k < NROOMS; k++)
        want += model[c][k];
    if (n != want || n > MAX_PER_CONN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int k = room_index(rs[i]);
        if (k < 0 || seen[k] || !model[c][k])
            return 0;
        seen[k] = true;
    }
    return 1;
}

/* Room k as the table has it, against the model: 1 when they agree. */
static int room_agrees(int k, bool every_pair)
{
    struct room *r = find(room_names[k]);
    uint32_t want = 0;
    for (int c = 0; c < NCONNS; c++)
        want += model[c][k];
    if (!r)
        return want == 0;
    const uint32_t *ids;
    uint32_t n = rooms_members(r, &ids);
    if (n != want || n == 0)        /* an empty room without history is gone */
        return 0;
    bool seen[NCONNS] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] >= NCONNS || seen[ids[i]] || !model[ids[i]][k])
            return 0;
        seen[ids[i]] = true;
    }
    for (int c = 0; every_pair && c < NCONNS; c++)
        if (rooms_has(&conns[c], r) != model[c][k])
            return 0;
    return 1;
}

static void check_all(int step)
{
    int bad = 0;
    size_t open = 0, memberships = 0;
    for (int k = 0; k < NROOMS; k++) {
        bad += !room_agrees(k, true);
        size_t n = 0;
        for (int c = 0; c < NCONNS; c++)
            n += model[c][k];
        open += n > 0;
        memberships += n;
    }
    for (int c = 0; c < NCONNS; c++)
        bad += !conn_agrees(c);
    CHECK(bad == 0);
    CHECK(rooms_open() == open && rooms_memberships() == memberships);
    if (bad)
        fprintf(stderr, "  ...at step %d: %d rooms or connections disagree\n", step, bad);
}

static void test_churn(void)
{
    for (int k = 0; k < NROOMS; k++)
        snprintf(room_names[k], sizeof room_names[k], "r%d", k);
    int bad = 0, too_many = 0, stayed = 0;
    for (int step = 0; step < STEPS; step++) {
        int c = (int)rnd(NCONNS), k = (int)rnd(NROOMS);
        uint32_t what = rnd(100);
        if (what < 50) {                    /* join a random room */
            bool was_open = find(room_names[k]) != NULL;
            int want = model[c][k] ? ROOMS_ALREADY_IN
                     : nrooms_of(c) == MAX_PER_CONN ? ROOMS_TOO_MANY : ROOMS_OK;
            int got = join(c, get(room_names[k]));
            bad += got != want;
            model[c][k] |= got == ROOMS_OK;
            too_many += got == ROOMS_TOO_MANY;
            stayed += got == ROOMS_TOO_MANY && !was_open && find(room_names[k]);
        } else if (what < 80) {             /* leave one of its rooms */
            struct room *const *rs;
            size_t n = rooms_of(&conns[c], &rs);
            struct room *r = find(room_names[k]);
            if (n == 0) {
                bad += r && leave(c, r) != ROOMS_NOT_IN;
            } else {
                k = room_index(rs[rnd((uint32_t)n)]);
                bad += k < 0 || leave(c, find(room_names[k])) != ROOMS_OK;
                k = k < 0 ? 0 : k;
                model[c][k] = false;
            }
        } else if (what < 95) {             /* close it */
            close_conn(c);
            memset(model[c], 0, sizeof model[c]);
        } else {                            /* fill it up, and one more */
            for (int t = 0; t < 1000 && nrooms_of(c) < MAX_PER_CONN; t++) {
                int j = (int)rnd(NROOMS);
                if (!model[c][j]) {
                    bad += join(c, get(room_names[j])) != ROOMS_OK;
                    model[c][j] = true;
                }
            }
            while (model[c][k])
                k = (int)rnd(NROOMS);
            bool was_open = find(room_names[k]) != NULL;
            bad += join(c, get(room_names[k])) != ROOMS_TOO_MANY;
            stayed += !was_open && find(room_names[k]);
            too_many++;
        }
        bad += !conn_agrees(c) + !room_agrees(k, false);
        if (step % 100 == 99)
            check_all(step);
    }
    CHECK(bad == 0);
    CHECK(stayed == 0);         /* a refused join never leaves a room behind */
    CHECK(too_many > 100);      /* the refusal was exercised */
    fprintf(stderr, "churn: %d steps, %d refused as too many\n", STEPS, too_many);
    for (int c = 0; c < NCONNS; c++)
        close_conn(c);
    memset(model, 0, sizeof model);
    check_all(STEPS);               /* every room gone, the gauges at 0 */
}

/* ---------------------------------------------------------- histories */

/* Adds n fresh frames to r's history, keeping no reference of our own. */
static void add_frames(struct room *r, int n, uint64_t first_id)
{
    for (int i = 0; i < n; i++) {
        struct frame *f = frame_new();
        history_add(rooms_history(r), f, first_id + (uint64_t)i);
        frame_unref(f);
    }
}

static void test_histories(void)
{
    size_t freed0 = frames_freed;
    /* "kept" (from the basics) has the oldest history; A, B, C come after. */
    struct room *a = get("A"), *b = get("B"), *c = get("C");
    CHECK(join(7, c) == ROOMS_OK);          /* C has a member, B none */
    add_frames(a, 2, 1);
    add_frames(b, 3, 1);
    CHECK(find("kept") != NULL);
    add_frames(c, 4, 1);                    /* a fourth: "kept" is forgotten */
    CHECK(find("kept") == NULL);            /* and, empty, is gone */
    CHECK(rooms_history_if_any(a)->len == 2 && rooms_history_if_any(b)->len == 3);
    CHECK(rooms_history_if_any(c)->len == 4 && history_at(rooms_history_if_any(b), 2)->id == 3);
    CHECK(frames_freed == freed0);          /* the histories hold every frame */

    /* Touch A; a look at B is no touch. D's history pushes B out. */
    CHECK(rooms_history(a) == rooms_history_if_any(a));
    CHECK(rooms_history_if_any(b) != NULL);
    struct room *d = get("D");
    add_frames(d, 1, 1);
    CHECK(find("B") == NULL);               /* forgotten, and it had no member */
    CHECK(find("A") == a && find("C") == c && find("D") == d);
    CHECK(rooms_history_if_any(a) && rooms_history_if_any(c) && rooms_history_if_any(d));
    CHECK(frames_freed == freed0 + 3);

    /* A ring of HISTORY_LEN: the oldest go first, each freed at once. */
    add_frames(a, HISTORY_LEN + 10, 100);   /* order now C, D, A */
    const struct history *ha = rooms_history_if_any(a);
    CHECK(ha->len == HISTORY_LEN && history_at(ha, 0)->id == 110);
    CHECK(history_at(ha, HISTORY_LEN - 1)->id == 100 + HISTORY_LEN + 9);
    CHECK(frames_freed == freed0 + 3 + 12);

    /* E pushes C out: C loses its history but keeps its member. */
    add_frames(get("E"), 5, 1);
    CHECK(find("C") == c && rooms_history_if_any(c) == NULL);
    CHECK(is_member(c, 7) && rooms_has(&conns[7], c) && rooms_open() == 1);
    CHECK(frames_freed == freed0 + 3 + 12 + 4);
    CHECK(leave(7, c) == ROOMS_OK && find("C") == NULL);

    /* Three empty histories push out the rest: every frame is back. */
    rooms_history(get("flush-1"));
    rooms_history(get("flush-2"));
    rooms_history(get("flush-3"));
    CHECK(find("A") == NULL && find("D") == NULL && find("E") == NULL);
    CHECK(frames_made > 0 && frames_freed == frames_made);
    fprintf(stderr, "histories: %zu frames made, %zu freed\n", frames_made, frames_freed);
}

/* ------------------------------------------------------- O(1) in size */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define PAIRS 1000
#define ROUNDS 5

/* The best of ROUNDS times PAIRS joins and leaves in a room kept at size
 * members: a fresh id joins, and the member in the middle of the array
 * leaves (a linear search would walk half of it). Ids base and up. */
static double churn_time(const char *name, int base, int size)
{
    struct room *r = get(name);
    const uint32_t *ids;
    int next = base, bad = 0;
    while (next < base + size)
        bad += join(next++, r) != ROOMS_OK;
    double best = 1e9;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now();
        for (int i = 0; i < PAIRS; i++) {
            bad += join(next++, r) != ROOMS_OK;
            uint32_t n = rooms_members(r, &ids);
            bad += leave((int)ids[n / 2], r) != ROOMS_OK;
        }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    CHECK(bad == 0 && rooms_members(r, &ids) == (uint32_t)size);
    for (uint32_t n = rooms_members(r, &ids); n > 0; n--)
        leave((int)ids[n - 1], r);  /* the last leave frees r */
    CHECK(find(name) == NULL);
    return best;
}

static void test_cost(void)
{
    double small = churn_time("small", 20000, 10);
    double big = churn_time("big", 0, 10000);
    fprintf(stderr, "%d joins and leaves: %.1f us in a room of 10, %.1f us in one of 10000\n",
            PAIRS, small * 1e6, big * 1e6);
    CHECK(big < 20 * small);
    CHECK(rooms_open() == 0 && rooms_memberships() == 0);
}

int main(void)
{
    for (int i = 0; i < MAX_IDS; i++)
        conns[i].id = i;
    if (rooms_init(MAX_IDS, MAX_PER_CONN, MAX_HISTORIES) < 0)
        return 1;
    test_basics();
    test_churn();
    test_histories();
    test_cost();
    return check_summary("rooms");
}
