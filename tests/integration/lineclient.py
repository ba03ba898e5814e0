"""The socket side of the raw protocol clients (IMAP's Raw, SMTP's
RawSmtp): CRLF lines, exact byte counts, TLS after a STARTTLS reply."""
import socket
import ssl


class LineClient:
    def __init__(self, port, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port),
                                                     timeout=30)
        self.buf = b""

    def wrap_tls(self, cafile):
        """Everything from now on goes through TLS; nothing may have come
        after the server's go-ahead."""
        assert self.buf == b""
        ctx = ssl.create_default_context(cafile=str(cafile))
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; had %r" % self.buf)
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read(self, n):
        while len(self.buf) < n:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def closed(self):
        """Whether the server has closed the connection."""
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()
