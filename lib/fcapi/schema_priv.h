/* schema_priv: the field walker shared by the schema*.c files (not for other modules).
 *
 * A parser describes an object as a table of struct field, each pointing at
 * where its value goes; schema_fields() walks the object once, rejecting
 * unknown and repeated keys, wrong types and out-of-range values, then checks
 * the required ones. A null value counts as left out. ctx (NULL for an API
 * body) prefixes every message: "drives[0].path_on_host: ...". */
#ifndef EMBER_API_SCHEMA_PRIV_H
#define EMBER_API_SCHEMA_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lib/fcapi/config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum ftype { FT_STR, FT_BOOL, FT_UINT, FT_ENUM, FT_NULL, FT_OBJ, FT_ANY };

struct field {
	const char *name;
	enum ftype type;
	bool required;
	char *str; /* FT_STR: NUL-terminated, at most cap - 1 bytes; required ones non-empty */
	size_t cap;
	bool *b;		  /* FT_BOOL */
	uint64_t *u;		  /* FT_UINT, in [min, max] */
	uint64_t min, max;	  /* FT_UINT */
	int *e;			  /* FT_ENUM: index into names */
	const char *const *names; /* FT_ENUM: NULL-terminated */
	const cJSON **obj;	  /* FT_OBJ, FT_ANY (any non-null value): borrowed from the tree */
	const char *note;	  /* FT_NULL: why only null is accepted */
	bool given, set;	  /* out: key present / present and not null */
};

int schema_fail(char *err, size_t errlen, const char *ctx, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int schema_fields(const cJSON *obj, const char *ctx, struct field *f, size_t n, char *err,
		  size_t errlen);
/* Size cap, the \u0000 check, then cJSON; the caller cJSON_Delete()s *out. */
int schema_parse_body(const char *body, cJSON **out, char *err, size_t errlen);
/* Parses body and hands the root to fn (ctx NULL); the shape of every PUT/PATCH. */
int schema_with_body(const char *body,
		     int (*fn)(const cJSON *, const char *, void *, char *, size_t), void *out,
		     char *err, size_t errlen);

/* machine-config huge_pages, indexed by enum config_huge_pages, NULL-terminated. */
extern const char *const schema_huge_pages_names[];

/* The PUT parsers on a parsed object; out is the struct the PUT fills. */
int schema_machine_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen);
int schema_boot_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen);
int schema_drive_put_json(const cJSON *obj, const char *ctx, const char *path_id,
			  struct drive_config *out, char *err, size_t errlen);
int schema_vsock_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen);
int schema_entropy_put_json(const cJSON *obj, const char *ctx, void *out, char *err, size_t errlen);

/* A string field stored in the char array `buf`: its capacity comes from the
 * array itself, so the two can never disagree. */
#define FIELD_STR(n, buf, req)                                                                     \
	{                                                                                          \
		.name = (n), .type = FT_STR, .required = (req), .str = (buf), .cap = sizeof(buf)   \
	}

#endif
