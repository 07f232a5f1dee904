/* test_offline.c - the kept messages (offline.c): the three limits, the
 * oldest going first, since= forgetting, a delivery that is written or
 * abandoned, and a random churn against a model of what must be kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "offline.h"
#include "stats.h"

struct stats stats;

static uint64_t next_id = 1;

/* Keeps a frame of len bytes for user at at_ms; its id, or 0 if refused. */
static uint64_t keep(const char *user, size_t len, int64_t at_ms)
{
    struct frame *f = frame_alloc(len);
    frame_seal_raw(f, len);
    uint64_t id = next_id++;
    int r = offline_keep(user, strlen(user), f, id, at_ms);
    frame_unref(f);
    return r == 0 ? id : 0;
}

static size_t list(const char *user, uint64_t since, uint64_t *ids, size_t cap)
{
    const struct history_entry *v[256];
    size_t n = offline_list(user, strlen(user), since, v, cap < 256 ? cap : 256);
    for (size_t i = 0; i < n && i < cap; i++)
        ids[i] = v[i]->id;
    return n;
}

static void forget_all(const char *user)
{
    list(user, UINT64_MAX, NULL, 0);
}

static void test_limits(void)
{
    offline_init(&(struct offline_limits){.per_user = 3, .ttl_ms = 1000, .bytes = 1000});
    uint64_t a[5], got[8];
    for (int i = 0; i < 5; i++)
        a[i] = keep("ann", 10, 0);
    /* Three a user, the oldest going first. */
    CHECK(list("ann", 0, got, 8) == 3 && got[0] == a[2] && got[2] == a[4]);
    CHECK(stats.offline_dropped == 2 && offline_count() == 3 && offline_bytes() == 30);

    /* The bytes of all: the oldest of anyone goes, here ann's. */
    uint64_t b = keep("bo", 500, 0), c = keep("cy", 480, 0);
    CHECK(b && c && offline_bytes() <= 1000);
    CHECK(list("ann", 0, got, 8) == 2 && got[0] == a[3] && stats.offline_dropped == 3);
    CHECK(list("bo", 0, got, 8) == 1 && list("cy", 0, got, 8) == 1);
    /* A frame larger than all the room is refused, and drops nothing. */
    size_t before = offline_count();
    CHECK(keep("dee", 1001, 0) == 0 && offline_count() == before);

    /* Age: at 1001 ms all of them have passed 1 s. */
    uint64_t fresh = keep("ann", 10, 1001);
    CHECK(list("ann", 0, got, 8) == 1 && got[0] == fresh);
    CHECK(offline_users() == 1 && offline_count() == 1);
    offline_expire(2002);
    CHECK(offline_count() == 0 && offline_users() == 0 && offline_bytes() == 0);

    /* None kept at all with --offline-max 0. */
    offline_init(&(struct offline_limits){.per_user = 0, .ttl_ms = 1000, .bytes = 1000});
    CHECK(!offline_enabled() && keep("ann", 10, 0) == 0 && offline_count() == 0);
}

static void test_since_and_delivery(void)
{
    offline_init(&(struct offline_limits){.per_user = 10, .ttl_ms = 100000, .bytes = 100000});
    uint64_t k[6], got[8];
    for (int i = 0; i < 6; i++)
        k[i] = keep("eve", 10, 0);
    /* since= forgets what the connection saw. */
    CHECK(list("eve", k[1], got, 8) == 4 && got[0] == k[2]);
    CHECK(offline_count() == 4);

    /* k4, k5 go out through tag 7; k6 comes in meanwhile; written, only the
     * two are forgotten. */
    offline_sending("eve", 3, 7, k[4], k[5]);
    uint64_t k6 = keep("eve", 10, 0);
    offline_sent("eve", 3, 8);                  /* another tag: nothing */
    CHECK(offline_count() == 5);
    offline_sent("eve", 3, 7);
    CHECK(list("eve", 0, got, 8) == 3 && got[0] == k[2] && got[1] == k[3] && got[2] == k6);
    offline_sent("eve", 3, 7);                  /* once only */
    CHECK(offline_count() == 3);

    /* Abandoned: all stays. */
    offline_sending("eve", 3, 9, k[2], k6);
    offline_unsent("eve", 3, 9);
    offline_sent("eve", 3, 9);
    CHECK(offline_count() == 3);
    /* Written whole: the box goes. */
    offline_sending("eve", 3, 9, k[2], k6);
    offline_sent("eve", 3, 9);
    CHECK(offline_count() == 0 && offline_users() == 0);
    offline_sent("eve", 3, 9);                  /* no box: nothing */
}

