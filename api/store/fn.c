/* fn: one function version, reference counted (see fn.h). */
#include "api/store/fn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fn *fn_new(void)
{
	struct fn *f = calloc(1, sizeof(*f));

	if (f != NULL)
		f->refs = 1;
	return f;
}

struct fn *fn_ref(struct fn *f)
{
	if (f != NULL)
		f->refs++;
	return f;
}

void fn_clear_env(struct fn *f)
{
	for (unsigned i = 0; i < f->env_count; i++) {
		free(f->env[i].key);
		free(f->env[i].value);
		f->env[i].key = f->env[i].value = NULL;
	}
	f->env_count = 0;
}

void fn_unref(struct fn *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	fn_clear_env(f);
	free(f);
}

int fn_add_env(struct fn *f, const char *key, const char *value)
{
	char *k, *v;

	if (f->env_count >= FN_ENV_MAX)
		return -ENOSPC;
	k = strdup(key);
	v = strdup(value);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	f->env[f->env_count].key = k;
	f->env[f->env_count].value = v;
	f->env_count++;
	return 0;
}

struct fn *fn_dup(const struct fn *f)
{
	struct fn *d = fn_new();

	if (d == NULL)
		return NULL;
	*d = *f;
	d->refs = 1;
	d->env_count = 0;
	memset(d->env, 0, sizeof(d->env));
	for (unsigned i = 0; i < f->env_count; i++) {
		if (fn_add_env(d, f->env[i].key, f->env[i].value) < 0) {
			fn_unref(d);
			return NULL;
		}
	}
	return d;
}

int fn_set_key(struct fn *f)
{
	int n = snprintf(f->key, sizeof(f->key), "%s/%s/%s", f->name, f->version, f->revision_id);

	return n < 0 || (size_t)n >= sizeof(f->key) ? -ENAMETOOLONG : 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool fn_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > FN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!name_char(name[i]))
			return false;
	}
	return true;
}

bool fn_version_number_valid(const char *version)
{
	unsigned long long v = 0;
	size_t n = strlen(version);

	if (n == 0 || n > 9 || version[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (version[i] < '0' || version[i] > '9')
			return false;
		v = v * 10 + (unsigned)(version[i] - '0');
	}
	return v >= 1 && v <= FN_VERSION_NUM_MAX;
}

static bool env_key_valid(const char *k)
{
	if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')) || k[1] == '\0')
		return false;
	for (const char *p = k + 1; *p != '\0'; p++) {
		if (!name_char(*p) || *p == '-')
			return false;
	}
	return true;
}

int fn_check(const struct fn *f, char *err, size_t cap)
{
	size_t env_bytes = 0;

	if (!fn_name_valid(f->name))
		return snprintf(err, cap, "bad name"), -EINVAL;
	if (strcmp(f->version, FN_LATEST) != 0 && !fn_version_number_valid(f->version))
		return snprintf(err, cap, "bad version"), -EINVAL;
	if (f->runtime[0] == '\0')
		return snprintf(err, cap, "no runtime"), -EINVAL;
	if (f->handler[0] == '\0' || strpbrk(f->handler, " \t\r\n\v\f") != NULL)
		return snprintf(err, cap, "bad handler"), -EINVAL;
	if (f->memory_mib < FN_MEMORY_MIN || f->memory_mib > FN_MEMORY_MAX)
		return snprintf(err, cap, "memory %u MiB out of range", f->memory_mib), -EINVAL;
	if (f->timeout_s < FN_TIMEOUT_MIN || f->timeout_s > FN_TIMEOUT_MAX)
		return snprintf(err, cap, "timeout %u s out of range", f->timeout_s), -EINVAL;
	if (f->env_count > FN_ENV_MAX)
		return snprintf(err, cap, "too many variables"), -EINVAL;
	for (unsigned i = 0; i < f->env_count; i++) {
		if (f->env[i].key == NULL || f->env[i].value == NULL ||
		    !env_key_valid(f->env[i].key))
			return snprintf(err, cap, "bad variable"), -EINVAL;
		env_bytes += strlen(f->env[i].key) + strlen(f->env[i].value);
	}
	if (env_bytes > FN_ENV_BYTES)
		return snprintf(err, cap, "variables too large"), -EINVAL;
	return 0;
}
