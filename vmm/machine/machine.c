/* machine: build the microVM from its config, run it, tear it down (see machine.h). */
#include "vmm/machine/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "vmm/arch/arch.h"
#include "vmm/arch/x86_64/bootparams.h"
#include "vmm/arch/x86_64/cpu.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/loader.h"
#include "vmm/arch/x86_64/mptable.h"
#include "lib/util/boot_timer.h"
#include "vmm/core/bus.h"
#include "vmm/core/evloop.h"
#include "vmm/core/gmem.h"
#include "vmm/core/kvm.h"
#include "vmm/core/vcpu.h"
#include "vmm/core/vm.h"
#include "vmm/devices/boot_timer.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial.h"
#include "lib/util/log.h"
#include "vmm/machine/machine_priv.h"
#include "vmm/seccomp/filter.h"

/* --- callbacks from devices and the VM --- */

static void wake_loop(void *opaque)
{
	evloop_stop(opaque);
}

/* --- event-loop handlers --- */

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct machine *vmm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("stopping on signal %u", si.ssi_signo);
	vmm->signal_exit = VMM_EXIT_SIGNAL_BASE + (int)si.ssi_signo;
	vm_request_stop(vmm->vm, vmm->signal_exit);
}

static void on_stdin(void *opaque, int fd, uint32_t events)
{
	struct machine *vmm = opaque;
	uint8_t buf[SERIAL_FIFO];
	size_t space = serial_rx_space(&vmm->devs.serial);
	ssize_t n;

	if (space == 0) {
		/* Backpressure: wait until the guest reads the FIFO (on_rx_drained). */
		evloop_mod(vmm->ev, fd, 0);
		vmm->stdin_paused = true;
		return;
	}
	n = read(fd, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n > 0) {
		serial_input(&vmm->devs.serial, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	(void)events;
	evloop_del(vmm->ev, fd); /* EOF or error: no more console input */
	vmm->stdin_polled = false;
}

static void on_rx_drained(void *opaque, int fd, uint32_t events)
{
	struct machine *vmm = opaque;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
	}
	if (vmm->stdin_polled && vmm->stdin_paused && serial_rx_space(&vmm->devs.serial) > 0) {
		vmm->stdin_paused = false;
		evloop_mod(vmm->ev, STDIN_FILENO, EPOLLIN);
	}
}

static void serial_rx_drained(void *opaque)
{
	struct machine *vmm = opaque;
	uint64_t one = 1;

	if (vmm->stdin_paused && write(vmm->rx_fd, &one, sizeof(one)) < 0) {
	}
}

/* --- accounting --- */

/* KiB of the VmHWM line of /proc/self/status, or 0. */
static uint64_t peak_rss_kib(void)
{
	char buf[4096], *p;
	uint64_t kib = 0;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "VmHWM:");
	if (p != NULL)
		kib = strtoull(p + strlen("VmHWM:"), NULL, 10);
	return kib;
}

/* Guest memory is mapped without reservation and costs host memory only when
 * touched, but Linux alone touches 1/64 of it for struct pages. Past this
 * factor of the host's RAM + swap, the guest cannot even boot. */
#define HOST_OVERCOMMIT_FACTOR 32u

static uint64_t host_mem_limit_mib(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return UINT64_MAX;
	return ((uint64_t)si.totalram + si.totalswap) * si.mem_unit / MIB * HOST_OVERCOMMIT_FACTOR;
}

/* --- build steps --- */

/* The configured command line must fit where the loader puts it. */
_Static_assert(CONFIG_CMDLINE_MAX <= LAYOUT_CMDLINE_MAX, "boot_args fit the command-line area");

