/*
 * id.c: monotonic ULID-style ids (id.h).
 */
#include "core/id.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/crypto.h"

static const char dh__b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t dh__id_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t dh__last_ms;
static unsigned char dh__last_rand[10];

void dh_id_new(const char *prefix, char out[DH_ID_MAX])
{
    unsigned char bytes[16];
    int64_t ms = dh_clock_wall_ms();

    pthread_mutex_lock(&dh__id_lock);
    if (ms <= dh__last_ms) {
        /* Same (or earlier: clock stepped back) millisecond: keep order. */
        ms = dh__last_ms;
        for (int i = 9; i >= 0; i--)
            if (++dh__last_rand[i] != 0)
                break;
    } else {
        dh_crypto_random(dh__last_rand, sizeof(dh__last_rand));
        dh__last_rand[0] &= 0x7f; /* leave room to increment */
        dh__last_ms = ms;
    }
    memcpy(bytes + 6, dh__last_rand, 10);
    pthread_mutex_unlock(&dh__id_lock);

    for (int i = 5; i >= 0; i--) {
        bytes[i] = (unsigned char)(ms & 0xff);
        ms >>= 8;
    }

    size_t n = (size_t)snprintf(out, DH_ID_MAX, "%s_", prefix);
    /* 128 bits -> 26 base32 digits, most significant first (2 pad bits). */
    for (int d = 0; d < 26 && n + 1 < DH_ID_MAX; d++) {
        int bit = d * 5 - 2; /* position of this digit's first bit */
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int b = bit + k;
            v <<= 1;
            if (b >= 0)
                v |= (bytes[b / 8] >> (7 - b % 8)) & 1u;
        }
        out[n++] = dh__b32[v];
    }
    out[n] = '\0';
}

int dh_id_valid(const char *prefix, const char *s)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0 || s[pl] != '_')
        return 0;
    s += pl + 1;
    if (strlen(s) != 26)
        return 0;
    for (; *s != '\0'; s++)
        if (strchr(dh__b32, *s) == NULL)
            return 0;
    return 1;
}
