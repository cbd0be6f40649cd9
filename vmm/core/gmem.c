/* gmem: guest RAM regions and checked gpa ranges (see gmem.h). */
#include "vmm/core/gmem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/core/gmem_priv.h"

static bool page_aligned(uint64_t v)
{
	return (v & (GMEM_PAGE_SIZE - 1)) == 0;
}

static int map_region(struct gmem *gm, gpa_t gpa, uint64_t size)
{
	/* MAP_NORESERVE: a guest touches only what it uses, so a VM may be larger
	 * than free memory (as in Firecracker). Under strict overcommit
	 * (vm.overcommit_memory=2) the kernel ignores the flag and refuses here.
	 * The mapping is over-sized by one huge page and trimmed so that host
	 * address and gpa agree modulo 2 MiB: only then can KVM map a transparent
	 * huge page with one nested page-table entry. */
	uint8_t *p;
	uint64_t head;

	if (size > UINT64_MAX - GMEM_HUGE_SIZE)
		return -ENOMEM;
	p = mmap(NULL, size + GMEM_HUGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	head = (gpa % GMEM_HUGE_SIZE + GMEM_HUGE_SIZE - (uintptr_t)p % GMEM_HUGE_SIZE) %
	       GMEM_HUGE_SIZE;
	if (head > 0)
		munmap(p, head);
	munmap(p + head + size, GMEM_HUGE_SIZE - head);
	p += head;
	/* 2 MiB pages, as QEMU asks for: the guest's first touch of each 2 MiB
	 * is one exit instead of 512. Fails harmlessly where the host kernel has
	 * no transparent huge pages. */
	madvise(p, size, MADV_HUGEPAGE);
	gm->regions[gm->nregions++] = (struct gmem_region){ .gpa = gpa, .size = size, .host = p };
	return 0;
}

int gmem_create(uint64_t size, gpa_t gap_start, gpa_t gap_end, struct gmem **out)
{
	struct gmem *gm;
	uint64_t low;
	int ret;

	if (size == 0 || !page_aligned(size) || !page_aligned(gap_start) ||
	    !page_aligned(gap_end) || gap_start > gap_end || gap_start == 0)
		return -EINVAL;
	if (size - 1 > UINT64_MAX - gap_end) /* the high part would overflow */
		return -EINVAL;
	gm = calloc(1, sizeof(*gm));
	if (gm == NULL)
		return -ENOMEM;
	low = size < gap_start ? size : gap_start;
	ret = map_region(gm, 0, low);
	if (ret < 0)
		goto err_free;
	if (size > low) {
		ret = map_region(gm, gap_end, size - low);
		if (ret < 0)
			goto err_unmap;
	}
	gm->total = size;
	*out = gm;
	return 0;

err_unmap:
	munmap(gm->regions[0].host, gm->regions[0].size);
err_free:
	free(gm);
	return ret;
}

gpa_t gmem_layout_top(uint64_t size, gpa_t gap_start, gpa_t gap_end)
{
	return size <= gap_start ? size : gap_end + (size - gap_start);
}

void gmem_destroy(struct gmem *gm)
{
	if (gm == NULL)
		return;
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		free(gm->dirty[i]);
	for (unsigned i = 0; i < gm->nregions; i++)
		munmap(gm->regions[i].host, gm->regions[i].size);
	free(gm);
}

static const struct gmem_region *find(const struct gmem *gm, gpa_t gpa, uint64_t len)
{
	if (len == 0 || gpa > UINT64_MAX - (len - 1))
		return NULL;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		/* gpa in region, and the last byte too: no overflow, r->size > 0. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

void *gmem_slice(const struct gmem *gm, gpa_t gpa, uint64_t len)
{
	const struct gmem_region *r = find(gm, gpa, len);

	return r != NULL ? r->host + (gpa - r->gpa) : NULL;
}

int gmem_read(const struct gmem *gm, void *dst, gpa_t gpa, uint64_t len)
{
	const void *src = gmem_slice(gm, gpa, len);

	if (src == NULL)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_write(const struct gmem *gm, gpa_t gpa, const void *src, uint64_t len)
{
	void *dst = gmem_slice(gm, gpa, len);

	if (dst == NULL)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_fill(const struct gmem *gm, gpa_t gpa, int byte, uint64_t len)
{
	void *dst = gmem_slice(gm, gpa, len);

	if (dst == NULL)
		return -EFAULT;
	memset(dst, byte, len);
	return 0;
}

int gmem_map_file(struct gmem *gm, gpa_t gpa, int fd, uint64_t off, uint64_t len)
{
	void *dst = gmem_slice(gm, gpa, len);
	void *p;

	if (dst == NULL)
		return -EFAULT;
	if (!page_aligned(gpa) || !page_aligned(off) || !page_aligned(len))
		return -EINVAL;
	p = mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, (off_t)off);
	if (p == MAP_FAILED) {
		int err = -errno;

		/* MAP_FIXED may have unmapped part of the region: put zero pages back. */
		mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		     0);
		return err;
	}
	return 0;
}

