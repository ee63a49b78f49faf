"""Test harness: spawns the real python/worker.py on socketpairs at fds 3, 4, ... and speaks the
worker protocol (docs/worker-protocol.md) as the gateway would. Every read has a timeout."""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(os.path.dirname(HERE), "worker.py")
APPS = os.path.join(HERE, "apps")
PYTHON = os.environ.get("WARPIPE_TEST_PYTHON", sys.executable)
TIMEOUT = 5.0

REQUEST, DATA, END, FILE_ACK, CANCEL = 0x01, 0x02, 0x03, 0x04, 0x05
RESPONSE, RDATA, REND, FILE, LOG, ABORT = 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
READY, BOOT_ERROR, STOP = 0x21, 0x22, 0x23
# ASGI streams (docs/worker-protocol.md, "ASGI workers: streams on one channel")
WS_RECEIVE, WS_CLOSED, PAUSE, RESUME, TIMEOUT = 0x06, 0x07, 0x08, 0x09, 0x0a
WS_ACCEPT, WS_SEND, WS_CLOSE, WPAUSE, WRESUME = 0x17, 0x18, 0x19, 0x1a, 0x1b
STREAM = 0x30
NAMES = {REQUEST: "REQUEST", DATA: "DATA", END: "END", FILE_ACK: "FILE_ACK", RESPONSE: "RESPONSE",
         RDATA: "DATA", REND: "END", FILE: "FILE", LOG: "LOG", ABORT: "ABORT", READY: "READY",
         BOOT_ERROR: "BOOT_ERROR", STOP: "STOP", WS_ACCEPT: "WS_ACCEPT", WS_SEND: "WS_SEND", WS_CLOSE: "WS_CLOSE",
         WPAUSE: "PAUSE", WRESUME: "RESUME"}


def frame(ftype, payload=b""):
    return struct.pack("<IB", len(payload), ftype) + payload


def environ_block(env):
    return b"".join(k.encode("latin-1") + b"\0" + v.encode("latin-1") + b"\0" for k, v in env.items())


def request_frame(env, body=b"", complete=True, websocket=False):
    block = environ_block(env)
    flags = (1 if complete else 0) | (2 if websocket else 0)
    return frame(REQUEST, struct.pack("<BI", flags, len(block)) + block + body)


def stream_frame(sid):
    return frame(STREAM, struct.pack("<I", sid))


def make_environ(path="/", method="GET", query="", body=None, headers=None, **extra):
    env = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "localhost", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "warpipe-test", "REQUEST_URI": path + ("?" + query if query else ""),
        "RAW_URI": path + ("?" + query if query else ""), "HTTP_HOST": "localhost:8000",
        "wsgi.url_scheme": "http",
    }
    if body is not None:
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/octet-stream"
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    env.update(extra)
    return env


class Response:
    def __init__(self):
        self.status = None
        self.headers = []
        self.body = b""
        self.logs = []  # (level, text)
        self.kinds = []  # frame names in order
        self.aborted = False
        self.files = []  # (offset, count, path, data read by the "gateway")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    @property
    def log_text(self):
        return "\n".join(text for _, text in self.logs)

    def __repr__(self):
        return "<Response %r %r %r logs=%r>" % (self.status, self.kinds, self.body[:200], self.logs)


