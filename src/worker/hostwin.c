/* hostwin.c: a provider host's congestion window (see hostwin.h). */
#include "worker/hostwin.h"

void
hostwin_init(struct hostwin *w, long max, long start)
{
	w->max = max > 0 ? max : 1;
	if (start < 1)
		start = 1;
	w->window = (double)(w->max < start ? w->max : start);
	w->slow_start = true;
	w->cut_ms = 0;
}

long
hostwin_limit(const struct hostwin *w)
{
	long n = (long)w->window;

	if (n < 1)
		return 1;
	return n > w->max ? w->max : n;
}

enum hostwin_signal
hostwin_signal_of(long http_status, enum prov_errclass neterr)
{
	/* A broken connection is how an overloaded server that stops
	 * accepting usually shows it; a refused one is rare otherwise. */
	if (neterr == PROV_ERR_TIMEOUT || neterr == PROV_ERR_NETWORK)
		return HOSTWIN_OVERLOAD;
	if (http_status == 429 || http_status == 503 || http_status == 529)
		return HOSTWIN_OVERLOAD;
	return HOSTWIN_OK;
}

bool
hostwin_update(struct hostwin *w, enum hostwin_signal sig, long in_flight, int64_t started_ms,
	       int64_t now)
{
	if (sig == HOSTWIN_OVERLOAD) {
		if (w->cut_ms != 0 && started_ms <= w->cut_ms)
			return false;
		/* Half of what was really in flight: a window far above the
		 * calls there are would still be above them once halved. */
		if (in_flight >= 0 && (double)in_flight < w->window)
			w->window = (double)in_flight;
		w->window /= 2;
		if (w->window < 1)
			w->window = 1;
		w->slow_start = false;
		w->cut_ms = now;
		return true;
	}
	w->window += w->slow_start ? 1.0 : 1.0 / w->window;
	if (w->window > (double)w->max)
		w->window = (double)w->max;
	return false;
}
