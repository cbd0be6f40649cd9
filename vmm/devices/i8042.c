/* i8042: status reads and the 0xFE reset command (see i8042.h). */
#include "i8042.h"

#include <string.h>

#include "log.h"

static void i8042_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, size);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;

	(void)size;
	if (offset == 0 && data[0] == I8042_CMD_RESET) {
		log_debug("i8042: guest requested a CPU reset");
		k->reset(k->opaque);
	}
}

static void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)size;
}

const struct bus_ops i8042_data_ops = { .read = i8042_read, .write = i8042_data_write };
const struct bus_ops i8042_cmd_ops = { .read = i8042_read, .write = i8042_cmd_write };