class Worker:
    def __init__(self, spec="testapp", threads=1, validate=False, cwd=APPS, args=None, wait_ready=True):
        self.threads = threads
        ctl_parent, ctl_child = socket.socketpair()
        # per thread: requests go to the worker on one pair (fd 4+i), responses come back on
        # another (fd 4+T+i); chans[i] reads responses, ins[i] sends requests
        ins = [socket.socketpair() for _ in range(threads)]
        outs = [socket.socketpair() for _ in range(threads)]
        child = [ctl_child] + [c for _, c in ins] + [c for _, c in outs]
        child_fds = [s.fileno() for s in child]
        targets = list(range(3, 4 + 2 * threads))
        # fds 3..3+2T must be open in the parent: pass_fds are validated before preexec_fn runs,
        # and then Popen's own pipes cannot land on them.
        placeholders = []
        for fd in targets:
            try:
                os.fstat(fd)
            except OSError:
                placeholders.append(os.open(os.devnull, os.O_RDONLY))

        def preexec():
            dups = [os.dup(fd) for fd in child_fds]  # above 3+2T: everything below is open
            for target, fd in zip(targets, dups):
                os.dup2(fd, target)

        if args is None:
            args = [spec, "--threads", str(threads)] + (["--validate"] if validate else [])
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen([PYTHON, WORKER] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stderr=self.stderr, pass_fds=targets, close_fds=True,
                                         preexec_fn=preexec, start_new_session=True)
        finally:
            for fd in placeholders:
                os.close(fd)
            for s in child:
                s.close()
        self.ctl = ctl_parent
        self.ins = [p for p, _ in ins]
        self.chans = [p for p, _ in outs]
        for s in [self.ctl] + self.ins + self.chans:
            s.settimeout(TIMEOUT)
        self.ready_info = self.ready() if wait_ready else None

    # -- raw frames
    @staticmethod
    def _recv_exact(sock, n):
        out = bytearray()
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise EOFError("channel closed after %d of %d bytes" % (len(out), n))
            out += chunk
        return bytes(out)

    def read_frame(self, sock):
        length, ftype = struct.unpack("<IB", self._recv_exact(sock, 5))
        return ftype, self._recv_exact(sock, length)

    def send(self, chan, data):
        self.ins[chan].sendall(data)

    def send_frame(self, chan, ftype, payload=b""):
        self.ins[chan].sendall(frame(ftype, payload))

    # -- control
    def ready(self):
        ftype, payload = self.read_frame(self.ctl)
        assert ftype == READY, (NAMES.get(ftype, ftype), payload, self.stderr_text())
        return json.loads(payload)

    def boot_error(self):
        ftype, payload = self.read_frame(self.ctl)
        assert ftype == BOOT_ERROR, (ftype, payload)
        return payload.decode("utf-8")

    def stop(self):
        self.ctl.sendall(frame(STOP))

    def wait(self, timeout=TIMEOUT):
        # as the gateway does once it has read a stopping worker's channels to their end: close our
        # sending side, which lets the worker exit (responses can still be read)
        for s in self.ins:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return self.proc.wait(timeout)

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    # -- requests
    def request(self, path="/hello", chan=0, body=None, complete=True, method=None, **kw):
        if "?" in path:
            path, kw["query"] = path.split("?", 1)
        method = method or ("POST" if body is not None else "GET")
        env = make_environ(path, method, body=body if complete else None, **kw)
        self.send(chan, request_frame(env, body or b"", complete))

    def response(self, chan=0, file_ack=1, read_file=True):
        return assemble(lambda: self.read_frame(self.chans[chan]),
                        lambda ok: self.ins[chan].sendall(frame(FILE_ACK, ok)), file_ack, read_file, strict=True)

    def get(self, path="/hello", chan=0, **kw):
        self.request(path, chan, **kw)
        return self.response(chan)

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                pass
            self.proc.wait(TIMEOUT)
        for s in [self.ctl] + self.ins + self.chans:
            s.close()
        self.stderr.close()



