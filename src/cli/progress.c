/* The progress bar drsn detect and drsn denoise draw on stderr when it is a
 * terminal: drawn over itself with \r, and erased before anything else is
 * printed (a detection, when stdout is the same terminal, or an error) so
 * that line starts at the left margin, then drawn again. */
#include <stdio.h>

#include "cli/cli.h"

static struct {
	int drawn;
	double done, total;
	int file, n_files;
} bar;

static void draw(void)
{
	const int width = 30;
	double f = bar.total > 0 ? bar.done / bar.total : 1;
	if (f > 1)
		f = 1;
	int fill = (int)(f * width);
	fprintf(stderr, "\r[%.*s%*s] %3d%%  file %d/%d", fill, "##############################",
		width - fill, "", (int)(f * 100), bar.file, bar.n_files);
	bar.drawn = 1;
}

void drsn__cli_progress(double done, double total, int file, int n_files)
{
	struct drsn__cli_job_progress *slot = drsn__cli_job_progress_slot();
	if (slot) {   /* a -j worker: the main thread draws it (drsn__cli_jobs_run's tick) */
		atomic_store(&slot->done, (long long)done);
		atomic_store(&slot->total, (long long)total);
		return;
	}
	bar.done = done;
	bar.total = total;
	bar.file = file;
	bar.n_files = n_files;
	draw();
}

int drsn__cli_progress_erase(void)
{
	if (!bar.drawn || drsn__cli_capturing())
		return 0;
	fputs("\r\033[K", stderr);   /* to the left margin, erase to the end of the line */
	bar.drawn = 0;
	return 1;
}

void drsn__cli_progress_redraw(void)
{
	if (drsn__cli_capturing())
		return;
	draw();
}
