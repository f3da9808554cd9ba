/*
 * streammock.c: the streaming benchmark's provider mock (tests/bench/stream.py).
 *
 * One process, one epoll loop on 127.0.0.1:<port>, answering every POST with
 * a provider's streamed answer: the preamble at once, then token k of the
 * answer at the request's arrival + k / rate s, then the ending; or, with
 * --whole, the whole answer at arrival + tokens / rate. The schedule is
 * absolute: a token written late (the process was not scheduled) does not
 * delay the next ones, which nginx's echo_sleep, one relative sleep after
 * the other, does on a loaded machine. Output a reader does not take is
 * kept and sent when it can be, never holding the schedule back.
 *
 * The answers come from a template file stream.py writes (the formats live
 * there): per provider, a line "P <provider> <path prefix>" then "pre ",
 * "tok ", "end " and "whole " lines, each with \n for a newline, in which
 * @_ is a space but before the first word, @K the token's number and @S the
 * write stamp (the last three digits of the seconds and the milliseconds
 * of the wall clock); in "whole", @W is the whole text, each word stamped. Each call is logged as stream.py's echo
 * mock logs it: "<end s.ms> <duration s.ms> 200 <bytes> <uri> <chat mark>".
 *
 * Exits 1 on a bad argument, template or socket; runs until SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXP 4
#define MAXCONN 16384
#define REQ_MAX 65536

struct provider {
	char name[32], path[128];
	char *pre, *tok, *end, *whole;
};

struct conn {
	int fd;
	int prov;               /* -1 until the request is read */
	size_t got;
	char *req;
	double start;
	int next;               /* the next token to write (1-based) */
	char *out;
	size_t out_len, out_off, out_cap;
	size_t sent;
	int done;               /* all written into out */
	char uri[160], mark[64];
};

static struct provider provs[MAXP];
static int nprov;
static struct conn *conns[MAXCONN];
static int maxfd;                /* the highest descriptor in conns */
static int tokens;
static double rate;
static int whole;
static FILE *logf;
static volatile sig_atomic_t stop;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Undoes \n, \\ and \" of a template line, in place. */
static char *
unescape(char *s)
{
	char *r = s, *w = s;
	while (*r) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 'n' ? '\n' : *r;
			r++;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
	return strdup(s);
}

static int
load(const char *file)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		if (strncmp(line, "P ", 2) == 0) {
			if (nprov == MAXP || sscanf(line + 2, "%31s %127s", provs[nprov].name,
						   provs[nprov].path) != 2)
				break;
			nprov++;
		} else if (nprov > 0) {
			struct provider *p = &provs[nprov - 1];
			if (strncmp(line, "pre ", 4) == 0)
				p->pre = unescape(line + 4);
			else if (strncmp(line, "tok ", 4) == 0)
				p->tok = unescape(line + 4);
			else if (strncmp(line, "end ", 4) == 0)
				p->end = unescape(line + 4);
			else if (strncmp(line, "whole ", 6) == 0)
				p->whole = unescape(line + 6);
		}
	}
	free(line);
	fclose(f);
	for (int i = 0; i < nprov; i++)
		if (!provs[i].pre || !provs[i].tok || !provs[i].end || !provs[i].whole)
			return -1;
	return nprov > 0 ? 0 : -1;
}

static void
out_add(struct conn *c, const char *s, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (!p)
			abort();
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

/* Appends template t with @_ = a space unless k is 1, @K = k, @S = the
 * stamp of now, @W = words stamped words. */
static void
out_fill(struct conn *c, const char *t, int k, int words)
{
	char num[32];
	double now = now_s();
	long ms = (long)(now * 1000) % 1000000;
	for (const char *p = t; *p; p++) {
		if (p[0] == '@' && (p[1] == '_' || p[1] == 'K' || p[1] == 'S' || p[1] == 'W')) {
			if (p[1] == '_') {
				if (k > 1)
					out_add(c, " ", 1);
			} else if (p[1] == 'K') {
				out_add(c, num, (size_t)snprintf(num, sizeof num, "%d", k));
			} else if (p[1] == 'S') {
				out_add(c, num, (size_t)snprintf(num, sizeof num, "%06ld", ms));
			} else {
				for (int w = 1; w <= words; w++) {
					int len = snprintf(num, sizeof num, "%s%c%d@%06ld", w > 1 ? " " : "",
							   provs[c->prov].name[0] == 'o' ? 'o' :
							   provs[c->prov].name[0] == 'a' ? 'a' : 'g', w, ms);
					out_add(c, num, (size_t)len);
				}
			}
			p++;
		} else {
			out_add(c, p, 1);
		}
	}
}

static void
finish(int epfd, struct conn *c)
{
	double now = now_s();
	if (c->prov >= 0 && logf) {
		fprintf(logf, "%.3f %.3f 200 %zu %s %s\n", now, now - c->start, c->sent, c->uri,
			c->mark[0] ? c->mark : "-");
		fflush(logf);
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c->req);
	free(c->out);
	free(c);
}

/* Sends what is pending; 0 when the connection goes on. */
static int
flush_out(int epfd, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			finish(epfd, c);
			return -1;
		}
		c->out_off += (size_t)n;
		c->sent += (size_t)n;
	}
	c->out_len = c->out_off = 0;
	if (c->done) {
		finish(epfd, c);
		return -1;
	}
	return 0;
}