class AsgiWorker(Worker):
    """A worker serving an ASGI app: channel 0 carries streams. Frames the worker sends are
    demultiplexed by stream; frame(sid) returns the next one of a stream, keeping the others."""

    def __init__(self, spec="asgiapp:app", streams=None, interface=None, loop=None, extra=(), **kw):
        args = [spec, "--threads", str(kw.get("threads", 1))]
        if streams is not None:
            args += ["--streams", str(streams)]
        if interface is not None:
            args += ["--interface", interface]
        if loop is not None:
            args += ["--loop", loop]
        self.out_sid = self.in_sid = 0
        self.queued = {}  # sid -> [(ftype, payload)]
        self.order = []  # (sid, ftype) of every frame read, in order
        Worker.__init__(self, spec, args=args + list(extra), **kw)

    def send_on(self, sid, data):
        """Send frames (bytes) on stream sid, with a STREAM frame first if it is not the current one."""
        if sid != self.out_sid:
            data = stream_frame(sid) + data
            self.out_sid = sid
        self.ins[0].sendall(data)

    def send_frame_on(self, sid, ftype, payload=b""):
        self.send_on(sid, frame(ftype, payload))

    def start(self, sid, path="/", method="GET", body=b"", complete=True, websocket=False, **kw):
        if "?" in path:
            path, kw["query"] = path.split("?", 1)
        env = make_environ(path, method, body=body if complete and body else None, **kw)
        self.send_on(sid, request_frame(env, body, complete, websocket))

    def read_any(self, timeout=TIMEOUT):
        """(sid, ftype, payload) of the next frame the worker sent, STREAM frames applied."""
        self.chans[0].settimeout(timeout)
        while True:
            ftype, payload = self.read_frame(self.chans[0])
            if ftype == STREAM:
                assert len(payload) == 4, payload
                self.in_sid = struct.unpack("<I", payload)[0]
                continue
            self.order.append((self.in_sid, ftype))
            return self.in_sid, ftype, payload

    def frame(self, sid, timeout=TIMEOUT):
        q = self.queued.setdefault(sid, [])
        while not q:
            got, ftype, payload = self.read_any(timeout)
            self.queued.setdefault(got, []).append((ftype, payload))
        return q.pop(0)

    def has_frame(self, sid, wait=0.0):
        """Whether a frame of sid is there (reading what arrives within wait seconds)."""
        import select
        while not self.queued.get(sid):
            if not select.select([self.chans[0]], [], [], wait)[0]:
                return False
            got, ftype, payload = self.read_any()
            self.queued.setdefault(got, []).append((ftype, payload))
        return True

    def response_on(self, sid=0, file_ack=1, read_file=True):
        """A Response assembled from the frames of stream sid (as Worker.response for a channel)."""
        return assemble(lambda: self.frame(sid), lambda ok: self.send_frame_on(sid, FILE_ACK, ok), file_ack, read_file)

    def wait(self, timeout=TIMEOUT):
        """After STOP: read channel 0 to its end (the worker's shutdown(SHUT_WR), once its streams and
        lifespan shutdown finished; frames read on the way are kept), then close it as the gateway does."""
        while True:
            try:
                got, ftype, payload = self.read_any(timeout)
            except EOFError:
                break
            self.queued.setdefault(got, []).append((ftype, payload))
        return Worker.wait(self, timeout)

    def get_on(self, sid=0, path="/", **kw):
        self.start(sid, path, **kw)
        return self.response_on(sid)


def ws_receive(data, text=None, more=False):
    """A WS_RECEIVE payload: flags, then the message bytes."""
    if text is None:
        text = isinstance(data, str)
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes([(1 if text else 0) | (2 if more else 0)]) + data


def ws_closed(code=1000, reason=""):
    return struct.pack("<H", code) + reason.encode("utf-8")


def assemble(next_frame, ack, file_ack=1, read_file=True, strict=False):
    """A Response from the frames next_frame() returns, up to its end; ack(bytes) answers a FILE.
    strict (a WSGI channel): every frame must belong to the response; otherwise an unknown frame
    (a WebSocket one) is kept in resp.kinds for the caller to look at."""
    resp = Response()
    while True:
        ftype, payload = next_frame()
        resp.kinds.append(NAMES.get(ftype, hex(ftype)))
        if ftype == RESPONSE:
            assert resp.status is None, resp
            flags, head_len = struct.unpack_from("<BI", payload)
            parts = payload[5:5 + head_len].decode("latin-1").split("\0")
            assert parts[-1] == "" and len(parts) % 2 == 0, parts
            resp.status = parts[0]
            resp.headers = list(zip(parts[1:-1:2], parts[2:-1:2]))
            resp.body += payload[5 + head_len:]
            if flags & 1:
                return resp
        elif ftype == RDATA:
            assert resp.status is not None and payload, resp
            resp.body += payload
        elif ftype == LOG:
            resp.logs.append((payload[0], payload[1:].decode("utf-8")))
        elif ftype == FILE:
            assert resp.status is not None, resp
            offset, count = struct.unpack_from("<Qq", payload)
            path = payload[16:].decode("utf-8")
            data = None
            if read_file and file_ack:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read() if count < 0 else f.read(count)
                resp.body += data
            resp.files.append((offset, count, path, data))
            ack(bytes([file_ack]))
        elif ftype in (REND, ABORT):
            assert (resp.status is not None or not strict) and not payload, resp
            resp.aborted = ftype == ABORT
            return resp
        elif strict:
            raise AssertionError("unexpected frame 0x%02x %r" % (ftype, payload))
        else:
            resp.kinds[-1] = (ftype, payload)  # a WebSocket frame, for the caller to look at
            return resp
