/*
 * log.c: JSON-lines logger (see log.h). Lines are formatted into a bounded
 * stack buffer; an over-long value is cut and marked, never overflowed.
 */
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

enum dh_log_level dh_log_threshold = DH_LOG_INFO;

static const char *const dh__level_names[] = {"debug", "info", "warn", "error", "fatal"};

int dh_log_parse_level(const char *s, enum dh_log_level *out)
{
    for (int i = 0; i <= DH_LOG_ERROR; i++) {
        if (strcmp(s, dh__level_names[i]) == 0) {
            *out = (enum dh_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

struct dh__line {
    char buf[4096];
    size_t len;
};

static void dh__put(struct dh__line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - 2 - l->len; /* keep space for "}\n" */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void dh__put_escaped(struct dh__line *l, const char *s)
{
    char tmp[8];
    dh__put(l, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            dh__put(l, tmp, 2);
        } else if (c == '\n') {
            dh__put(l, "\\n", 2);
        } else if (c < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            dh__put(l, tmp, 6);
        } else {
            dh__put(l, (const char *)&c, 1);
        }
    }
    dh__put(l, "\"", 1);
}

void dh_log_write(enum dh_log_level level, const char *msg, const struct dh_log_field *fields,
                  int nfields)
{
    struct dh__line l;
    char ts[40];
    char num[32];

    l.len = 0;
    dh_clock_format_iso(dh_clock_wall_ms(), ts, sizeof(ts));
    dh__put(&l, "{\"time\":\"", 9);
    dh__put(&l, ts, strlen(ts));
    dh__put(&l, "\",\"level\":\"", 11);
    dh__put(&l, dh__level_names[level], strlen(dh__level_names[level]));
    dh__put(&l, "\",\"msg\":", 8);
    dh__put_escaped(&l, msg);
    for (int i = 0; i < nfields; i++) {
        const struct dh_log_field *f = &fields[i];
        if (f->str == NULL && !f->has_num)
            continue;
        dh__put(&l, ",", 1);
        dh__put_escaped(&l, f->key);
        dh__put(&l, ":", 1);
        if (f->str != NULL) {
            dh__put_escaped(&l, f->str);
        } else {
            int n = snprintf(num, sizeof(num), "%lld", (long long)f->num);
            dh__put(&l, num, (size_t)n);
        }
    }
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    /* One write per line; a short write to stderr is not worth retrying. */
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}