bool gmem_sigbus_fixup(const struct gmem *gm, const void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		uintptr_t base = (uintptr_t)r->host;

		if (a < base || a - base >= r->size)
			continue;
		a &= ~(uintptr_t)(GMEM_PAGE_SIZE - 1);
		return mmap((void *)a, GMEM_PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
	}
	return false;
}

gpa_t gmem_region_end(const struct gmem *gm, gpa_t gpa)
{
	const struct gmem_region *r = find(gm, gpa, 1);

	return r != NULL ? r->gpa + r->size : 0;
}

size_t gmem_dirty_words(const struct gmem *gm, unsigned region)
{
	return (size_t)((gm->regions[region].size / GMEM_PAGE_SIZE + 63) / 64);
}

int gmem_dirty_enable(struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		if (gm->dirty[i] != NULL)
			continue;
		gm->dirty[i] = calloc(gmem_dirty_words(gm, i), sizeof(uint64_t));
		if (gm->dirty[i] == NULL)
			return -ENOMEM;
	}
	return 0;
}

void gmem_mark_dirty(const struct gmem *gm, gpa_t gpa, uint64_t len)
{
	const struct gmem_region *r;

	if (gm->dirty[0] == NULL || len == 0)
		return;
	r = find(gm, gpa, len);
	if (r == NULL)
		return; /* the caller checked the range; nothing of ours to mark */
	for (uint64_t p = (gpa - r->gpa) / GMEM_PAGE_SIZE;
	     p <= (gpa - r->gpa + len - 1) / GMEM_PAGE_SIZE; p++)
		__atomic_fetch_or(&gm->dirty[r - gm->regions][p / 64], 1ull << (p % 64),
				  __ATOMIC_RELAXED);
}

void gmem_dirty_take(const struct gmem *gm, unsigned region, uint64_t *bitmap)
{
	if (region >= gm->nregions || gm->dirty[region] == NULL)
		return;
	for (size_t w = 0; w < gmem_dirty_words(gm, region); w++)
		bitmap[w] |= __atomic_exchange_n(&gm->dirty[region][w], 0, __ATOMIC_RELAXED);
}

unsigned gmem_nregions(const struct gmem *gm)
{
	return gm->nregions;
}

struct gmem_range gmem_region(const struct gmem *gm, unsigned i)
{
	if (i >= gm->nregions)
		return (struct gmem_range){ 0, 0 };
	return (struct gmem_range){ .gpa = gm->regions[i].gpa, .size = gm->regions[i].size };
}

uint64_t gmem_size(const struct gmem *gm)
{
	return gm->total;
}

static bool zero_page(const uint8_t *p)
{
	static const uint8_t zero[GMEM_PAGE_SIZE];

	return memcmp(p, zero, sizeof(zero)) == 0;
}

static int write_at(int fd, const uint8_t *src, uint64_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, src, len, (off_t)off);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		src += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int gmem_dump(const struct gmem *gm, unsigned i, int fd, uint64_t off, const uint64_t *pages)
{
	const struct gmem_region *r;
	uint64_t n, run = 0; /* start of the current run of pages to write */
	int ret = 0;

	if (i >= gm->nregions)
		return -EINVAL;
	r = &gm->regions[i];
	n = r->size / GMEM_PAGE_SIZE;
	/* One write per run of wanted pages: few syscalls, and holes elsewhere. */
	for (uint64_t p = 0; p <= n && ret == 0; p++) {
		bool want = p < n && (pages != NULL ? (pages[p / 64] >> (p % 64) & 1) != 0
						    : !zero_page(r->host + p * GMEM_PAGE_SIZE));

		if (want)
			continue;
		if (p > run)
			ret = write_at(fd, r->host + run * GMEM_PAGE_SIZE,
				       (p - run) * GMEM_PAGE_SIZE, off + run * GMEM_PAGE_SIZE);
		run = p + 1;
	}
	return ret;
}

uint64_t gmem_resident_kib(const struct gmem *gm)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	uint64_t kib = 0;
	bool inside = false;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long lo, hi, v;

		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			inside = false;
			for (unsigned i = 0; i < gm->nregions; i++) {
				uintptr_t base = (uintptr_t)gm->regions[i].host;

				if (lo >= base && hi <= base + gm->regions[i].size)
					inside = true;
			}
		} else if (inside && sscanf(line, "Rss: %llu kB", &v) == 1) {
			kib += v;
		}
	}
	fclose(f);
	return kib;
}
