/*
 * html_text.h: plain text from an HTML fragment.
 *
 * Providers send ticket and message bodies as HTML; notifications, previews
 * and logs want the text a reader would see. This is a one-pass converter, not
 * an HTML parser: it never builds a tree and never fails.
 *
 * What it does:
 *   - Tags are removed. Block elements (p, div, li, tr, h1-h6, blockquote, pre,
 *     ul, ol, table, section, article, header, footer, hr and similar), opening
 *     or closing, end the current line; br is a line break of its own, so
 *     "a<br><br>b" keeps its blank line. td and th separate cells by a space.
 *   - script, style and title elements are dropped with their content, up
 *     to the matching close tag (case-insensitive; to the end when it is
 *     missing).
 *     Comments, doctypes and processing instructions are dropped. A tag that
 *     is not closed before the end of the input is dropped with the rest.
 *   - Character references are decoded: a set of common named ones (amp, lt,
 *     gt, quot, apos, nbsp, copy, reg, hellip, mdash, ndash, the curly quotes,
 *     euro, and more) and numeric ones (&#65; &#x1F600;). Both kinds need their
 *     ';'; an unknown or incomplete reference stays as written. &#0;,
 *     surrogates and code points above U+10FFFF become U+FFFD; &#128; to
 *     &#159; are read as windows-1252, as browsers do.
 *   - Newlines in the source are line breaks (so plain text keeps its lines),
 *     except the first newline after a tag that already ended the line or
 *     after something dropped from the start of a line.
 *     Spaces, tabs and no-break spaces collapse to one space; spaces at the
 *     start and end of each line are removed; at most one blank line is kept
 *     in a row; the result has no leading or trailing whitespace. <pre> gets
 *     no special treatment.
 *   - The result is valid UTF-8 without control characters other than '\n':
 *     NUL and other control bytes are dropped and each invalid UTF-8 sequence
 *     becomes U+FFFD.
 */
#ifndef DH_HTML_TEXT_H
#define DH_HTML_TEXT_H

#include <stddef.h>

/* Converts the len bytes at html (which may hold NUL bytes and need not be
 * NUL-terminated; NULL is read as empty) to plain text. Returns a newly
 * allocated NUL-terminated string of at most 3 * len bytes plus the NUL, which
 * the caller frees with free(); never NULL. Any thread. */
char *dh_html_to_text(const char *html, size_t len);

#endif
