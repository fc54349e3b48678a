/*
 * jscan.c: validating in-place JSON scanner (jscan.h).
 *
 * Recursive descent over the bytes; the depth is bounded by the caller's
 * max_depth (the config allows at most 1000), so the recursion is too.
 * Every accept/reject decision mirrors jansson's, which the differential
 * fuzzer (tests/fuzz/fuzz_jscan.c) checks.
 */
#include "core/jscan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/jsonx.h"

struct dh__jp {
    struct dh_jscan *js;
    size_t pos;
    int max_depth;
    const char *why; /* first error */
    size_t at;
    char whybuf[64];
};

static int dh__fail(struct dh__jp *p, size_t at, const char *why)
{
    if (p->why == NULL) {
        p->why = why;
        p->at = at;
    }
    return -1;
}

static void dh__ws(struct dh__jp *p)
{
    const char *b = p->js->buf;
    while (p->pos < p->js->len &&
           (b[p->pos] == ' ' || b[p->pos] == '\t' || b[p->pos] == '\n' || b[p->pos] == '\r'))
        p->pos++;
}

static int dh__new_tok(struct dh__jp *p, uint8_t type, size_t start)
{
    struct dh_jscan *js = p->js;
    if (js->n == js->cap) {
        js->cap = js->cap ? js->cap * 2 : 64;
        js->toks = dh_realloc(js->toks, js->cap * sizeof(*js->toks));
    }
    struct dh_jtok *t = &js->toks[js->n];
    memset(t, 0, sizeof(*t));
    t->type = type;
    t->start = (uint32_t)start;
    return (int)js->n++;
}

