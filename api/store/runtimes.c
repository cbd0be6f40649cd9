/* runtimes: runtimes.json, Lambda runtime name -> runtime image (see runtimes.h). */
#include "api/store/runtimes.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/log.h"

#define IMAGE_NAME_MAX 64

static bool valid_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			return false;
	}
	return s[0] != '.';
}

/* Reads the whole file (NUL-terminated) into *out; -EFBIG past max bytes. */
static int read_small_file(const char *path, size_t max, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t len = 0;
	int ret = -ENOMEM;

	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (buf == NULL)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			ret = -EFBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

/* Is entry i the first with its image? (One warning per missing image.) */
static bool first_of_image(const struct runtimes *rt, unsigned i)
{
	for (unsigned k = 0; k < i; k++) {
		if (strcmp(rt->e[k].image, rt->e[i].image) == 0)
			return false;
	}
	return true;
}

int runtimes_load(const char *dir, struct runtimes *rt)
{
	char path[PATH_MAX];
	char *text = NULL;
	cJSON *root = NULL, *it;
	int ret, n;

	memset(rt, 0, sizeof(*rt));
	n = snprintf(path, sizeof(path), "%s/" RUNTIMES_FILE, dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_err("--runtimes %s: the path is too long", dir);
		return -ENAMETOOLONG;
	}
	ret = read_small_file(path, RUNTIMES_FILE_MAX, &text);
	if (ret < 0) {
		log_err("%s: %s", path, ret == -EFBIG ? "too large" : strerror(-ret));
		return ret;
	}
	ret = -EINVAL;
	root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		log_err("%s: not a JSON object", path);
		goto out;
	}
	cJSON_ArrayForEach(it, root)
	{
		struct runtime_entry *e;

		if (it->string == NULL || it->string[0] == '_')
			continue;
		if (!valid_word(it->string, FN_RUNTIME_MAX) || !cJSON_IsString(it) ||
		    !valid_word(it->valuestring, IMAGE_NAME_MAX)) {
			log_err("%s: bad entry \"%.64s\" (a runtime name and an image name, "
				"letters, digits, '.', '-', '_')",
				path, it->string != NULL ? it->string : "");
			goto out;
		}
		if (rt->count >= RUNTIMES_MAX) {
			log_err("%s: more than %d runtimes", path, RUNTIMES_MAX);
			goto out;
		}
		e = &rt->e[rt->count];
		snprintf(e->name, sizeof(e->name), "%s", it->string);
		n = snprintf(e->image, sizeof(e->image), "%s/%s.erofs", dir, it->valuestring);
		if (n < 0 || (size_t)n >= sizeof(e->image)) {
			log_err("%s: the image path for %s is too long", path, e->name);
			goto out;
		}
		rt->count++;
		if (access(e->image, R_OK) < 0 && first_of_image(rt, rt->count - 1))
			log_warn("no runtime image %s yet (make runtimes)", e->image);
	}
	if (rt->count == 0) {
		log_err("%s: no runtimes", path);
		goto out;
	}
	ret = 0;
out:
	cJSON_Delete(root);
	free(text);
	return ret;
}

const char *runtimes_image(const struct runtimes *rt, const char *name)
{
	for (unsigned i = 0; i < rt->count; i++) {
		if (strcmp(rt->e[i].name, name) == 0)
			return rt->e[i].image;
	}
	return NULL;
}

void runtimes_names(const struct runtimes *rt, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; i < rt->count && len < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s", i > 0 ? ", " : "", rt->e[i].name);

		if (n < 0)
			break;
		len += (size_t)n;
	}
}
