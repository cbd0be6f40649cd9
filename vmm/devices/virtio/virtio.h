/* virtio: constants from the virtio 1.x specification (split ring, virtio-mmio v2), nothing else.
 *
 * Section numbers refer to "Virtual I/O Device (VIRTIO) Version 1.2"
 * (the 1.0 and 1.1 texts use the same values). Only the values ember uses
 * are here; every fixed number of the virtio devices has its home in this
 * file or in the header of the module that owns it. All ring and register
 * fields are little-endian (2.4 "Virtqueues", 4.2.2 "MMIO Device Register
 * Layout"); ember runs on little-endian hosts only. */
#ifndef EMBER_VIRTIO_H
#define EMBER_VIRTIO_H

/* 2.1 Device Status Field: bits the driver (and, for NEEDS_RESET, the device) sets. */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1u
#define VIRTIO_STATUS_DRIVER		 2u
#define VIRTIO_STATUS_DRIVER_OK		 4u
#define VIRTIO_STATUS_FEATURES_OK	 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED		 128u

/* 6 Reserved Feature Bits (bit numbers), and 2.7.5 / 2.7.7 for the ring ones. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29
#define VIRTIO_F_VERSION_1	    32
#define VIRTIO_F_ACCESS_PLATFORM    33
#define VIRTIO_F_RING_PACKED	    34
#define VIRTIO_F_IN_ORDER	    35
#define VIRTIO_F_NOTIFICATION_DATA  38
#define VIRTIO_BIT(n)		    (1ull << (n))

/* 5 Device Types: the Device ID register values ember's devices use. */
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_ENTROPY 4
#define VIRTIO_ID_VSOCK	  19

/* 2.7 Split Virtqueues. Queue Size is at most 32768 and a power of two (2.7). */
#define VIRTQ_SIZE_LIMIT 32768u

/* 2.7.5 The Virtqueue Descriptor Table: struct virtq_desc { le64 addr; le32 len;
 * le16 flags; le16 next; }, 16 bytes, table aligned to 16 (2.7 table of alignments). */
#define VIRTQ_DESC_SIZE	      16u
#define VIRTQ_DESC_ALIGN      16u
#define VIRTQ_DESC_F_NEXT     1u /* the chain continues in `next` */
#define VIRTQ_DESC_F_WRITE    2u /* device-writable (otherwise device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4u /* buffer holds a table of descriptors (2.7.5.3) */

/* 2.7.6 The Virtqueue Available Ring: le16 flags; le16 idx; le16 ring[size];
 * le16 used_event (only with EVENT_IDX). 6 + 2 * size bytes, aligned to 2. */
#define VIRTQ_AVAIL_ALIGN	   2u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_AVAIL_OFF_FLAGS	   0u
#define VIRTQ_AVAIL_OFF_IDX	   2u
#define VIRTQ_AVAIL_OFF_RING	   4u
#define VIRTQ_AVAIL_BYTES(size)	   (6u + 2u * (uint64_t)(size))

/* 2.7.8 The Virtqueue Used Ring: le16 flags; le16 idx; struct virtq_used_elem
 * { le32 id; le32 len; } ring[size]; le16 avail_event (only with EVENT_IDX).
 * 6 + 8 * size bytes, aligned to 4. */
#define VIRTQ_USED_ALIGN       4u
#define VIRTQ_USED_F_NO_NOTIFY 1u
#define VIRTQ_USED_OFF_FLAGS   0u
#define VIRTQ_USED_OFF_IDX     2u
#define VIRTQ_USED_OFF_RING    4u
#define VIRTQ_USED_ELEM_SIZE   8u
#define VIRTQ_USED_BYTES(size) (6u + 8u * (uint64_t)(size))

/* 4.2.2 MMIO Device Register Layout (offsets from the device's base). All
 * registers are 32 bits wide and accessed as such; config space starts at 0x100. */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000 /* R: 0x74726976, "virt" */
#define VIRTIO_MMIO_VERSION		0x004 /* R: 2 for the modern layout */
#define VIRTIO_MMIO_DEVICE_ID		0x008 /* R */
#define VIRTIO_MMIO_VENDOR_ID		0x00c /* R */
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010 /* R: 32 bits selected by ..._SEL */
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014 /* W */
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020 /* W: 32 bits selected by ..._SEL */
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024 /* W */
#define VIRTIO_MMIO_QUEUE_SEL		0x030 /* W */
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034 /* R: 0 if the queue does not exist */
#define VIRTIO_MMIO_QUEUE_NUM		0x038 /* W */
#define VIRTIO_MMIO_QUEUE_READY		0x044 /* RW */
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050 /* W: queue index */
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060 /* R */
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064 /* W */
#define VIRTIO_MMIO_STATUS		0x070 /* RW: 2.1 Device Status Field */
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080 /* W */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084 /* W */
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090 /* W: the available ring */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094 /* W */
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0 /* W: the used ring */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4 /* W */
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc /* R */
#define VIRTIO_MMIO_CONFIG		0x100 /* RW: device-specific, any width */

#define VIRTIO_MMIO_MAGIC	   0x74726976u
#define VIRTIO_MMIO_VERSION_MODERN 2u

/* 4.2.2 InterruptStatus / InterruptACK bits. */
#define VIRTIO_MMIO_INT_VRING  1u /* "Used Buffer Notification" */
#define VIRTIO_MMIO_INT_CONFIG 2u /* "Configuration Change Notification" */

#endif