/* Random keeps, lists with since, deliveries and expiries against a model:
 * each user's kept ids, oldest first, and the count and bytes of all. */
static void test_churn(void)
{
    enum { USERS = 50, STEPS = 20000, PER = 8, BYTES = 4000 };
    offline_init(&(struct offline_limits){.per_user = PER, .ttl_ms = 500, .bytes = BYTES});
    static struct { uint64_t id; size_t len; int64_t at; int user; } model[STEPS];
    size_t nmodel = 0, wrong = 0;
    int64_t now = 10000;
    srand(11);
    for (int step = 0; step < STEPS; step++) {
        int u = rand() % USERS;
        char name[16];
        snprintf(name, sizeof name, "u%d", u);
        now += rand() % 3;
        int op = rand() % 10;
        if (op < 6) {
            size_t len = 1 + (size_t)(rand() % 200);
            uint64_t id = keep(name, len, now);
            /* The model: expire, then the user's PER-th oldest, then bytes. */
            size_t w = 0, bytes = 0;
            for (size_t i = 0; i < nmodel; i++)
                if (now - model[i].at <= 500)
                    model[w++] = model[i];
            nmodel = w;
            size_t mine = 0;
            for (size_t i = 0; i < nmodel; i++)
                mine += model[i].user == u;
            if (mine >= PER) {
                for (size_t i = 0; i < nmodel; i++)
                    if (model[i].user == u) {
                        memmove(model + i, model + i + 1, (--nmodel - i) * sizeof model[0]);
                        break;
                    }
            }
            model[nmodel].id = id;
            model[nmodel].len = len;
            model[nmodel].at = now;
            model[nmodel++].user = u;
            for (size_t i = 0; i < nmodel; i++)
                bytes += model[i].len;
            while (bytes > BYTES) {
                bytes -= model[0].len;
                memmove(model, model + 1, --nmodel * sizeof model[0]);
            }
        } else if (op < 8) {
            /* A connection: since= some id, then all it was sent written. */
            uint64_t since = next_id > 20 ? next_id - (uint64_t)(rand() % 20) : 0;
            offline_expire(now);
            size_t w = 0;
            for (size_t i = 0; i < nmodel; i++)
                if (now - model[i].at <= 500 && !(model[i].user == u && model[i].id <= since))
                    model[w++] = model[i];
            nmodel = w;
            uint64_t ids[PER];
            size_t n = list(name, since, ids, PER);
            if (n > 0 && rand() % 2) {
                offline_sending(name, strlen(name), 1, ids[0], ids[n - 1]);
                offline_sent(name, strlen(name), 1);
                w = 0;
                for (size_t i = 0; i < nmodel; i++)
                    if (model[i].user != u)
                        model[w++] = model[i];
                nmodel = w;
            }
        } else {
            now += 100;
        }
        /* Compare one user's list and the totals. */
        offline_expire(now);
        size_t w = 0;
        for (size_t i = 0; i < nmodel; i++)
            if (now - model[i].at <= 500)
                model[w++] = model[i];
        nmodel = w;
        uint64_t got[PER + 1];
        size_t n = list(name, 0, got, PER + 1), k = 0, bytes = 0;
        for (size_t i = 0; i < nmodel; i++) {
            bytes += model[i].len;
            if (model[i].user == u)
                wrong += k >= n || got[k++] != model[i].id;
        }
        wrong += k != n || offline_count() != nmodel || offline_bytes() != bytes;
    }
    CHECK(wrong == 0);
    for (int u = 0; u < USERS; u++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", u);
        forget_all(name);
    }
    CHECK(offline_count() == 0 && offline_users() == 0 && offline_bytes() == 0);
}

int main(void)
{
    test_limits();
    test_since_and_delivery();
    test_churn();
    return check_summary("offline");
}
