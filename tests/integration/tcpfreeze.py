"""A TCP proxy on 127.0.0.1 that can stop forwarding without closing
anything, as a silent network partition does: what is sent waits in the
kernel's buffers, nobody hears a reset, and traffic flows again on thaw().

    proxy = TcpFreeze(target_port)      # listens on proxy.port
    proxy.freeze() / proxy.thaw()       # every connection, both directions
    proxy.blackhole_after(b"marker")    # the next connection that sends
                                        # marker gets no more replies, ever

Threads in the test's own process; stop() closes every socket. Standard
library only.
"""

import re
import socket
import threading

CHUNK = 65536


class TcpFreeze:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self._cond = threading.Condition()
        self._frozen = False
        self._stopped = False
        self._marker = None            # a compiled pattern, or None
        self.blackholed = 0            # connections whose replies were cut
        self._socks = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def __repr__(self):
        return f"<TcpFreeze 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]}>"

    def url(self, user="postgres", db="aigw"):
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def freeze(self):
        with self._cond:
            self._frozen = True

    def thaw(self):
        with self._cond:
            self._frozen = False
            self._cond.notify_all()

    def blackhole_after(self, marker):
        """The first connection to send bytes matching marker (a regex of
        bytes) from then on has what it sent forwarded, and gets no reply
        again; other connections go on as before."""
        with self._cond:
            self._marker = re.compile(marker, re.DOTALL)

    def _wait_thawed(self, conn_state):
        with self._cond:
            while (self._frozen or conn_state.get("blackhole")) and not self._stopped:
                self._cond.wait(0.2)
            return not self._stopped

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        state = {}
        with self._cond:
            if self._stopped:
                client.close()
                return
            self._socks.append(client)
        # Frozen: the client's connection is accepted (by the kernel, as
        # a partition would let a SYN through a NAT) but nothing moves.
        if not self._wait_for_freeze_to_end():
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
            server.settimeout(None)
        except OSError:
            client.close()
            return
        with self._cond:
            self._socks.append(server)
        threading.Thread(target=self._pump, args=(server, client, state, False),
                         daemon=True).start()
        self._pump(client, server, state, True)

    def _wait_for_freeze_to_end(self):
        with self._cond:
            while self._frozen and not self._stopped:
                self._cond.wait(0.2)
            return not self._stopped

    def _pump(self, src, dst, state, upstream):
        while True:
            try:
                data = src.recv(CHUNK)
            except OSError:
                data = b""
            # Held, not dropped, while frozen: nothing is lost on thaw.
            hold = {} if upstream else state
            if not self._wait_thawed(hold):
                return
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if upstream:
                with self._cond:
                    if self._marker is not None and self._marker.search(data):
                        self._marker = None
                        self.blackholed += 1
                        state["blackhole"] = True
            try:
                dst.sendall(data)
            except OSError:
                return

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            socks, self._socks = self._socks, []
        try:
            self._listener.close()
        except OSError:
            pass
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