static int dh__hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static int dh__utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static int dh__string(struct dh__jp *p)
{
    const char *b = p->js->buf;
    size_t len = p->js->len;
    int t = dh__new_tok(p, DH_J_STRING, ++p->pos); /* after the quote */

    while (p->pos < len) {
        unsigned char c = (unsigned char)b[p->pos];
        if (c == '"') {
            p->js->toks[t].end = (uint32_t)p->pos;
            p->pos++;
            p->js->toks[t].next = p->js->n;
            return t;
        }
        if (c < 0x20)
            return dh__fail(p, p->pos, "control character in a string");
        if (c == '\\') {
            unsigned u, lo;
            p->js->toks[t].escaped = 1;
            if (p->pos + 1 >= len)
                break;
            switch (b[p->pos + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p->pos += 2;
                continue;
            case 'u':
                if (p->pos + 6 > len || dh__hex4(b + p->pos + 2, &u) < 0)
                    return dh__fail(p, p->pos, "invalid \\u escape");
                p->pos += 6;
                if (u == 0)
                    p->js->toks[t].nul = 1;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return dh__fail(p, p->pos - 6, "lone low surrogate in \\u escape");
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (p->pos + 6 > len || b[p->pos] != '\\' || b[p->pos + 1] != 'u' ||
                        dh__hex4(b + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return dh__fail(p, p->pos - 6, "high surrogate without its low half");
                    p->pos += 6;
                }
                continue;
            default:
                return dh__fail(p, p->pos, "invalid escape in a string");
            }
        }
        int n = dh__utf8_len((const unsigned char *)b + p->pos, len - p->pos);
        if (n == 0)
            return dh__fail(p, p->pos, "invalid UTF-8 in a string");
        p->pos += (size_t)n;
    }
    return dh__fail(p, p->pos, "unterminated string");
}

static int dh__digits(const char *b, size_t len, size_t *pos)
{
    size_t start = *pos;
    while (*pos < len && b[*pos] >= '0' && b[*pos] <= '9')
        (*pos)++;
    return *pos > start;
}

static int dh__number(struct dh__jp *p)
{
    const char *b = p->js->buf;
    size_t len = p->js->len, start = p->pos;
    int integer = 1;
    char small[64], *copy;
    size_t n;
    int t;

    if (b[p->pos] == '-')
        p->pos++;
    if (p->pos < len && b[p->pos] == '0')
        p->pos++;
    else if (!dh__digits(b, len, &p->pos))
        return dh__fail(p, start, "invalid number");
    if (p->pos < len && b[p->pos] == '.') {
        p->pos++;
        integer = 0;
        if (!dh__digits(b, len, &p->pos))
            return dh__fail(p, start, "invalid number");
    }
    if (p->pos < len && (b[p->pos] == 'e' || b[p->pos] == 'E')) {
        p->pos++;
        integer = 0;
        if (p->pos < len && (b[p->pos] == '+' || b[p->pos] == '-'))
            p->pos++;
        if (!dh__digits(b, len, &p->pos))
            return dh__fail(p, start, "invalid number");
    }
    /* The range checks jansson makes: integers fit 64 bits, reals a double. */
    n = p->pos - start;
    copy = n < sizeof(small) ? small : dh_malloc(n + 1);
    memcpy(copy, b + start, n);
    copy[n] = '\0';
    errno = 0;
    if (integer) {
        (void)strtoll(copy, NULL, 10);
    } else {
        double d = strtod(copy, NULL);
        if (errno == ERANGE && !isinf(d))
            errno = 0; /* underflow is fine */
    }
    if (copy != small)
        free(copy);
    if (errno == ERANGE)
        return dh__fail(p, start, integer ? "too big integer" : "real number overflow");
    t = dh__new_tok(p, DH_J_NUMBER, start);
    p->js->toks[t].end = (uint32_t)p->pos;
    p->js->toks[t].integer = (uint8_t)integer;
    p->js->toks[t].next = p->js->n;
    return t;
}

static int dh__value(struct dh__jp *p, int depth);

static int dh__container(struct dh__jp *p, int depth, int object)
{
    const char *b = p->js->buf;
    size_t len = p->js->len;
    int t = dh__new_tok(p, object ? DH_J_OBJECT : DH_J_ARRAY, p->pos);
    uint32_t count = 0;
    char close = object ? '}' : ']';

    if (depth > p->max_depth) {
        snprintf(p->whybuf, sizeof(p->whybuf), "nesting deeper than %d levels", p->max_depth);
        return dh__fail(p, p->pos, p->whybuf);
    }
    p->pos++;
    dh__ws(p);
    if (p->pos < len && b[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            if (object) {
                dh__ws(p);
                if (p->pos >= len || b[p->pos] != '"')
                    return dh__fail(p, p->pos, "expected a string key");
                int k = dh__string(p);
                if (k < 0)
                    return -1;
                if (p->js->toks[k].nul)
                    return dh__fail(p, p->js->toks[k].start, "NUL byte in object key");
                dh__ws(p);
                if (p->pos >= len || b[p->pos] != ':')
                    return dh__fail(p, p->pos, "expected ':' after a key");
                p->pos++;
            }
            if (dh__value(p, depth + 1) < 0)
                return -1;
            count++;
            dh__ws(p);
            if (p->pos < len && b[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < len && b[p->pos] == close) {
                p->pos++;
                break;
            }
            return dh__fail(p, p->pos, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    p->js->toks[t].end = (uint32_t)p->pos;
    p->js->toks[t].count = count;
    p->js->toks[t].next = p->js->n;
    return t;
}

static int dh__literal(struct dh__jp *p, const char *word, uint8_t type)
{
    size_t n = strlen(word);
    if (p->js->len - p->pos < n || memcmp(p->js->buf + p->pos, word, n) != 0)
        return dh__fail(p, p->pos, "invalid token");
    int t = dh__new_tok(p, type, p->pos);
    p->pos += n;
    p->js->toks[t].end = (uint32_t)p->pos;
    p->js->toks[t].next = p->js->n;
    return t;
}

static int dh__value(struct dh__jp *p, int depth)
{
    dh__ws(p);
    if (p->pos >= p->js->len)
        return dh__fail(p, p->pos, "unexpected end of input");
    switch (p->js->buf[p->pos]) {
    case '{':
        return dh__container(p, depth, 1);
    case '[':
        return dh__container(p, depth, 0);
    case '"':
        return dh__string(p);
    case 't':
        return dh__literal(p, "true", DH_J_TRUE);
    case 'f':
        return dh__literal(p, "false", DH_J_FALSE);
    case 'n':
        return dh__literal(p, "null", DH_J_NULL);
    default:
        if (p->js->buf[p->pos] == '-' || (p->js->buf[p->pos] >= '0' && p->js->buf[p->pos] <= '9'))
            return dh__number(p);
        return dh__fail(p, p->pos, "invalid token");
    }
}

int dh_jscan_parse(struct dh_jscan *js, const char *buf, size_t len, int max_depth, char *err,
                   size_t errlen)
{
    struct dh__jp p = {.js = js, .max_depth = max_depth};

    memset(js, 0, sizeof(*js));
    js->buf = buf;
    js->len = len;
    if (len > UINT32_MAX - 1)
        dh__fail(&p, 0, "the document is too large");
    else if (dh__value(&p, 1) >= 0) {
        dh__ws(&p);
        if (p.pos != len)
            dh__fail(&p, p.pos, "end of file expected");
    }
    if (p.why != NULL) {
        int line = 1, col = 1;
        for (size_t i = 0; i < p.at && i < len; i++) {
            if (buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        snprintf(err, errlen, "line %d, column %d: %s", line, col, p.why);
        dh_jscan_free(js);
        js->buf = buf;
        js->len = len;
        return DH_E_INVALID_JSON;
    }
    return 0;
}

void dh_jscan_free(struct dh_jscan *js)
{
    free(js->toks);
    js->toks = NULL;
    js->n = js->cap = 0;
}

/* Unescapes string token t into out (at least end-start+1 bytes: escapes
 * never grow); returns the length. */
static size_t dh__unescape(const struct dh_jscan *js, const struct dh_jtok *t, char *out)
{
    const char *b = js->buf;
    size_t o = 0;
    for (size_t i = t->start; i < t->end; i++) {
        if (b[i] != '\\') {
            out[o++] = b[i];
            continue;
        }
        char c = b[++i];
        unsigned u = 0, lo = 0;
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u':
            dh__hex4(b + i + 1, &u);
            i += 4;
            if (u >= 0xd800 && u <= 0xdbff) {
                dh__hex4(b + i + 3, &lo);
                i += 6;
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (u < 0x80) {
                out[o++] = (char)u;
            } else if (u < 0x800) {
                out[o++] = (char)(0xc0 | (u >> 6));
                out[o++] = (char)(0x80 | (u & 0x3f));
            } else if (u < 0x10000) {
                out[o++] = (char)(0xe0 | (u >> 12));
                out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
                out[o++] = (char)(0x80 | (u & 0x3f));
            } else {
                out[o++] = (char)(0xf0 | (u >> 18));
                out[o++] = (char)(0x80 | ((u >> 12) & 0x3f));
                out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
                out[o++] = (char)(0x80 | (u & 0x3f));
            }
            break;
        default: out[o++] = c; break; /* " \ / */
        }
    }
    out[o] = '\0';
    return o;
}

static int dh__key_is(const struct dh_jscan *js, const struct dh_jtok *k, const char *key,
                      size_t keylen)
{
    if (!k->escaped)
        return k->end - k->start == keylen && memcmp(js->buf + k->start, key, keylen) == 0;
    char small[256], *tmp = k->end - k->start < sizeof(small) ? small
                                                              : dh_malloc(k->end - k->start + 1);
    size_t n = dh__unescape(js, k, tmp);
    int eq = n == keylen && memcmp(tmp, key, keylen) == 0;
    if (tmp != small)
        free(tmp);
    return eq;
}

int dh_jscan_member(const struct dh_jscan *js, int tok, const char *key, size_t keylen)
{
    int found = -1;
    if (tok < 0 || (uint32_t)tok >= js->n || js->toks[tok].type != DH_J_OBJECT)
        return -1;
    uint32_t t = (uint32_t)tok + 1;
    for (uint32_t i = 0; i < js->toks[tok].count; i++) {
        if (dh__key_is(js, &js->toks[t], key, keylen))
            found = (int)t + 1;
        t = js->toks[t + 1].next;
    }
    return found;
}

int dh_jscan_index(const struct dh_jscan *js, int tok, uint32_t i)
{
    if (tok < 0 || (uint32_t)tok >= js->n || js->toks[tok].type != DH_J_ARRAY ||
        i >= js->toks[tok].count)
        return -1;
    uint32_t t = (uint32_t)tok + 1;
    while (i-- > 0)
        t = js->toks[t].next;
    return (int)t;
}

int dh_jscan_path(const struct dh_jscan *js, int tok, const char *path)
{
    const char *seg = path;
    while (tok >= 0) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (js->toks[tok].type == DH_J_OBJECT) {
            tok = dh_jscan_member(js, tok, seg, n);
        } else if (js->toks[tok].type == DH_J_ARRAY && n > 0 && n < 10 && seg[0] >= '0' &&
                   seg[0] <= '9') {
            unsigned long i = 0;
            for (size_t k = 0; k < n; k++) {
                if (seg[k] < '0' || seg[k] > '9')
                    return -1;
                i = i * 10 + (unsigned long)(seg[k] - '0');
            }
            tok = dh_jscan_index(js, tok, (uint32_t)i);
        } else {
            return -1;
        }
        if (dot == NULL)
            return tok;
        seg = dot + 1;
    }
    return -1;
}

char *dh_jscan_text(const struct dh_jscan *js, int tok, size_t *outlen)
{
    const struct dh_jtok *t;
    char *out;
    size_t n;

    if (tok < 0 || (uint32_t)tok >= js->n)
        return NULL;
    t = &js->toks[tok];
    switch (t->type) {
    case DH_J_STRING:
        out = dh_malloc(t->end - t->start + 1);
        n = dh__unescape(js, t, out);
        break;
    case DH_J_NUMBER:
        if (t->integer) {
            /* As jansson reads it: "-0" is 0. The range was checked. */
            char *num = dh_strndup(js->buf + t->start, t->end - t->start);
            out = dh_asprintf("%lld", strtoll(num, NULL, 10));
            free(num);
        } else {
            char *num = dh_strndup(js->buf + t->start, t->end - t->start);
            out = dh_malloc(DH_JSON_REAL_MAX);
            dh_json_format_real(strtod(num, NULL), out, DH_JSON_REAL_MAX);
            free(num);
        }
        n = strlen(out);
        break;
    case DH_J_TRUE:
        out = dh_strdup("true");
        n = 4;
        break;
    case DH_J_FALSE:
        out = dh_strdup("false");
        n = 5;
        break;
    default:
        return NULL;
    }
    if (outlen != NULL)
        *outlen = n;
    return out;
}

int dh_jscan_equals(const struct dh_jscan *js, int tok, const char *s)
{
    if (tok < 0 || (uint32_t)tok >= js->n || js->toks[tok].type != DH_J_STRING)
        return 0;
    return dh__key_is(js, &js->toks[tok], s, strlen(s));
}