static int load_guest(struct machine *vmm)
{
	const struct vm_config *cfg = vmm->cfg;
	const char *kpath = cfg->boot_source.kernel_image_path;
	struct boot_info bi = { 0 };
	char err[LOADER_ERR_LEN], cmdline[LAYOUT_CMDLINE_MAX];
	struct loader_source ksrc = { .fd = vmm->kernel.fd, .fc = &vmm->copy },
			     isrc = { .fd = vmm->initrd.fd, .fc = &vmm->copy };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	ret = loader_place(vmm->gm, &vmm->img, vmm->kernel.data, vmm->kernel.len, &ksrc, err,
			   sizeof(err));
	if (ret < 0)
		goto err_kernel;
	if (vmm->initrd.data != NULL) {
		ret = loader_place_initrd(vmm->gm, &vmm->img, vmm->initrd.data, vmm->initrd.len,
					  &isrc, &bi.initrd_gpa, err, sizeof(err));
		if (ret < 0) {
			log_err("%s: %s", cfg->boot_source.initrd_path, err);
			return ret;
		}
		bi.initrd_size = vmm->initrd.len;
	}
	/* The reads run beside KVM's setup from here; machine_build_with() finishes
	 * them before the VM is ready. One helper per host CPU. */
	filecopy_start(&vmm->copy, ncpu > 0 ? (unsigned)ncpu : 1);
	ret = devices_cmdline(&vmm->devs, vmm->cfg, cmdline, sizeof(cmdline));
	if (ret < 0)
		return ret;
	ret = bootparams_write_cmdline(vmm->gm, &vmm->img, cmdline, &bi, err, sizeof(err));
	if (ret < 0) {
		log_err("--cmdline: %s", err);
		return ret;
	}
	if (vmm->img.entry_mode == BOOT_ENTRY_PVH)
		ret = bootparams_write_pvh(vmm->gm, &bi);
	else
		ret = bootparams_write_linux(vmm->gm, &vmm->img, &bi);
	if (ret == 0)
		ret = mptable_write(vmm->gm, cfg->machine.vcpu_count);
	if (ret < 0) {
		log_err("guest memory too small for the boot parameters");
		return ret;
	}
	return 0;

err_kernel:
	log_err("%s: %s", kpath, err);
	return ret;
}

/* Waits for the kernel and initrd reads that load_guest() queued. */
static int copy_finish(struct machine *vmm)
{
	const char *what = NULL;
	int ret = filecopy_finish(&vmm->copy, &what);

	if (ret < 0)
		log_err("%s: reading it into guest memory failed: %s",
			what != NULL && strcmp(what, LOADER_INITRD) == 0
				? vmm->cfg->boot_source.initrd_path
				: vmm->cfg->boot_source.kernel_image_path,
			filecopy_strerror(ret));
	return ret;
}

static int add_devices(struct machine *vmm)
{
	struct devices_env env = {
		.vm = vmm->vm,
		.rx_drained = serial_rx_drained,
		.rx_opaque = vmm,
		.out_ready = console_out_ready,
		.out_opaque = &vmm->con,
		.start_ns = vmm->start_ns,
	};
	int ret;

	bus_init(&vmm->pio, "pio");
	bus_init(&vmm->mmio, "mmio");
	ret = devices_attach(&vmm->devs, &env, vmm->gm, &vmm->pio, &vmm->mmio, vmm->ev);
	if (ret == 0)
		ret = console_attach(&vmm->con, &vmm->devs.serial, vmm->ev);
	return ret;
}

static int add_vcpus(struct machine *vmm)
{
	unsigned n = vmm->cfg->machine.vcpu_count;
	int ret;

	for (unsigned i = 0; i < n; i++) {
		ret = vcpu_create(vmm->vm, i, n, &vmm->pio, &vmm->mmio, &vmm->vcpus[i]);
		if (ret < 0)
			return ret;
		vmm->nvcpus++;
	}
	/* A restored BSP gets its state from the snapshot instead. */
	return vmm->restoring ? 0 : cpu_setup_boot_vcpu(vmm->vcpus[0]->fd, vmm->gm, &vmm->img);
}

static int setup_loop(struct machine *vmm)
{
	sigset_t set;
	int ret;

	ret = evloop_create(&vmm->ev);
	if (ret < 0)
		return ret;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked here, so every vCPU thread inherits the mask and signalfd gets them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	vmm->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vmm->sig_fd < 0)
		return -errno;
	ret = evloop_add(vmm->ev, vmm->sig_fd, EPOLLIN, on_signal, vmm);
	if (ret < 0)
		return ret;
	vmm->rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->rx_fd < 0)
		return -errno;
	ret = evloop_add(vmm->ev, vmm->rx_fd, EPOLLIN, on_rx_drained, vmm);
	if (ret < 0)
		return ret;
	/* Console input, if stdin can be polled (not /dev/null or a regular file). */
	if (evloop_add(vmm->ev, STDIN_FILENO, EPOLLIN, on_stdin, vmm) == 0)
		vmm->stdin_polled = true;
	vm_set_stop_hook(vmm->vm, wake_loop, vmm->ev);
	return 0;
}