/* The request is whole once its headers and Content-Length bytes are in. */
static void
try_request(struct conn *c)
{
	char *h = memmem(c->req, c->got, "\r\n\r\n", 4);
	if (!h)
		return;
	size_t head = (size_t)(h - c->req) + 4, len = 0;
	char *cl = memmem(c->req, head, "Content-Length:", 15);
	if (!cl)
		cl = memmem(c->req, head, "content-length:", 15);
	if (cl)
		len = strtoul(cl + 15, NULL, 10);
	if (c->got < head + len)
		return;
	c->req[c->got] = 0;
	char *sp = strchr(c->req, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
	if (sp && sp2) {
		size_t n = (size_t)(sp2 - sp - 1);
		if (n >= sizeof c->uri)
			n = sizeof c->uri - 1;
		memcpy(c->uri, sp + 1, n);
		c->uri[n] = 0;
	}
	char *m = strstr(c->req + head, "bench-stream c");
	if (m) {
		size_t n = strspn(m + 14, "0123456789");
		snprintf(c->mark, sizeof c->mark, "bench-stream c%.*s ", (int)n, m + 14);
	}
	c->prov = 0;
	for (int i = 0; i < nprov; i++)
		if (strncmp(c->uri, provs[i].path, strlen(provs[i].path)) == 0)
			c->prov = i;
	c->start = now_s();
	c->next = 1;
	if (whole)
		return;
	const char *hdr = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			  "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
	out_add(c, hdr, strlen(hdr));
	out_fill(c, provs[c->prov].pre, 0, 0);
}

/* Writes every token due by now; the time of the next one, or 0. */
static double
advance(struct conn *c, double now)
{
	if (c->prov < 0 || c->done)
		return 0;
	while (c->next <= tokens && c->start + c->next / rate <= now) {
		if (!whole)
			out_fill(c, provs[c->prov].tok, c->next, 0);
		c->next++;
	}
	if (c->next > tokens) {
		if (whole) {
			char body[128];
			size_t mark = c->out_len;
			out_fill(c, provs[c->prov].whole, 0, tokens);
			size_t blen = c->out_len - mark;
			char *copy = malloc(blen);
			if (!copy)
				abort();
			memcpy(copy, c->out + mark, blen);
			c->out_len = mark;
			int n = snprintf(body, sizeof body, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\n", blen);
			out_add(c, body, (size_t)n);
			out_add(c, "Connection: close\r\n\r\n", 21);
			out_add(c, copy, blen);
			free(copy);
		} else {
			out_fill(c, provs[c->prov].end, tokens, 0);
		}
		c->done = 1;
		return 0;
	}
	return c->start + c->next / rate;
}

int
main(int argc, char **argv)
{
	int port = 0;
	const char *tmpl = NULL, *logpath = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--tokens") == 0)
			tokens = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = strtod(argv[i + 1], NULL);
		else if (strcmp(argv[i], "--templates") == 0)
			tmpl = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			logpath = argv[i + 1];
		else if (strcmp(argv[i], "--whole") == 0)
			whole = (int)strtol(argv[i + 1], NULL, 10);
	}
	if (port <= 0 || tokens <= 0 || rate <= 0 || !tmpl || !logpath || load(tmpl) != 0) {
		fprintf(stderr, "usage: streammock --port P --tokens N --rate R --templates F --log F"
			" [--whole 1]\n");
		return 1;
	}
	logf = fopen(logpath, "a");
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int epfd = epoll_create1(0);
	if (!logf || ls < 0 || epfd < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) {
		perror("streammock");
		return 1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
	epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	struct epoll_event evs[256];
	while (!stop) {
		double now = now_s(), next = 0;
		for (int fd = 0; fd <= maxfd; fd++) {
			struct conn *c = conns[fd];
			if (!c)
				continue;
			size_t before = c->out_len;
			double due = advance(c, now);
			if (c->out_len > before || (c->done && c->out_off == c->out_len)) {
				if (flush_out(epfd, c) != 0)
					continue;
			}
			if (due > 0 && (next == 0 || due < next))
				next = due;
		}
		int timeout = next == 0 ? 100 : (int)((next - now_s()) * 1000) + 1;
		if (timeout < 0)
			timeout = 0;
		int n = epoll_wait(epfd, evs, 256, timeout);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ls) {
				int cfd;
				while ((cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (cfd >= MAXCONN) {
						close(cfd);
						continue;
					}
					struct conn *c = calloc(1, sizeof *c);
					if (!c || !(c->req = malloc(REQ_MAX + 1)))
						abort();
					c->fd = cfd;
					c->prov = -1;
					conns[cfd] = c;
					if (cfd > maxfd)
						maxfd = cfd;
					struct epoll_event cev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
								   .data.fd = cfd };
					epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
				}
				continue;
			}
			struct conn *c = conns[fd];
			if (!c)
				continue;
			if ((evs[i].events & EPOLLIN) && c->prov < 0) {
				ssize_t r;
				while (c->got < REQ_MAX &&
				       (r = recv(fd, c->req + c->got, REQ_MAX - c->got, 0)) > 0)
					c->got += (size_t)r;
				try_request(c);
			}
			if (c->out_off < c->out_len)
				flush_out(epfd, c);
		}
	}
	return 0;
}
