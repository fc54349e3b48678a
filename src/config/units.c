/*
 * units.c: parses and formats the durations, sizes and rates of the
 * configuration (see units.h for the accepted forms).
 *
 * Durations and sizes share one reader, parse_quantity(), driven by a table of
 * units per kind. Numbers are read exactly, without floating point: the whole
 * part and the fraction's significant digits are integers, and a fraction is
 * accepted only when it gives a whole number of the base unit. Messages quote
 * the input, with control characters shown as '?' so they stay on one line.
 */
#include "config/units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;
    uint64_t mult;
};

/* What is being read: its units and the words its messages use. */
struct quantity_kind {
    const char *what;    /* "duration" */
    const char *base;    /* "milliseconds", what a value must be a whole number of */
    const char *example; /* a unit to suggest after a bare number */
    const char *all;     /* "ms, s, m, h or d" */
    const char *samples; /* valid examples */
    const struct unit *units;
    size_t nunits;
};

/* Ordered from the largest unit, which dh_units_format_duration() relies on. */
static const struct unit duration_units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

static const struct unit size_units[] = {
    {"B", 1},
    {"KB", 1000},
    {"KiB", UINT64_C(1) << 10},
    {"MB", 1000000},
    {"MiB", UINT64_C(1) << 20},
    {"GB", 1000000000},
    {"GiB", UINT64_C(1) << 30},
    {"TB", UINT64_C(1000000000000)},
    {"TiB", UINT64_C(1) << 40},
};

static const struct quantity_kind duration_kind = {
    "duration", "milliseconds", "s", "ms, s, m, h or d", "250ms, 5s, 5m, 2h or 1d",
    duration_units, sizeof(duration_units) / sizeof(duration_units[0]),
};

static const struct quantity_kind size_kind = {
    "size", "bytes", "MB", "B, KB, KiB, MB, MiB, GB, GiB, TB or TiB", "512B, 10KB, 10KiB or 1GiB",
    size_units, sizeof(size_units) / sizeof(size_units[0]),
};

/* The most fraction digits read; 10^18 still fits in a uint64_t. */
#define FRACTION_DIGITS_MAX 18

/* Room for one quoted piece of input in a message. */
#define QUOTE_MAX 64

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies the n bytes at s into q (QUOTE_MAX bytes) for a message: control
 * bytes become '?', and a long piece is cut (never inside a UTF-8 sequence)
 * and ends in "...". Returns q. */
