/* boot_timer: the I/O port through which the guest's init reports "booted".
 *
 * ember-init, as early as it can, does `ioperm(BOOT_TIMER_PORT, 1, 1)` and
 * `outb(BOOT_TIMER_VALUE, BOOT_TIMER_PORT)`. ember-vmm then logs
 * "guest booted in N us", measured from its own process start. Any other value
 * written there, and any read, is ignored (reads return 0xff). The port is
 * unused on a PC and by the guest kernel's drivers (Firecracker has the same
 * device, as MMIO, with the same magic value). */
#ifndef EMBER_BOOT_TIMER_H
#define EMBER_BOOT_TIMER_H

#define BOOT_TIMER_PORT	 0x0440
#define BOOT_TIMER_VALUE 123

#endif
