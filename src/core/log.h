/*
 * log.h: one small logging API writing one JSON object per line to stderr.
 *
 * Levels are checked before arguments are evaluated (the DH_LOG macro), so a
 * disabled debug line costs one comparison. A line carries a message and
 * optional key/value fields; values are JSON-escaped. Never pass secrets or
 * request bodies. Each line is written with one write(2), so lines from
 * different threads never interleave. Any thread may log.
 */
#ifndef DH_LOG_H
#define DH_LOG_H

#include <stdint.h>

enum dh_log_level { DH_LOG_DEBUG, DH_LOG_INFO, DH_LOG_WARN, DH_LOG_ERROR, DH_LOG_FATAL };

/* The current threshold; lines below it are dropped. Set once at start. */
extern enum dh_log_level dh_log_threshold;

/* Parses "debug|info|warn|error" into *out; returns 0 or -EINVAL. */
int dh_log_parse_level(const char *s, enum dh_log_level *out);

/* One field of a log line. Exactly one of str/num is used: str when it is
 * non-NULL, otherwise num (when has_num). */
struct dh_log_field {
    const char *key;
    const char *str;
    int64_t num;
    int has_num;
};

#define DH_LS(k, v) ((struct dh_log_field){.key = (k), .str = (v)})
#define DH_LN(k, v) ((struct dh_log_field){.key = (k), .num = (int64_t)(v), .has_num = 1})

/* Writes one line: {"time":…,"level":…,"msg":…, fields…}. NULL str fields
 * are skipped. */
void dh_log_write(enum dh_log_level level, const char *msg, const struct dh_log_field *fields,
                  int nfields);

#define DH_LOG(level, msg, ...)                                                         \
    do {                                                                               \
        if ((level) >= dh_log_threshold) {                                             \
            const struct dh_log_field dh__lf[] = {{.key = NULL}, ##__VA_ARGS__};        \
            dh_log_write((level), (msg), dh__lf + 1,                                   \
                         (int)(sizeof(dh__lf) / sizeof(dh__lf[0])) - 1);               \
        }                                                                              \
    } while (0)

#define dh_debug(msg, ...) DH_LOG(DH_LOG_DEBUG, msg, ##__VA_ARGS__)
#define dh_info(msg, ...) DH_LOG(DH_LOG_INFO, msg, ##__VA_ARGS__)
#define dh_warn(msg, ...) DH_LOG(DH_LOG_WARN, msg, ##__VA_ARGS__)
#define dh_error(msg, ...) DH_LOG(DH_LOG_ERROR, msg, ##__VA_ARGS__)

#endif
