/* table: column-aligned output for the ember CLI (see table.h). */
#include "api/cli/table.h"

#include <stdlib.h>
#include <string.h>

void cli_table_init(struct cli_table *t, unsigned ncols, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < CLI_TABLE_COLS ? ncols : CLI_TABLE_COLS;
	for (unsigned c = 0; c < t->ncols; c++)
		t->head[c] = head[c];
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 16;
		char **g = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*g));

		if (g == NULL) {
			t->lost = true;
			return;
		}
		t->cells = g;
		t->cap = cap;
	}
	for (unsigned c = 0; c < t->ncols; c++) {
		char *s = strdup(cells[c] != NULL ? cells[c] : "");

		if (s == NULL) {
			for (unsigned k = 0; k < c; k++)
				free(t->cells[t->nrows * t->ncols + k]);
			t->lost = true;
			return;
		}
		t->cells[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t w[CLI_TABLE_COLS];

	for (unsigned c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (unsigned r = 0; r < t->nrows; r++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);

			if (n > w[c])
				w[c] = n;
		}
	}
	for (unsigned r = 0; r <= t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];

			if (c + 1 == t->ncols)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)w[c], s);
		}
	}
	if (t->lost)
		fprintf(f, "(some rows were dropped: out of memory)\n");
}

void cli_table_free(struct cli_table *t)
{
	for (unsigned i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}
