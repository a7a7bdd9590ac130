/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ce_config.h"

void ce_diag_init(struct ce_diag *d)
{
	if (d != NULL)
		memset(d, 0, sizeof(*d));
}

void ce_diag_fini(struct ce_diag *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

/* Make room for n more characters plus the NUL. */
static int reserve(struct ce_diag *d, size_t n)
{
	size_t cap;
	char *b;

	if (d->len + n + 1 <= d->cap)
		return 0;
	cap = d->cap != 0 ? d->cap : 256;
	while (cap < d->len + n + 1)
		cap *= 2;
	b = realloc(d->buf, cap);
	if (b == NULL)
		return -1;
	d->buf = b;
	d->cap = cap;
	return 0;
}

/*
 * The message is counted even when it cannot be stored (out of memory), so
 * that a loader never reports success after an error.
 */
void ce_diag_add(struct ce_diag *d, const char *path, int line,
		 const char *fmt, ...)
{
	char head[64 + PATH_MAX];
	va_list ap;
	int hn, mn;

	if (d == NULL || fmt == NULL)
		return;
	d->errors++;
	if (path == NULL)
		path = "-";
	if (line > 0)
		hn = snprintf(head, sizeof(head), "%s:%d: ", path, line);
	else
		hn = snprintf(head, sizeof(head), "%s: ", path);
	if (hn < 0)
		return;
	if ((size_t)hn >= sizeof(head))
		hn = (int)sizeof(head) - 1;
	va_start(ap, fmt);
	mn = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (mn < 0 || reserve(d, (size_t)hn + (size_t)mn + 1) < 0)
		return;
	memcpy(d->buf + d->len, head, (size_t)hn);
	d->len += (size_t)hn;
	va_start(ap, fmt);
	vsnprintf(d->buf + d->len, (size_t)mn + 1, fmt, ap);
	va_end(ap);
	d->len += (size_t)mn;
	d->buf[d->len++] = '\n';
	d->buf[d->len] = '\0';
}

/* "parent.key", cut to len - 1 characters (the line still tells where).
 * Copied by hand: snprintf() here trips -Wformat-truncation. */
void ce_name_join(char *buf, size_t len, const char *parent, const char *key)
{
	size_t n = 0, k;

	if (parent != NULL) {
		n = strnlen(parent, len - 2);
		memcpy(buf, parent, n);
		buf[n++] = '.';
	}
	k = strnlen(key, len - 1 - n);
	memcpy(buf + n, key, k);
	buf[n + k] = '\0';
}
