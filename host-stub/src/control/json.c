// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal JSON reader for vpv-ctl (the server's own output; still
 * bounds-checked and depth-limited).  \u escapes above 0x7f become '?'.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"

#define JSON_MAX_DEPTH	32

struct jp {
	const char *s;
	int depth;
};

static void skip_ws(struct jp *p)
{
	while (isspace((unsigned char)*p->s))
		p->s++;
}

/* Bytes from s (after the opening quote) to the closing quote. */
static size_t str_span(const char *s)
{
	const char *e = s;

	while (*e && *e != '"')
		e += e[0] == '\\' && e[1] ? 2 : 1;
	return e - s;
}

static char *parse_str(struct jp *p)
{
	const char *s = p->s + 1;
	size_t n = 0;
	char *out;

	/*
	 * The decoded string is never longer than its encoding; size the
	 * buffer by this string, not the rest of the input (that made a
	 * reply of n strings cost O(n * length) bytes).
	 */
	out = malloc(str_span(s) + 1);
	if (!out)
		return NULL;
	for (; *s && *s != '"'; s++) {
		if (*s == '\\') {
			s++;
			switch (*s) {
			case 'n':
				out[n++] = '\n';
				break;
			case 't':
				out[n++] = '\t';
				break;
			case 'r':
				out[n++] = '\r';
				break;
			case 'b':
				out[n++] = '\b';
				break;
			case 'f':
				out[n++] = '\f';
				break;
			case '"':
			case '\\':
			case '/':
				out[n++] = *s;
				break;
			case 'u': {
				char hex[5] = { 0 };
				unsigned long v;
				int i;

				for (i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)s[1 + i]))
						goto err;
					hex[i] = s[1 + i];
				}
				v = strtoul(hex, NULL, 16);
				out[n++] = v && v < 0x80 ? (char)v : '?';
				s += 4;
				break;
			}
			default:
				goto err;
			}
		} else if ((unsigned char)*s < 0x20) {
			goto err;
		} else {
			out[n++] = *s;
		}
	}
	if (*s != '"')
		goto err;
	out[n] = '\0';
	p->s = s + 1;
	return out;
err:
	free(out);
	return NULL;
}

static struct json *parse_val(struct jp *p);

static struct json *parse_container(struct jp *p, struct json *j, char end)
{
	struct json **tail = &j->child;

	p->s++;
	skip_ws(p);
	if (*p->s == end) {
		p->s++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		struct json *v;

		skip_ws(p);
		if (end == '}') {
			if (*p->s != '"')
				goto err;
			key = parse_str(p);
			if (!key)
				goto err;
			skip_ws(p);
			if (*p->s != ':') {
				free(key);
				goto err;
			}
			p->s++;
		}
		v = parse_val(p);
		if (!v) {
			free(key);
			goto err;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_ws(p);
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		if (*p->s == end) {
			p->s++;
			return j;
		}
		goto err;
	}
err:
	json_free(j);
	return NULL;
}

static struct json *parse_val(struct jp *p)
{
	struct json *j;
	char *end;

	if (++p->depth > JSON_MAX_DEPTH)
		return NULL;
	skip_ws(p);
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	switch (*p->s) {
	case '{':
		j->type = J_OBJ;
		j = parse_container(p, j, '}');
		break;
	case '[':
		j->type = J_ARR;
		j = parse_container(p, j, ']');
		break;
	case '"':
		j->type = J_STR;
		j->str = parse_str(p);
		if (!j->str) {
			free(j);
			j = NULL;
		}
		break;
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(p->s, "true", 4)) {
			j->type = J_BOOL;
			j->b = true;
			p->s += 4;
		} else if (!strncmp(p->s, "false", 5)) {
			j->type = J_BOOL;
			p->s += 5;
		} else if (!strncmp(p->s, "null", 4)) {
			j->type = J_NULL;
			p->s += 4;
		} else {
			free(j);
			j = NULL;
		}
		break;
	default:
		j->type = J_NUM;
		j->num = strtod(p->s, &end);
		if (end == p->s) {
			free(j);
			j = NULL;
		} else {
			p->s = end;
		}
		break;
	}
	p->depth--;
	return j;
}

struct json *json_parse(const char *s)
{
	struct jp p = { .s = s };
	struct json *j = parse_val(&p);

	if (!j)
		return NULL;
	skip_ws(&p);
	if (*p.s) {
		json_free(j);
		return NULL;
	}
	return j;
}

void json_free(struct json *j)
{
	while (j) {
		struct json *next = j->next;

		json_free(j->child);
		free(j->str);
		free(j->key);
		free(j);
		j = next;
	}
}

struct json *json_get(const struct json *obj, const char *key)
{
	struct json *c;

	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (c = obj->child; c; c = c->next)
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}
