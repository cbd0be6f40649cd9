/* gmem: guest memory, and the only translation from guest-physical to host addresses.
 *
 * Contract:
 * - Guest RAM is a small array of regions, each an anonymous private mapping
 *   without swap reservation (pages cost host memory only once touched),
 *   placed so that host address and gpa agree modulo 2 MiB and advised to
 *   use transparent huge pages, as QEMU does: the guest then faults in its
 *   memory 2 MiB at a time, each fault one exit, and runs with fewer TLB
 *   misses. The price is that a touched byte costs the host 2 MiB.
 *   gmem_create() lays out `size` bytes of RAM from gpa 0, skipping the MMIO
 *   gap [gap_start, gap_end): whatever does not fit below it goes above it.
 * - gmem_slice() is the only way to turn a gpa into a pointer. It refuses a
 *   zero length, gpa+len overflow, and any range that is not entirely inside
 *   one region. Callers never do pointer arithmetic past the length they
 *   asked for.
 * - gmem_map_file() replaces part of a region by a private mapping of a file
 *   (copy-on-write, so the guest can write it and the file never changes):
 *   a snapshot's memory, shared by its clones until they write it.
 * - Dirty tracking of the VMM's own writes (for Diff snapshots; KVM's dirty
 *   log covers the guest's): once gmem_dirty_enable() ran, the virtqueue
 *   layer marks every guest range it lets a device write (gmem_mark_dirty,
 *   any thread, atomic) and gmem_dirty_take() moves a region's marks into a
 *   caller's bitmap (one bit per page of that region, ORed) and clears them.
 *   Without tracking, marking is a no-op.
 * - Host addresses never leave vmm/core: callers see regions as gpa ranges
 *   (gmem_region), write memory files through gmem_dump() and register a
 *   page-fault handler through gmem_uffd.h.
 * - The gmem owns its mappings; gmem_destroy() unmaps them. Thread-safe for
 *   readers once built; the layout never changes after creation.
 * Errors: -EINVAL (bad layout), -ENOMEM (the host refused the mapping),
 * -EFAULT (range outside guest memory). */
#ifndef EMBER_GMEM_H
#define EMBER_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t;

#define GMEM_MAX_REGIONS 2
#define GMEM_PAGE_SIZE	 4096ull
#define GMEM_HUGE_SIZE	 (2ull << 20) /* a transparent huge page on x86-64 */

/* One region of guest RAM as callers outside vmm/core see it: where it is
 * in guest-physical space, never where it is in this process. */
struct gmem_range {
	gpa_t gpa;
	uint64_t size;
};

/* Opaque outside vmm/core (gmem_priv.h): host addresses stay in core. */
struct gmem;

/* size and the gap bounds must be page-aligned, 0 < gap_start <= gap_end. */
int gmem_create(uint64_t size, gpa_t gap_start, gpa_t gap_end, struct gmem **out);
void gmem_destroy(struct gmem *gm);

/* The address just above the highest byte of RAM that gmem_create() would
 * lay out for these arguments (arguments as for gmem_create). */
gpa_t gmem_layout_top(uint64_t size, gpa_t gap_start, gpa_t gap_end);

/* The regions, in guest-physical order: i < gmem_nregions(). A memory file
 * holds them back to back, region 0 first. */
unsigned gmem_nregions(const struct gmem *gm);
struct gmem_range gmem_region(const struct gmem *gm, unsigned i);
/* Bytes of RAM (the sum of the regions). */
uint64_t gmem_size(const struct gmem *gm);

/* Host pointer to [gpa, gpa+len), or NULL if the range is not all guest RAM. */
void *gmem_slice(const struct gmem *gm, gpa_t gpa, uint64_t len);

int gmem_read(const struct gmem *gm, void *dst, gpa_t gpa, uint64_t len);
int gmem_write(const struct gmem *gm, gpa_t gpa, const void *src, uint64_t len);
int gmem_fill(const struct gmem *gm, gpa_t gpa, int byte, uint64_t len);

/* Maps fd[off, off+len) privately at gpa. gpa, off and len must be page-aligned,
 * and the range inside one region. */
int gmem_map_file(struct gmem *gm, gpa_t gpa, int fd, uint64_t off, uint64_t len);
/* For a SIGBUS handler: guest memory mapped from a file that shrank under
 * the VM faults with SIGBUS. If addr lies in gm's memory, the page holding
 * it becomes a private zero page (so the access that faulted completes) and
 * it returns true; otherwise false. Async-signal-safe: one mmap(2), and it
 * only reads gm, which nothing changes while vCPUs or devices run. */
bool gmem_sigbus_fixup(const struct gmem *gm, const void *addr);

int gmem_dirty_enable(struct gmem *gm);
void gmem_mark_dirty(const struct gmem *gm, gpa_t gpa, uint64_t len);
void gmem_dirty_take(const struct gmem *gm, unsigned region, uint64_t *bitmap);
/* 64-bit words in a bitmap of region i's pages. */
size_t gmem_dirty_words(const struct gmem *gm, unsigned region);

/* End of the region that contains gpa, or 0 if gpa is not RAM. */
gpa_t gmem_region_end(const struct gmem *gm, gpa_t gpa);

/* Writes region i to fd at file offset off (pwrite, runs of pages in one
 * call). With pages NULL: every page that does not read as zero (zero pages
 * stay holes: a Full memory file is sparse). Otherwise only the pages whose
 * bit is set in pages (gmem_dirty_words() words), zero or not: a Diff file.
 * The guest must not run meanwhile. -errno of pwrite, or -EIO. */
int gmem_dump(const struct gmem *gm, unsigned i, int fd, uint64_t off, const uint64_t *pages);

/* KiB of guest RAM resident in this process now (the Rss of the regions'
 * mappings in /proc/self/smaps: file pages count once the guest touched
 * them), or 0 if it cannot be read. For metrics; slow (reads smaps). */
uint64_t gmem_resident_kib(const struct gmem *gm);

#endif
