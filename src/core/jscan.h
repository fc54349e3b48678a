/*
 * jscan.h: a validating JSON scanner that reads in place.
 *
 * The ingest path only needs to validate a body and pick a dozen values out
 * of it, so instead of building a tree of allocated nodes (jansson) the
 * scanner records one small token per value in a flat array and leaves
 * every string where it is in the body. Validation follows RFC 8259 and
 * matches what jansson accepts with JSON_ALLOW_NUL: UTF-8 is checked,
 * "\u0000" is allowed (but not in object keys), lone surrogates are refused, and integers must fit
 * 64 bits and reals a double. Duplicate keys are allowed; lookups return
 * the last one, as jansson does. A scan is owned by one thread.
 */
#ifndef DH_JSCAN_H
#define DH_JSCAN_H

#include <stddef.h>
#include <stdint.h>

enum dh_jtype { DH_J_OBJECT, DH_J_ARRAY, DH_J_STRING, DH_J_NUMBER, DH_J_TRUE, DH_J_FALSE,
                DH_J_NULL };

struct dh_jtok {
    uint8_t type;
    uint8_t escaped;  /* strings: has backslash escapes */
    uint8_t integer;  /* numbers: no fraction or exponent */
    uint8_t nul;      /* strings: contain \u0000 */
    uint32_t start;   /* strings: after the opening quote; others: first byte */
    uint32_t end;     /* strings: the closing quote; others: one past the last byte */
    uint32_t next;    /* the token after this value and everything inside it */
    uint32_t count;   /* objects: members; arrays: elements */
};

struct dh_jscan {
    const char *buf;
    size_t len;
    struct dh_jtok *toks;
    uint32_t n, cap;
};

/* Scans buf (len bytes) as one JSON value, nesting at most max_depth.
 * Returns 0, or DH_E_INVALID_JSON with "line L, column C: reason" in err.
 * The tokens stay valid while buf does; free them with dh_jscan_free. */
int dh_jscan_parse(struct dh_jscan *js, const char *buf, size_t len, int max_depth, char *err,
                   size_t errlen);
void dh_jscan_free(struct dh_jscan *js);

/* Returns the token of the member called key (len bytes) in object tok, or
 * -1; the last one wins when a key repeats. */
int dh_jscan_member(const struct dh_jscan *js, int tok, const char *key, size_t keylen);
/* Returns the token at a dotted path below tok ("ticket.subject",
 * "events.0.id"), or -1. */
int dh_jscan_path(const struct dh_jscan *js, int tok, const char *path);
/* Returns the i-th element of array tok, or -1. */
int dh_jscan_index(const struct dh_jscan *js, int tok, uint32_t i);

/* Returns a newly allocated string for a scalar token: strings unescaped
 * (UTF-8; "\u0000" kept, so use *outlen), integers in decimal, other
 * numbers in their shortest form that reads back, true/false; NULL for null,
 * objects and arrays. outlen may be NULL. */
char *dh_jscan_text(const struct dh_jscan *js, int tok, size_t *outlen);
/* Returns 1 when string token tok equals s exactly (after unescaping). */
int dh_jscan_equals(const struct dh_jscan *js, int tok, const char *s);

#endif
