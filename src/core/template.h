/*
 * template.h: JSON templates with {{path}} placeholders.
 *
 * A template is any JSON value. A string that is exactly "{{path}}" becomes
 * the value at that dotted path of the context (keeping its type: a number
 * stays a number, an object stays an object; null when absent). Other
 * strings have each {{path}} replaced by the value's text ("" when absent).
 * Objects and arrays are rendered member by member. Pure; any thread.
 */
#ifndef DH_TEMPLATE_H
#define DH_TEMPLATE_H

#include <jansson.h>

/* Returns a new value rendered from tmpl over ctx. Never NULL. */
json_t *dh_template_render(const json_t *tmpl, json_t *ctx);

#endif
