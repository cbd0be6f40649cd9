/* snap format: the snapshot state file: header, tagged sections, CRC; a writer and a bounded reader.
 *
 * Layout (every integer little-endian, written field by field, never a struct):
 *   header   magic "EMBERSNP" (8 bytes), major u16, minor u16, arch u32,
 *            total length u64 (the whole file, CRC included)           = 24 bytes
 *   sections tag u32, version u32, length u64, then `length` payload bytes;
 *            as many as the writer put there, in the order it put them
 *   trailer  CRC-32 (zlib's, the IEEE polynomial) u32 over every byte before it
 *
 * Version rules:
 * - The reader refuses another major version, and a minor version newer than
 *   SNAP_MINOR (a newer ember may have added sections or fields we cannot
 *   judge). Older minors are accepted.
 * - Each section carries its own version. A decoder refuses a version newer
 *   than the one it knows; for an older one it reads the old layout and fills
 *   the fields that layout lacks with their defaults. Because newer files are
 *   refused as a whole, a section never has "trailing fields we may ignore":
 *   a decoder must consume its payload exactly, and bytes left over are an
 *   error (snap_r_done), as is reading past the end.
 * - Unknown tags: tags are never reused. A tag this build does not know can
 *   only come from a newer (refused) file, a corrupt one or a foreign one, so
 *   it is refused (snap_file_check_tags). A section retired in a later minor
 *   stays in the reader's known-tag table and is skipped.
 *
 * Limits: a file over SNAP_MAX_STATE_BYTES is refused from its size before it
 * is read, and the writer refuses to grow past it; at most
 * SNAP_MAX_SECTIONS sections.
 *
 * Errors: negative errno; every refusal is logged once with log_err, naming
 * the file part (header field, section tag and index, offset) and what is
 * wrong, so an API caller can return log_last_error(). Nothing here is
 * thread-safe per object; separate objects are independent. */
#ifndef EMBER_SNAP_FORMAT_H
#define EMBER_SNAP_FORMAT_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC	     "EMBERSNP"
#define SNAP_MAGIC_LEN	     8
#define SNAP_MAJOR	     1
#define SNAP_MINOR	     0
#define SNAP_ARCH_X86_64     1
#define SNAP_HEADER_LEN	     24 /* magic, major, minor, arch, total length */
#define SNAP_SECTION_HDR_LEN 16 /* tag, version, length */
#define SNAP_CRC_LEN	     4
#define SNAP_MAX_STATE_BYTES (16u << 20)
#define SNAP_MAX_SECTIONS    128

/* Four ASCII characters, readable in a hex dump of the file. */
#define SNAP_TAG(a, b, c, d)                                                                       \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* ---- writer ---- */

/* A growable buffer. Writes after a failure (no memory, the size cap, a
 * misuse such as nested sections) do nothing; snap_w_finish reports it. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section_start; /* offset of the open section's header, or SIZE_MAX */
	int error;	      /* first failure, negative errno */
};

/* Starts a file: writes the header (its length is patched by snap_w_finish). */
int snap_w_init(struct snap_writer *w);
void snap_w_free(struct snap_writer *w);
void snap_w_u8(struct snap_writer *w, uint8_t v);
void snap_w_u16(struct snap_writer *w, uint16_t v);
void snap_w_u32(struct snap_writer *w, uint32_t v);
void snap_w_u64(struct snap_writer *w, uint64_t v);
void snap_w_bytes(struct snap_writer *w, const void *p, size_t n);
/* Sections do not nest; end closes the open one and patches its length. */
void snap_w_section_begin(struct snap_writer *w, uint32_t tag, uint32_t version);
void snap_w_section_end(struct snap_writer *w);
/* Patches the total length and appends the CRC; then w->buf[0..w->len) is the
 * file. Returns w->error, or -EINVAL if a section is still open. */
int snap_w_finish(struct snap_writer *w);
/* Writes a finished file atomically: a temporary file in path's directory,
 * fsync, rename over path, fsync of the directory. On failure the temporary
 * file is removed and path is untouched. */
int snap_w_to_file(const struct snap_writer *w, const char *path);

/* ---- parsed file ---- */

struct snap_section {
	uint32_t tag, version;
	const uint8_t *data; /* points into the parsed buffer */
	size_t len;
	size_t offset; /* of the section header in the file, for messages */
	unsigned index;
};

struct snap_file {
	uint16_t major, minor;
	uint32_t arch;
	unsigned nsections;
	struct snap_section sections[SNAP_MAX_SECTIONS];
};

/* Reads path into a malloc'd buffer (*buf, *len), refusing a file over
 * SNAP_MAX_STATE_BYTES before reading it. The caller frees *buf. */
int snap_file_load(const char *path, uint8_t **buf, size_t *len);
/* Checks the header (magic, major/minor, arch, total length == len), the CRC,
 * and that the sections tile the space between header and CRC exactly.
 * f's sections point into buf, which must outlive f. -EBADMSG on any defect. */
int snap_file_parse(const uint8_t *buf, size_t len, struct snap_file *f);
/* The n-th (0-based) section with this tag, or NULL. */
const struct snap_section *snap_file_find(const struct snap_file *f, uint32_t tag, unsigned n);
unsigned snap_file_count(const struct snap_file *f, uint32_t tag);
/* -EBADMSG (logged) if a section's tag is not in known[0..n). */
int snap_file_check_tags(const struct snap_file *f, const uint32_t *known, size_t n);
/* "VCPU" for a printable tag, else "0x%08x"; buf needs 11 bytes. */
const char *snap_tag_name(uint32_t tag, char buf[11]);

/* ---- bounded reader over one section ---- */

struct snap_reader {
	const struct snap_section *s;
	size_t off;
	bool failed; /* sticky: after the first failure every read yields 0 */
};

void snap_r_init(struct snap_reader *r, const struct snap_section *s);
uint8_t snap_r_u8(struct snap_reader *r);
uint16_t snap_r_u16(struct snap_reader *r);
uint32_t snap_r_u32(struct snap_reader *r);
uint64_t snap_r_u64(struct snap_reader *r);
/* Copies n bytes, or zeroes dst and fails if fewer remain. */
void snap_r_bytes(struct snap_reader *r, void *dst, size_t n);
size_t snap_r_left(const struct snap_reader *r);
/* Marks the reader failed and logs why (first failure only), prefixed with
 * the section's tag, index and the offset reached. Returns -EBADMSG. */
int snap_r_fail(struct snap_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 if every read succeeded and the payload was consumed exactly; otherwise
 * -EBADMSG (logged: bytes left over, or the earlier failure). */
int snap_r_done(struct snap_reader *r);

#endif
