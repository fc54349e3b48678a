/*
 * fuzz_jscan.c: differential fuzzing of the in-place JSON scanner against
 * jansson. For every input both must agree on accept or refuse (with
 * JSON_ALLOW_NUL | JSON_DECODE_ANY, at a depth jansson also allows), and for
 * an accepted object every top-level member's text must equal what
 * jansson's value gives (strings byte for byte, integers as written). One
 * difference is deliberate: jansson passes over raw NUL bytes between
 * tokens, which RFC 8259 does not allow; the scanner refuses them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/jscan.h"
#include "core/jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_jscan js;
    char err[200];
    json_error_t je;
    /* jansson refuses nesting past 2048; stay well inside it. */
    int ours = dh_jscan_parse(&js, (const char *)data, size, 1000, err, sizeof(err)) == 0;
    json_t *j = json_loadb((const char *)data, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);

    if (!ours && j != NULL && memchr(data, 0, size) != NULL) {
        /* jansson passes over raw NUL bytes between tokens (RFC 8259 allows
         * none); the scanner refuses them. The one difference allowed. */
        json_decref(j);
        dh_jscan_free(&js);
        return 0;
    }
    if (ours != (j != NULL)) {
        fprintf(stderr, "verdicts differ: scanner %s (%s), jansson %s (%s)\n",
                ours ? "accepts" : "refuses", ours ? "" : err, j ? "accepts" : "refuses",
                j ? "" : je.text);
        abort();
    }
    if (ours && json_is_object(j) && js.toks[0].type == DH_J_OBJECT) {
        for (void *it = json_object_iter(j); it != NULL; it = json_object_iter_next(j, it)) {
            const char *key = json_object_iter_key(it);
            size_t kl = json_object_iter_key_len(it);
            json_t *v = json_object_iter_value(it);
            int t = dh_jscan_member(&js, 0, key, kl);
            if (t < 0) {
                fprintf(stderr, "member \"%s\" not found\n", key);
                abort();
            }
            size_t n = 0;
            char *ours_text = dh_jscan_text(&js, t, &n);
            char *theirs = dh_json_scalar_string(v);
            size_t tn = json_is_string(v) ? json_string_length(v) : (theirs ? strlen(theirs) : 0);
            if ((ours_text == NULL) != (theirs == NULL) ||
                (ours_text != NULL && (n != tn || memcmp(ours_text, theirs, n) != 0))) {
                fprintf(stderr, "member \"%s\": scanner \"%s\", jansson \"%s\"\n", key,
                        ours_text ? ours_text : "(null)", theirs ? theirs : "(null)");
                abort();
            }
            free(ours_text);
            free(theirs);
        }
    }
    json_decref(j);
    dh_jscan_free(&js);
    return 0;
}
