/* table: aligned text tables for the ember CLI's readable output.
 *
 * Contract: a table has up to CLI_TABLE_COLS columns with headings; rows
 * are added as copies of their cells; cli_table_print() pads every column
 * to its widest cell, two spaces apart, headings first. cli_table_free()
 * frees the cells. Out of memory: the row is dropped and the table
 * remembers it (print says so). Thread: main. */
#ifndef EMBER_CLI_TABLE_H
#define EMBER_CLI_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#define CLI_TABLE_COLS 10

struct cli_table {
	unsigned ncols, nrows, cap;
	const char *head[CLI_TABLE_COLS];
	char **cells; /* nrows * ncols */
	bool lost;
};

void cli_table_init(struct cli_table *t, unsigned ncols, const char *const *head);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

#endif