static const char *quote(char *q, const char *s, size_t n)
{
    size_t i, keep = n;

    if (keep > QUOTE_MAX - 1) {
        keep = QUOTE_MAX - 4;
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--;
    }
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        q[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (keep < n) {
        memcpy(q + keep, "...", 3);
        keep += 3;
    }
    q[keep] = '\0';
    return q;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Narrows [*s, *s + *n) to drop leading and trailing whitespace. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* A number as written: whole part, then the fraction's significant digits
 * (trailing zeros dropped) as the integer frac with ndigits digits. */
struct number {
    uint64_t whole;
    int overflow;
    uint64_t frac;
    unsigned ndigits;
    int too_precise;
};

/* Reads "<digits>[.<digits>]" from the n bytes at s. Returns the bytes read,
 * or 0 when s does not start with such a number. */
static size_t read_number(const char *s, size_t n, struct number *num)
{
    size_t i = 0, fstart, last;
    unsigned d;

    memset(num, 0, sizeof(*num));
    while (i < n && is_digit(s[i])) {
        d = (unsigned)(s[i] - '0');
        if (num->whole > (UINT64_MAX - d) / 10)
            num->overflow = 1;
        else
            num->whole = num->whole * 10 + d;
        i++;
    }
    if (i == 0)
        return 0;
    if (i == n || s[i] != '.')
        return i;
    fstart = ++i;
    while (i < n && is_digit(s[i]))
        i++;
    if (i == fstart)
        return 0; /* "5." */
    last = i;
    while (last > fstart && s[last - 1] == '0')
        last--;
    if (last - fstart > FRACTION_DIGITS_MAX) {
        num->too_precise = 1;
        return i;
    }
    for (; fstart < last; fstart++) {
        num->frac = num->frac * 10 + (uint64_t)(s[fstart] - '0');
        num->ndigits++;
    }
    return i;
}

/* Computes num * mult exactly. Returns 0, -ERANGE when it does not fit, or
 * -EDOM when it is not a whole number. */
static int scale(const struct number *num, uint64_t mult, uint64_t *out)
{
    uint64_t p = 1, g, part, total;
    unsigned k;

    if (num->too_precise)
        return -EDOM;
    if (num->overflow || (mult != 0 && num->whole > UINT64_MAX / mult))
        return -ERANGE;
    total = num->whole * mult;
    if (num->ndigits > 0) {
        for (k = 0; k < num->ndigits; k++)
            p *= 10;
        /* frac / p * mult is whole iff p / gcd(p, mult) divides frac; the
         * product is then below mult, so it cannot overflow. */
        g = gcd(mult, p);
        if (num->frac % (p / g) != 0)
            return -EDOM;
        part = num->frac / (p / g) * (mult / g);
        if (total > UINT64_MAX - part)
            return -ERANGE;
        total += part;
    }
    *out = total;
    return 0;
}

static const struct unit *find_unit(const struct quantity_kind *k, const char *s, size_t n,
                                    int ignore_case)
{
    size_t i, j;

    for (i = 0; i < k->nunits; i++) {
        if (strlen(k->units[i].name) != n)
            continue;
        for (j = 0; j < n; j++) {
            char a = s[j], b = k->units[i].name[j];
            if (ignore_case ? to_lower(a) != to_lower(b) : a != b)
                break;
        }
        if (j == n)
            return &k->units[i];
    }
    return NULL;
}

/* Reads "<number><unit>" from the n bytes at s, already trimmed. With
 * bare_unit, a unit alone ("s") means one of it. Returns 0 and sets *out, or
 * -EINVAL with a message. */
static int parse_quantity(const struct quantity_kind *k, const char *s, size_t n, int bare_unit,
                          uint64_t *out, char *err, size_t errlen)
{
    char q[QUOTE_MAX], qn[QUOTE_MAX], qu[QUOTE_MAX];
    struct number num;
    const struct unit *u;
    const char *us;
    size_t used, un, sp;
    uint64_t v;
    int rc;

    if (n == 0) {
        set_err(err, errlen, "empty %s (for example %s)", k->what, k->samples);
        return -EINVAL;
    }
    quote(q, s, n);
    if (s[0] == '-') {
        set_err(err, errlen, "\"%s\" is negative (a %s cannot be below 0)", q, k->what);
        return -EINVAL;
    }
    if (bare_unit && is_alpha(s[0])) {
        memset(&num, 0, sizeof(num));
        num.whole = 1;
        used = 0;
    } else {
        used = read_number(s, n, &num);
        if (used == 0) {
            set_err(err, errlen, "\"%s\" is not a %s (for example %s)", q, k->what, k->samples);
            return -EINVAL;
        }
    }
    us = s + used;
    un = n - used;
    if (un == 0) {
        set_err(err, errlen, "\"%s\" needs a unit (for example %s%s)", q, q, k->example);
        return -EINVAL;
    }
    if (is_space(us[0])) {
        for (sp = 0; sp < un && is_space(us[sp]); sp++)
            ;
        set_err(err, errlen, "unexpected space in \"%s\" (write %s%s)", q,
                quote(qn, s, used), quote(qu, us + sp, un - sp));
        return -EINVAL;
    }
    u = find_unit(k, us, un, 0);
    if (u == NULL) {
        quote(qu, us, un);
        u = find_unit(k, us, un, 1);
        if (u != NULL)
            set_err(err, errlen, "unknown unit \"%s\" in \"%s\" (units are case-sensitive: did "
                    "you mean %s?)", qu, q, u->name);
        else
            set_err(err, errlen, "unknown unit \"%s\" in \"%s\" (use %s)", qu, q, k->all);
        return -EINVAL;
    }
    rc = scale(&num, u->mult, &v);
    if (rc == -ERANGE) {
        set_err(err, errlen, "\"%s\" is too large", q);
        return -EINVAL;
    }
    if (rc < 0) {
        set_err(err, errlen, "\"%s\" is not a whole number of %s", q, k->base);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int dh_units_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
    size_t n = s != NULL ? strlen(s) : 0;

    trim(&s, &n);
    return parse_quantity(&duration_kind, s, n, 0, ms, err, errlen);
}

int dh_units_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    size_t n = s != NULL ? strlen(s) : 0;

    trim(&s, &n);
    return parse_quantity(&size_kind, s, n, 0, bytes, err, errlen);
}

int dh_units_parse_rate(const char *s, uint64_t *count, uint64_t *period_ms, char *err,
                        size_t errlen)
{
    char q[QUOTE_MAX], qc[QUOTE_MAX], why[160];
    const char *slash, *c, *p;
    size_t n = s != NULL ? strlen(s) : 0, cn, pn, i;
    struct number num;
    uint64_t cv, pv;

    trim(&s, &n);
    if (n == 0) {
        set_err(err, errlen, "empty rate (for example 100/1m)");
        return -EINVAL;
    }
    quote(q, s, n);
    slash = memchr(s, '/', n);
    if (slash == NULL) {
        set_err(err, errlen, "\"%s\" needs a period (for example %s/1m)", q, q);
        return -EINVAL;
    }
    c = s;
    cn = (size_t)(slash - s);
    p = slash + 1;
    pn = n - cn - 1;
    trim(&c, &cn);
    trim(&p, &pn);

    if (cn == 0) {
        set_err(err, errlen, "rate \"%s\" needs a count before '/' (for example 100/1m)", q);
        return -EINVAL;
    }
    quote(qc, c, cn);
    if (c[0] == '-') {
        set_err(err, errlen, "count \"%s\" in rate \"%s\" is negative", qc, q);
        return -EINVAL;
    }
    for (i = 0; i < cn; i++) {
        if (!is_digit(c[i])) {
            set_err(err, errlen, "count \"%s\" in rate \"%s\" must be a whole number", qc, q);
            return -EINVAL;
        }
    }
    read_number(c, cn, &num);
    if (num.overflow) {
        set_err(err, errlen, "count \"%s\" in rate \"%s\" is too large", qc, q);
        return -EINVAL;
    }
    cv = num.whole;
    if (cv == 0) {
        set_err(err, errlen, "count in rate \"%s\" must be at least 1", q);
        return -EINVAL;
    }

    if (pn == 0) {
        set_err(err, errlen, "rate \"%s\" needs a period after '/' (for example %s/1m)", q, qc);
        return -EINVAL;
    }
    if (parse_quantity(&duration_kind, p, pn, 1, &pv, why, sizeof(why)) < 0) {
        set_err(err, errlen, "period of rate \"%s\": %s", q, why);
        return -EINVAL;
    }
    if (pv == 0) {
        set_err(err, errlen, "period of rate \"%s\" must be more than 0", q);
        return -EINVAL;
    }
    *count = cv;
    *period_ms = pv;
    return 0;
}

void dh_units_format_duration(uint64_t ms, char *out, size_t outlen)
{
    size_t i;

    if (out == NULL || outlen == 0)
        return;
    if (ms == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
        if (ms % duration_units[i].mult == 0) {
            snprintf(out, outlen, "%" PRIu64 "%s", ms / duration_units[i].mult,
                     duration_units[i].name);
            return;
        }
    }
}
