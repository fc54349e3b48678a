/*
 * html_text.c: plain text from an HTML fragment (see html_text.h for the
 * rules a caller can rely on).
 *
 * DESIGN
 *
 * One pass over the input, no tree. The scanner in dh_html_to_text() reads
 * text, character references and markup, and hands what it finds to a small
 * writer (struct text_out) that owns every whitespace rule: the scanner only
 * says "a character", "a space", "a line ends here" (soft, from a block tag),
 * "a line break" (hard, from <br>) or "a newline in the source". The writer
 * keeps spaces and line breaks pending and writes them only in front of the
 * next visible character, which is how leading, trailing and repeated
 * whitespace disappear without a second pass.
 *
 * Invariants:
 *   1. Every read is checked against len; NUL is an ordinary input byte.
 *   2. The output buffer is created with its maximum size, 3 * len bytes plus
 *      the NUL, and shrunk at the end. The bound holds because each output
 *      byte is charged to input bytes that produce nothing else: a raw byte
 *      gives at most itself, or 3 bytes of U+FFFD for an invalid one; a
 *      character reference is at least 4 bytes long and gives at most 4
 *      (4 only from at least 8, as in &#65536;); a pending space or newline is
 *      charged to the whitespace, tag or reference that produced it, and a
 *      pending newline count never exceeds the number of such producers.
 *   3. Only the writer stores bytes, and only whole UTF-8 sequences of
 *      non-control code points, '\n' and ' '; so the result is valid UTF-8.
 */
#include "core/html_text.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

/* The writer; see DESIGN. Lives on one call's stack. */
struct text_out {
    char *buf;
    size_t len;
    size_t cap;     /* bytes that may be stored, not counting the NUL */
    int pending_nl; /* line breaks owed before the next character, 0..2 */
    int pending_sp; /* a space is owed before the next character */
    int absorb_nl;  /* a tag ended the line: the next source newline is layout */
};

static void out_raw(struct text_out *o, const char *p, size_t n)
{
    /* Cannot happen by invariant 2; dropping is safer than overflowing. */
    if (o->cap - o->len < n)
        return;
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

/* Writes a visible character (n bytes of UTF-8) after what is pending. */
static void out_char(struct text_out *o, const char *p, size_t n)
{
    if (o->len > 0) {
        if (o->pending_nl > 0)
            out_raw(o, "\n\n", (size_t)o->pending_nl);
        else if (o->pending_sp)
            out_raw(o, " ", 1);
    }
    o->pending_nl = 0;
    o->pending_sp = 0;
    o->absorb_nl = 0;
    out_raw(o, p, n);
}

static void out_space(struct text_out *o)
{
    if (o->len > 0 && o->pending_nl == 0)
        o->pending_sp = 1;
}

/* A block element starts or ends: make sure what follows is on a new line. */
static void out_line_end(struct text_out *o)
{
    if (o->len > 0 && o->pending_nl == 0)
        o->pending_nl = 1;
    o->pending_sp = 0;
    o->absorb_nl = 1;
}

/* <br>: one line break more, at most one blank line in a row. */
static void out_line_break(struct text_out *o)
{
    if (o->len > 0 && o->pending_nl < 2)
        o->pending_nl++;
    o->pending_sp = 0;
    o->absorb_nl = 1;
}

/* Something invisible (a comment, a script) was dropped. When the line had
 * already ended before it, the newline after it is layout too. */
static void out_dropped(struct text_out *o)
{
    if (o->pending_nl > 0)
        o->absorb_nl = 1;
}

/* A newline in the source text. */
static void out_newline(struct text_out *o)
{
    if (o->absorb_nl) {
        o->absorb_nl = 0;
        return;
    }
    if (o->len > 0 && o->pending_nl < 2)
        o->pending_nl++;
    o->pending_sp = 0;
}

static void out_codepoint(struct text_out *o, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp == '\n' || cp == '\r') {
        out_newline(o);
        return;
    }
    if (cp == ' ' || cp == '\t' || cp == '\f' || cp == '\v' || cp == 0xA0) {
        out_space(o);
        return;
    }
    /* Control characters, the soft hyphen and the byte order mark are not
     * visible text. */
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xAD || cp == 0xFEFF)
        return;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    out_char(o, u, n);
}

/* Decodes one UTF-8 sequence from the n >= 1 bytes at s. Returns the bytes it
 * used (at least 1). An invalid sequence gives U+FFFD and uses its longest
 * valid prefix, as the WHATWG decoder does. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need, i;
    uint32_t v;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *cp = 0xFFFD;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static unsigned char to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int hex_value(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c = to_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Case-insensitive comparison of the n bytes at s with the lowercase word. */
