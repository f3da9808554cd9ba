/* fcgi_opts.c: aigw-fcgi's command line (fcgi_opts.h). */
#include <stdbool.h>

#include "cli/fcgi_opts.h"
#include "cli/opts.h"
#include "core/util.h"
#include "http/listener.h"

const char fcgi_usage_text[] =
	"usage: aigw-fcgi [--listen HOST:PORT|PATH [--socket-mode OCTAL]\n"
	"                 [--socket-group NAME]] [--threads N] [--processes N]\n"
	"       aigw-fcgi --help | --version\n"
	"A socket PATH is mode 0660 unless --socket-mode says otherwise.\n"
	"Without --listen: a CGI program when GATEWAY_INTERFACE is set, else\n"
	"FastCGI on the socket systemd passes (LISTEN_FDS, descriptor 3) or on\n"
	"descriptor 0 (spawn-fcgi, StandardInput=socket).\n"
	"--processes N (1 to 64) forks N processes of --threads threads each.\n"
	"Configured by the environment: see aigw.env(5).\n";

int
fcgi_opts_parse(int argc, char **argv, struct fcgi_opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "threads", required_argument, NULL, 't' },
		{ "processes", required_argument, NULL, 'p' },
		OPTS_COMMON_LONG, OPTS_END
	};
	bool socket_opts = false;
	int c;

	*o = (struct fcgi_opts){
		.listen = { NULL, LISTENER_MODE_DEFAULT, (gid_t)-1, 0, false, false },
		.nthreads = FCGI_THREADS_DEFAULT,
		.nprocs = FCGI_PROCESSES_DEFAULT,
	};
	for (int first = 1; (c = opts_next(argc, argv, OPTS_SHORT_PERMUTE, longopts, first)) != -1;
	     first = 0) {
		switch (c) {
		case 'l':
			o->listen.addr = optarg;
			break;
		case 'm':
			socket_opts = true;
			if (listener_parse_mode(optarg, &o->listen.mode) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --socket-mode: expected an octal mode"
						" from 0 to 0777, as 0660\n");
				return 2;
			}
			break;
		case 'g':
			socket_opts = true;
			if (listener_find_group(optarg, &o->listen.gid) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --socket-group: no group named %s\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_long(optarg, 1, FCGI_THREADS_MAX, &o->nthreads) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --threads: expected 1 to %d\n",
					FCGI_THREADS_MAX);
				return 2;
			}
			break;
		case 'p':
			if (parse_long(optarg, 1, PREFORK_PROCESSES_MAX, &o->nprocs) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --processes: expected 1 to %d\n",
					PREFORK_PROCESSES_MAX);
				return opts_usage_error(fcgi_usage_text);
			}
			break;
		default:
			return opts_other(c, "aigw-fcgi", fcgi_usage_text, argv);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "aigw-fcgi: unexpected argument %s\n", argv[optind]);
		return opts_usage_error(fcgi_usage_text);
	}
	if (socket_opts && (o->listen.addr == NULL || o->listen.addr[0] != '/')) {
		fprintf(stderr, "aigw-fcgi: --socket-mode and --socket-group set a unix socket's"
				" file: use them with --listen PATH\n");
		return 2;
	}
	return -1;
}
