"""An nginx with Debian's echo module (libnginx-mod-http-echo, which
nginx-light depends on) serving made-up provider answers, for the
benchmarks: one worker process answers thousands of calls at once, which
the Python mock providers (a thread a connection) cannot.

The caller gives the `location` blocks; this starts nginx on a free port
of 127.0.0.1 with its own temp dir and access log, and stops it by PID.
"""

import os
import socket
import subprocess

import stack as stk

MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"


class EchoServer:
    """nginx with the echo module and the given location blocks. log_format
    is the access log's line (nginx variables; escape=json when it logs the
    request body); http_extra goes into the http block (a map). nice runs
    nginx at that niceness (a negative one needs root)."""

    def __init__(self, base, locations, log_format="'$msec $request_time $uri'", http_extra="",
                 nice=0):
        if not os.path.exists(MODULE):
            raise RuntimeError(f"no {MODULE}: install libnginx-mod-http-echo")
        self.port = stk.free_port()
        self.dir = stk.world_readable_dir(base, f"echomock-{self.port}")
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        user = "user www-data;\n" if os.geteuid() == 0 else ""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"""{user}load_module {MODULE};
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.error_log} warn;
events {{ worker_connections 10000; }}
http {{
    log_format calls {log_format};
    access_log {self.access_log} calls;
    client_body_temp_path {self.dir}/body;
    client_body_buffer_size 64k;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    {http_extra}
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        {chr(10).join(locations)}
    }}
}}
""")
        prefix = ["nice", "-n", str(nice)] if nice else []
        self.proc = subprocess.Popen(prefix + ["nginx", "-e", self.error_log, "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir)
        stk._track(self)

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        stk.wait_for(listening, 15, "the echo mock", proc=self.proc, log=self.error_log)

    def __repr__(self):
        return f"<{type(self).__name__} 127.0.0.1:{self.port}>"

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        stk._untrack(self)
        stk.stop_process(self.proc)