static int name_is(const char *s, size_t n, const char *word)
{
    size_t i;

    if (strlen(word) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (to_lower((unsigned char)s[i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

struct entity {
    const char *name;
    uint32_t cp;
};

/* Named character references that real messages use. Names are
 * case-sensitive, as in HTML; the few uppercase forms browsers accept are
 * listed too. */
static const struct entity entities[] = {
    {"amp", 0x26}, {"AMP", 0x26}, {"lt", 0x3C}, {"LT", 0x3C}, {"gt", 0x3E}, {"GT", 0x3E},
    {"quot", 0x22}, {"QUOT", 0x22}, {"apos", 0x27}, {"nbsp", 0xA0}, {"copy", 0xA9},
    {"COPY", 0xA9}, {"reg", 0xAE}, {"REG", 0xAE}, {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"sbquo", 0x201A}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"bdquo", 0x201E},
    {"laquo", 0xAB}, {"raquo", 0xBB}, {"lsaquo", 0x2039}, {"rsaquo", 0x203A},
    {"euro", 0x20AC}, {"pound", 0xA3}, {"yen", 0xA5}, {"cent", 0xA2}, {"curren", 0xA4},
    {"sect", 0xA7}, {"para", 0xB6}, {"deg", 0xB0}, {"plusmn", 0xB1}, {"times", 0xD7},
    {"divide", 0xF7}, {"middot", 0xB7}, {"bull", 0x2022}, {"dagger", 0x2020},
    {"Dagger", 0x2021}, {"permil", 0x2030}, {"prime", 0x2032}, {"iexcl", 0xA1},
    {"iquest", 0xBF}, {"ordf", 0xAA}, {"ordm", 0xBA}, {"micro", 0xB5}, {"sup1", 0xB9},
    {"sup2", 0xB2}, {"sup3", 0xB3}, {"frac14", 0xBC}, {"frac12", 0xBD}, {"frac34", 0xBE},
    {"shy", 0xAD}, {"not", 0xAC}, {"macr", 0xAF}, {"acute", 0xB4}, {"uml", 0xA8},
    {"cedil", 0xB8}, {"brvbar", 0xA6}, {"ensp", 0x2002}, {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"zwnj", 0x200C}, {"zwj", 0x200D}, {"lrm", 0x200E},
    {"rlm", 0x200F}, {"minus", 0x2212}, {"larr", 0x2190}, {"rarr", 0x2192},
    {"uarr", 0x2191}, {"darr", 0x2193}, {"harr", 0x2194}, {"le", 0x2264}, {"ge", 0x2265},
    {"ne", 0x2260}, {"asymp", 0x2248}, {"infin", 0x221E}, {"hearts", 0x2665},
    {"check", 0x2713}, {"fnof", 0x192}, {"circ", 0x2C6}, {"tilde", 0x2DC},
    {"OElig", 0x152}, {"oelig", 0x153}, {"Scaron", 0x160}, {"scaron", 0x161},
    {"Yuml", 0x178}, {"Agrave", 0xC0}, {"Aacute", 0xC1}, {"Acirc", 0xC2},
    {"Atilde", 0xC3}, {"Auml", 0xC4}, {"Aring", 0xC5}, {"AElig", 0xC6}, {"Ccedil", 0xC7},
    {"Egrave", 0xC8}, {"Eacute", 0xC9}, {"Ecirc", 0xCA}, {"Euml", 0xCB}, {"Igrave", 0xCC},
    {"Iacute", 0xCD}, {"Icirc", 0xCE}, {"Iuml", 0xCF}, {"ETH", 0xD0}, {"Ntilde", 0xD1},
    {"Ograve", 0xD2}, {"Oacute", 0xD3}, {"Ocirc", 0xD4}, {"Otilde", 0xD5}, {"Ouml", 0xD6},
    {"Oslash", 0xD8}, {"Ugrave", 0xD9}, {"Uacute", 0xDA}, {"Ucirc", 0xDB}, {"Uuml", 0xDC},
    {"Yacute", 0xDD}, {"THORN", 0xDE}, {"szlig", 0xDF}, {"agrave", 0xE0},
    {"aacute", 0xE1}, {"acirc", 0xE2}, {"atilde", 0xE3}, {"auml", 0xE4}, {"aring", 0xE5},
    {"aelig", 0xE6}, {"ccedil", 0xE7}, {"egrave", 0xE8}, {"eacute", 0xE9},
    {"ecirc", 0xEA}, {"euml", 0xEB}, {"igrave", 0xEC}, {"iacute", 0xED}, {"icirc", 0xEE},
    {"iuml", 0xEF}, {"eth", 0xF0}, {"ntilde", 0xF1}, {"ograve", 0xF2}, {"oacute", 0xF3},
    {"ocirc", 0xF4}, {"otilde", 0xF5}, {"ouml", 0xF6}, {"oslash", 0xF8}, {"ugrave", 0xF9},
    {"uacute", 0xFA}, {"ucirc", 0xFB}, {"uuml", 0xFC}, {"yacute", 0xFD}, {"thorn", 0xFE},
    {"yuml", 0xFF},
};

#define ENTITY_NAME_MAX 8

/* What browsers show for &#128; to &#159; (windows-1252); 0 where that code
 * page has a hole, which leaves the control character (and so drops it). */
static const uint16_t cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* Decodes the character reference starting at s[i] == '&'. Returns the bytes
 * it spans and sets *cp, or 0 when it is not a complete known reference. */
static size_t entity_decode(const char *s, size_t len, size_t i, uint32_t *cp)
{
    size_t j = i + 1, start, k;
    uint32_t v = 0;
    int base = 10, d;

    if (j < len && s[j] == '#') {
        j++;
        if (j < len && (s[j] == 'x' || s[j] == 'X')) {
            base = 16;
            j++;
        }
        start = j;
        while (j < len) {
            if (base == 16)
                d = hex_value((unsigned char)s[j]);
            else
                d = is_digit((unsigned char)s[j]) ? s[j] - '0' : -1;
            if (d < 0)
                break;
            /* Stop growing once out of range; it stays out of range. */
            if (v <= 0x10FFFF)
                v = v * (uint32_t)base + (uint32_t)d;
            j++;
        }
        if (j == start || j >= len || s[j] != ';')
            return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = 0xFFFD;
        else if (v >= 0x80 && v <= 0x9F && cp1252[v - 0x80] != 0)
            v = cp1252[v - 0x80];
        *cp = v;
        return j + 1 - i;
    }

    start = j;
    while (j < len && j - start <= ENTITY_NAME_MAX &&
           (is_alpha((unsigned char)s[j]) || is_digit((unsigned char)s[j])))
        j++;
    if (j == start || j - start > ENTITY_NAME_MAX || j >= len || s[j] != ';')
        return 0;
    for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
        if (strlen(entities[k].name) == j - start &&
            memcmp(entities[k].name, s + start, j - start) == 0) {
            *cp = entities[k].cp;
            return j + 1 - i;
        }
    }
    return 0;
}

enum tag_kind {
    TAG_INLINE, /* removed, nothing else */
    TAG_BLOCK,  /* ends the line */
    TAG_BREAK,  /* <br> */
    TAG_CELL,   /* td, th: a space */
    TAG_RAW,    /* script, style, title: dropped with their content */
};

static const char *const block_tags[] = {
    "p",       "div",    "li",         "tr",      "h1",      "h2",     "h3",      "h4",
    "h5",      "h6",     "blockquote", "pre",     "ul",      "ol",     "table",   "section",
    "article", "header", "footer",     "hr",      "dl",      "dt",     "dd",      "nav",
    "aside",   "main",   "figure",     "figcaption", "address", "form", "fieldset", "legend",
    "thead",   "tbody",  "tfoot",      "caption", "center",  "details", "summary", "menu",
    "dir",     "body",   "html",       "head",    "option",  "hgroup", "listing",
};

static enum tag_kind tag_classify(const char *name, size_t n)
{
    size_t k;

    if (name_is(name, n, "br"))
        return TAG_BREAK;
    if (name_is(name, n, "td") || name_is(name, n, "th"))
        return TAG_CELL;
    if (name_is(name, n, "script") || name_is(name, n, "style") || name_is(name, n, "title"))
        return TAG_RAW;
    for (k = 0; k < sizeof(block_tags) / sizeof(block_tags[0]); k++)
        if (name_is(name, n, block_tags[k]))
            return TAG_BLOCK;
    return TAG_INLINE;
}

/* Returns the index just after the first '>' at or after i, or len. */
static size_t skip_to_gt(const char *s, size_t len, size_t i)
{
    const char *gt = i < len ? memchr(s + i, '>', len - i) : NULL;

    return gt != NULL ? (size_t)(gt - s) + 1 : len;
}

/* Skips the attributes of a tag from i (just after its name) to the index
 * after its '>'. A quote opens a value only after '=', and a '>' inside a
 * quoted value does not end the tag. Returns 0 when the tag is unfinished. */
static size_t skip_attributes(const char *s, size_t len, size_t i)
{
    char quote = 0;
    int after_eq = 0;
    unsigned char c;

    for (; i < len; i++) {
        c = (unsigned char)s[i];
        if (quote) {
            if (c == (unsigned char)quote)
                quote = 0;
            continue;
        }
        if (c == '>')
            return i + 1;
        if (c == '=') {
            after_eq = 1;
        } else if ((c == '"' || c == '\'') && after_eq) {
            quote = (char)c;
            after_eq = 0;
        } else if (!is_space(c)) {
            after_eq = 0;
        }
    }
    return 0;
}

/* Skips the content of a script or style element from i to just after its
 * close tag "</name" followed by space, '/', '>' or the end. Returns len when
 * there is no close tag. */
static size_t skip_raw_text(const char *s, size_t len, size_t i, const char *name, size_t n)
{
    const char *lt;
    size_t after;

    while (i < len && (lt = memchr(s + i, '<', len - i)) != NULL) {
        i = (size_t)(lt - s);
        if (len - i >= n + 2 && s[i + 1] == '/' && name_is(s + i + 2, n, name)) {
            after = i + 2 + n;
            if (after == len || is_space((unsigned char)s[after]) || s[after] == '/' ||
                s[after] == '>')
                return skip_to_gt(s, len, after);
        }
        i++;
    }
    return len;
}

/* Returns the index after the comment that starts at s[i] == '<' ("<!--").
 * It ends at the first "-->" after "<!", so "<!-->" is a whole (empty) one,
 * as in browsers; an unclosed comment runs to the end. */
static size_t skip_comment(const char *s, size_t len, size_t i)
{
    size_t k;

    for (k = i + 2; k + 3 <= len; k++)
        if (s[k] == '-' && s[k + 1] == '-' && s[k + 2] == '>')
            return k + 3;
    return len;
}

/* Handles the '<' at s[i]: markup is removed (and may end a line), anything
 * else is the text "<". Returns the index to continue from. */
static size_t scan_markup(struct text_out *o, const char *s, size_t len, size_t i)
{
    size_t j = i + 1, name, end;
    int closing = 0;

    if (j < len && (s[j] == '!' || s[j] == '?')) {
        out_dropped(o);
        if (len - j >= 3 && s[j] == '!' && s[j + 1] == '-' && s[j + 2] == '-')
            return skip_comment(s, len, i);
        return skip_to_gt(s, len, j); /* doctype, CDATA, processing instruction */
    }
    if (j < len && s[j] == '/') {
        closing = 1;
        j++;
    }
    if (j >= len || !is_alpha((unsigned char)s[j])) {
        if (closing && j < len && s[j] == '>')
            return j + 1; /* "</>" shows nothing */
        out_codepoint(o, '<');
        return i + 1;
    }

    name = j;
    while (j < len && !is_space((unsigned char)s[j]) && s[j] != '/' && s[j] != '>')
        j++;
    end = skip_attributes(s, len, j);
    if (end == 0)
        return len; /* unfinished tag: dropped with the rest */

    switch (tag_classify(s + name, j - name)) {
    case TAG_RAW:
        if (!closing) {
            char lname[8];
            size_t k;

            for (k = 0; k < j - name; k++)
                lname[k] = (char)to_lower((unsigned char)s[name + k]);
            lname[k] = '\0';
            out_dropped(o);
            return skip_raw_text(s, len, end, lname, j - name);
        }
        break;
    case TAG_BLOCK:
        out_line_end(o);
        break;
    case TAG_BREAK:
        out_line_break(o);
        break;
    case TAG_CELL:
        out_space(o);
        break;
    case TAG_INLINE:
        break;
    }
    return end;
}

char *dh_html_to_text(const char *html, size_t len)
{
    struct text_out o = {NULL, 0, 0, 0, 0, 0};
    const unsigned char *u = (const unsigned char *)html;
    size_t i = 0, n;
    uint32_t cp;

    if (html == NULL)
        len = 0;
    if (len > (SIZE_MAX - 1) / 3)
        len = (SIZE_MAX - 1) / 3; /* no such input fits in memory anyway */
    o.cap = len * 3;
    o.buf = dh_malloc(o.cap + 1);

    while (i < len) {
        switch (u[i]) {
        case '<':
            i = scan_markup(&o, html, len, i);
            break;
        case '&':
            n = entity_decode(html, len, i, &cp);
            if (n > 0) {
                out_codepoint(&o, cp);
                i += n;
            } else {
                out_codepoint(&o, '&');
                i++;
            }
            break;
        case '\r':
            out_newline(&o);
            i += (i + 1 < len && u[i + 1] == '\n') ? 2 : 1;
            break;
        default:
            if (u[i] > 0x20 && u[i] < 0x7F) {
                /* A run of visible ASCII (a word) goes out in one piece. */
                n = i + 1;
                while (n < len && u[n] > 0x20 && u[n] < 0x7F && u[n] != '<' && u[n] != '&')
                    n++;
                out_char(&o, html + i, n - i);
                i = n;
                break;
            }
            n = utf8_decode(u + i, len - i, &cp);
            out_codepoint(&o, cp);
            i += n;
            break;
        }
    }
    o.buf[o.len] = '\0';
    return dh_realloc(o.buf, o.len + 1);
}