static int open_inputs(struct machine *vmm)
{
	const struct vm_config *cfg = vmm->cfg;
	char err[LOADER_ERR_LEN];
	int ret;

	ret = vmm->restoring ? 0
			     : loader_file_open(cfg->boot_source.kernel_image_path, &vmm->kernel,
						err, sizeof(err));
	if (ret == 0 && !vmm->restoring) {
		ret = loader_parse(vmm->kernel.data, vmm->kernel.len, &vmm->img, err, sizeof(err));
		if (ret < 0) {
			log_err("%s: %s", cfg->boot_source.kernel_image_path, err);
			return ret;
		}
	}
	if (ret == 0 && !vmm->restoring && cfg->boot_source.initrd_path[0] != '\0')
		ret = loader_file_open(cfg->boot_source.initrd_path, &vmm->initrd, err,
				       sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return ret;
	}
	if (cfg->console.path[0] != '\0') {
		vmm->console_fd = open(cfg->console.path,
				       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (vmm->console_fd < 0) {
			ret = -errno;
			log_err("--console %s: %s", cfg->console.path, strerror(errno));
			return ret;
		}
	}
	ret = console_open(&vmm->con, vmm->console_fd >= 0 ? vmm->console_fd : STDOUT_FILENO,
			   vmm->console_fd >= 0);
	if (ret < 0) {
		log_err("the console: %s", strerror(-ret));
		return ret;
	}
	vmm->console_fd = -1; /* the console owns it now */
	return 0;
}

int machine_build(const struct vm_config *cfg, uint64_t start_ns, struct machine **out)
{
	return machine_build_with(cfg, start_ns, NULL, out);
}

int machine_build_with(const struct vm_config *cfg, uint64_t start_ns,
		       const struct machine_restore *rs, struct machine **out)
{
	struct machine *vmm = calloc(1, sizeof(*vmm));
	uint64_t mem = cfg->machine.mem_size_mib * MIB;
	int code = VMM_EXIT_CONFIG, ret;

	if (vmm == NULL) {
		log_err("out of memory");
		return VMM_EXIT_KVM;
	}
	vmm->cfg = cfg;
	vmm->start_ns = start_ns;
	vmm->restoring = rs != NULL;
	vmm->console_fd = vmm->sig_fd = vmm->rx_fd = vmm->uffd = -1;
	vmm->kernel.fd = vmm->initrd.fd = -1;
	console_init(&vmm->con);
	memguard_init(&vmm->guard);
	filecopy_init(&vmm->copy);
	devices_init(&vmm->devs);
	if (open_inputs(vmm) < 0 || devices_open(&vmm->devs, cfg) < 0)
		goto err;
	if (host_mem_limit_mib() < cfg->machine.mem_size_mib) {
		log_err("--mem-mib %llu: too much for this host: at most %llu MiB (%u x its RAM + "
			"swap; a guest needs 1/64 of its memory in real pages for the kernel's "
			"page structures)",
			(unsigned long long)cfg->machine.mem_size_mib,
			(unsigned long long)host_mem_limit_mib(), HOST_OVERCOMMIT_FACTOR);
		goto err;
	}
	ret = gmem_create(mem, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END, &vmm->gm);
	if (ret < 0) {
		log_err("--mem-mib %llu: the host cannot provide that much guest memory (%s)",
			(unsigned long long)cfg->machine.mem_size_mib, strerror(-ret));
		goto err;
	}
	if (rs != NULL ? machine_restore_memory(vmm, rs) < 0 : load_guest(vmm) < 0)
		goto err;

	code = VMM_EXIT_KVM;
	if (kvm_open(&vmm->kvm) < 0)
		goto err;
	if ((gmem_layout_top(mem, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END) - 1) >>
	    arch_phys_bits(vmm->kvm)) {
		log_err("--mem-mib %llu: more than this host's vCPUs can address (%u physical "
			"address bits)",
			(unsigned long long)cfg->machine.mem_size_mib, arch_phys_bits(vmm->kvm));
		code = VMM_EXIT_CONFIG;
		goto err;
	}
	if (cfg->machine.vcpu_count > vmm->kvm->max_vcpus) {
		log_err("--vcpus %u: this host's KVM allows at most %u", cfg->machine.vcpu_count,
			vmm->kvm->max_vcpus);
		code = VMM_EXIT_CONFIG;
		goto err;
	}
	if (vcpu_init_signals() < 0 || vm_create(vmm->kvm, &vmm->vm) < 0 ||
	    (cfg->machine.track_dirty_pages && gmem_dirty_enable(vmm->gm) < 0) ||
	    vm_set_memory(vmm->vm, vmm->gm, cfg->machine.track_dirty_pages) < 0 ||
	    arch_vm_create_irqchip(vmm->vm) < 0 || setup_loop(vmm) < 0 ||
	    memguard_arm(&vmm->guard, vmm->gm, vmm->vm, vmm->ev) < 0 || add_devices(vmm) < 0 ||
	    add_vcpus(vmm) < 0)
		goto err;
	/* A snapshot that does not fit this host or its files is bad input. */
	code = VMM_EXIT_CONFIG;
	if (rs != NULL && machine_restore_state(vmm, rs) < 0)
		goto err;
	if (vmm->copy.started && copy_finish(vmm) < 0)
		goto err;
	log_debug("ready to run %llu us after start: %s, %s entry, %u vCPUs, %llu MiB",
		  (unsigned long long)((boot_timer_now_ns() - start_ns) / 1000),
		  rs != NULL ? "snapshot" : vmm->img.format,
		  rs != NULL				      ? "restored"
		  : vmm->img.entry_mode == BOOT_ENTRY_PVH     ? "PVH"
		  : vmm->img.entry_mode == BOOT_ENTRY_LINUX64 ? "64-bit"
							      : "32-bit",
		  cfg->machine.vcpu_count, (unsigned long long)cfg->machine.mem_size_mib);
	*out = vmm;
	return VMM_EXIT_OK;

err:
	machine_destroy(vmm);
	return code;
}

int machine_run(struct machine *vmm)
{
	bool paused = atomic_load(&vmm->vm->pause_req); /* restored without resume_vm */
	int ret = 0;

	/* The vCPU threads start behind the pause gate: each installs its own
	 * seccomp filter and parks before any guest instruction. This thread
	 * installs its own only then, since threads inherit the filter of the
	 * thread that creates them and this one's allows no KVM_RUN. */
	vm_pause_request(vmm->vm);
	for (unsigned i = 0; i < vmm->nvcpus && ret == 0; i++)
		ret = vcpu_start(vmm->vcpus[i]);
	if (ret == 0)
		ret = vm_pause_wait(vmm->vm, vmm->nvcpus);
	if (ret == 0)
		ret = filter_install(ROLE_VMM);
	if (ret == 0)
		log_debug("guest may run %llu us after start (every thread filtered)",
			  (unsigned long long)((boot_timer_now_ns() - vmm->start_ns) / 1000));
	if (ret == 0 && !paused)
		vm_resume(vmm->vm);
	if (ret < 0)
		vm_request_stop(vmm->vm, VMM_EXIT_KVM);
	else if (evloop_run(vmm->ev) < 0)
		vm_request_stop(vmm->vm, VMM_EXIT_KVM);
	/* The VM is stopping: get every vCPU out of KVM_RUN, then wait for it. */
	for (unsigned i = 0; i < vmm->nvcpus; i++)
		vcpu_kick(vmm->vcpus[i]);
	for (unsigned i = 0; i < vmm->nvcpus; i++) {
		static const char *const kstat[] = { "exits", "pf_taken", "halt_exits" };
		struct vcpu_stats *s = &vmm->vcpus[i]->stats;
		uint64_t k[3];

		vcpu_join(vmm->vcpus[i]);
		log_debug("vCPU %u: %llu exits (%llu port I/O, %llu MMIO, %llu unclaimed)", i,
			  (unsigned long long)s->exits, (unsigned long long)s->io_exits,
			  (unsigned long long)s->mmio_exits, (unsigned long long)s->unclaimed);
		/* The exits KVM handles itself, nested page faults above all, are
		 * what a boot under nested virtualization spends its time on. */
		if (log_get_level() >= LOG_DEBUG &&
		    kvm_stats_get(vmm->vcpus[i]->fd, kstat, 3, k) == 0)
			log_debug("vCPU %u: KVM saw %llu exits, %llu page faults, %llu halts", i,
				  (unsigned long long)k[0], (unsigned long long)k[1],
				  (unsigned long long)k[2]);
	}
	/* Never waits: what the console's reader did not take is counted. */
	console_finish(&vmm->con);
	if (atomic_load(&vmm->vm->exit_code) == VMM_EXIT_GUEST_MEMORY)
		memguard_explain(&vmm->guard);
	if (log_get_level() >= LOG_DEBUG) {
		uint64_t peak = peak_rss_kib(), guest = gmem_resident_kib(vmm->gm);

		log_debug("peak RSS %llu KiB, guest memory resident %llu KiB, own RSS %llu KiB",
			  (unsigned long long)peak, (unsigned long long)guest,
			  (unsigned long long)(peak > guest ? peak - guest : 0));
	}
	return atomic_load(&vmm->vm->exit_code);
}

void machine_destroy(struct machine *vmm)
{
	if (vmm == NULL)
		return;
	for (unsigned i = 0; i < vmm->nvcpus; i++)
		vcpu_destroy(vmm->vcpus[i]);
	/* No vCPU runs now, and the loop has returned: nothing uses the devices. */
	if (vmm->copy.started) /* an error during setup: the reads still write guest memory */
		filecopy_abort(&vmm->copy);
	console_destroy(&vmm->con);
	memguard_disarm(&vmm->guard);
	devices_destroy(&vmm->devs);
	vm_destroy(vmm->vm);
	kvm_close(vmm->kvm);
	evloop_destroy(vmm->ev);
	if (vmm->sig_fd >= 0)
		close(vmm->sig_fd);
	if (vmm->rx_fd >= 0)
		close(vmm->rx_fd);
	if (vmm->console_fd >= 0)
		close(vmm->console_fd);
	gmem_destroy(vmm->gm);
	if (vmm->uffd >= 0) /* after the memory it watches (core/gmem_uffd.h) */
		close(vmm->uffd);
	loader_file_close(&vmm->initrd);
	loader_file_close(&vmm->kernel);
	free(vmm);
}

struct evloop *machine_loop(struct machine *vmm)
{
	return vmm->ev;
}

int machine_pause(struct machine *vmm)
{
	int ret;

	vm_pause_request(vmm->vm);
	for (unsigned i = 0; i < vmm->nvcpus; i++)
		vcpu_kick(vmm->vcpus[i]);
	ret = vm_pause_wait(vmm->vm, vmm->nvcpus);
	/* Whatever the guest printed before the pause goes out now, even a
	 * partial line, as far as the console's reader takes it (no waiting). */
	console_drain(&vmm->con);
	return ret;
}

void machine_resume(struct machine *vmm)
{
	vm_resume(vmm->vm);
}

int machine_ctrl_alt_del(struct machine *vmm)
{
	return i8042_send_ctrl_alt_del(&vmm->devs.i8042);
}

int machine_replace_drive(struct machine *vmm, unsigned index, const char *path, char *err,
			  size_t errlen)
{
	return devices_replace_drive(&vmm->devs, index, path, err, errlen);
}

void machine_get_stats(struct machine *vmm, struct machine_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < vmm->nvcpus; i++) {
		const struct vcpu_stats *s = &vmm->vcpus[i]->stats;

		out->vcpu.exits += __atomic_load_n(&s->exits, __ATOMIC_RELAXED);
		out->vcpu.io_exits += __atomic_load_n(&s->io_exits, __ATOMIC_RELAXED);
		out->vcpu.mmio_exits += __atomic_load_n(&s->mmio_exits, __ATOMIC_RELAXED);
		out->vcpu.intr_exits += __atomic_load_n(&s->intr_exits, __ATOMIC_RELAXED);
		out->vcpu.unclaimed += __atomic_load_n(&s->unclaimed, __ATOMIC_RELAXED);
	}
	devices_stats(&vmm->devs, vmm->cfg, out);
}
