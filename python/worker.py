#!/usr/bin/env python3
"""warpipe worker: runs one WSGI (PEP 3333) or ASGI 3 application for the warpipe gateway.

The gateway (TypeScript on Node.js) imports it from a small `python -c` bootstrap (so that its
bytecode can come from a cache; `python worker.py APP_SPEC --threads T [--validate]` works the
same) in the user's --chdir, with a control socket on fd 3 and, for each thread i of T, a
request channel made of two sockets: requests come in on fd 4+i, responses go out on fd 4+T+i.
Each thread serves its channel one request at a time; the gateway does all the HTTP and all the
scheduling. The wire format is docs/worker-protocol.md: read it first.

Assumes CPython >= 3.9, the standard library only, stream sockets (socketpairs) on those fds and
the warpipe gateway as the only peer: a malformed frame is fatal (stderr, exit 70).
The request path follows wsgiref.handlers.BaseHandler (run, start_response, finish_response,
handle_error). Hot path: one recv into a reusable buffer, one send of one frame (see handle_request).

An ASGI 3 app (detected, or --interface asgi) runs instead in one asyncio or uvloop event loop
that serves many requests at once as streams multiplexed on request channel 0 (AsgiServer, after
the WSGI code); asyncio is imported only then.
"""

import atexit
import faulthandler
import functools
import gc
import importlib
import importlib.machinery
import importlib.util
import io
from io import BytesIO
import os
import re
import signal
import socket
import stat
import struct
import sys
import threading
from time import monotonic
import types

# Frame types and layouts (docs/worker-protocol.md)
MAX_PAYLOAD = 0x01000000
REQUEST, DATA, END, FILE_ACK, CANCEL = 0x01, 0x02, 0x03, 0x04, 0x05
RESPONSE, RDATA, REND, FILE, LOG, ABORT = 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
READY, BOOT_ERROR, STOP = 0x21, 0x22, 0x23
HELLO, FORK, FORKED, EXITED = 0x24, 0x25, 0x26, 0x27  # --preload: a forked worker's sockets, the template's control
HDR = struct.Struct("<IB")  # length, type
RESP_HDR = struct.Struct("<IBBI")  # length, RESPONSE, flags, head_len
FILE_HDR = struct.Struct("<IBQq")  # length, FILE, offset, count
LOG_HDR = struct.Struct("<IBB")  # length, LOG, level
U32 = struct.Struct("<I")
END_FRAME, ABORT_FRAME = HDR.pack(0, REND), HDR.pack(0, ABORT)
ERROR_BODY = b"Internal Server Error\n"
ERROR_HEAD = b"500 Internal Server Error\0Content-Type\0text/plain\0Content-Length\0%d\0" % len(ERROR_BODY)
ERROR_500 = (RESP_HDR.pack(5 + len(ERROR_HEAD) + len(ERROR_BODY), RESPONSE, 1, len(ERROR_HEAD))
             + ERROR_HEAD + ERROR_BODY)

RECV_SIZE = 128 * 1024  # each channel's receive buffer: a 64 KiB DATA frame fits
GATHER_MIN = 32 * 1024  # frames this large in total go out by sendmsg, smaller ones joined
TICK = 0.2  # seconds: an idle request thread wakes up this often to notice STOP
CANCEL_POLL = 0.01  # seconds: how often a streaming response looks for a CANCEL
PROC_FD = os.path.isdir("/proc/self/fd")

HOP_BY_HOP = ("connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authenticate", "proxy-authorization")
VALUE = r"[\t\x20-\x7e\x80-\xff]*"  # field-value: no control characters but tab, latin-1 only
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
STATUS = r"[1-5][0-9]{2} "  # RFC 9110 §15: status codes are 100-599
STATUS_RE = re.compile(STATUS + VALUE)
TOKEN_RE = re.compile(TOKEN)
VALUE_RE = re.compile(VALUE)
HEAD_RE = re.compile(r"%s%s\0(?:(?!(?i:%s)\0)%s\0%s\0)*" % (STATUS, VALUE, "|".join(HOP_BY_HOP), TOKEN, VALUE),
                     re.ASCII)
MAX_HEAD = MAX_PAYLOAD - 5  # the head block must fit in one RESPONSE frame
FAST_HEAD = MAX_HEAD - GATHER_MIN  # a shorter head fits in one frame with any body finish_response joins to it
get_ident = threading.get_ident


class ChannelClosed(BaseException):
    """The gateway closed a channel or a socket failed: the thread stops. A BaseException, so an
    app's `except Exception` around wsgi.input.read() or write() does not swallow it."""


class Cancelled(BaseException):
    """The gateway sent CANCEL: the client of the running request is gone. Raised between the
    blocks of a streamed response (and from write()), so the iteration stops and close() runs.
    A BaseException, so that an app's `except Exception` does not swallow it."""


class ClientDisconnected(OSError):
    """Raised by wsgi.input past the received data when the body was cut short (END reason 1)."""


def protocol_error(why):
    sys.stderr.write("warpipe worker %d: protocol error: %s\n" % (os.getpid(), why))
    sys.stderr.flush()
    os._exit(70)


def log_frame(text, level=40):
    data = text.encode("utf-8", "backslashreplace")[:MAX_PAYLOAD - 1]
    return LOG_HDR.pack(len(data) + 1, LOG, level) + data


class Channel:
    """Framed I/O: frames are read from sock and sent on out (the same socket for the control
    channel; a request channel has one socket per direction, see open_channel). buf[pos:end]
    holds received bytes not yet consumed."""

    __slots__ = ("sock", "out", "buf", "view", "pos", "end", "recv_into", "errors", "early")

    def __init__(self, sock, out=None, size=RECV_SIZE):
        self.sock, self.out, self.buf = sock, out or sock, bytearray(size)
        self.view, self.pos, self.end = memoryview(self.buf), 0, 0
        self.recv_into, self.errors = sock.recv_into, None
        # REQUESTs the gateway wrote ahead that arrived while we waited for FILE_ACK, in order
        self.early = []

    def send(self, data):
        try:
            self.out.sendall(data)
        except OSError as exc:
            raise ChannelClosed(str(exc)) from None

    def send_pieces(self, pieces):
        """Send frames given as a list of bytes-like pieces in one system call: joined when
        small (a copy is cheaper than a gather), gathered by sendmsg when large (no copy)."""
        left = sum(map(len, pieces))
        if left < GATHER_MIN:
            return self.send(b"".join(pieces))
        try:
            while True:
                sent = self.out.sendmsg(pieces)
                left -= sent
                if not left:
                    return
                i = 0  # cut short (a signal, or 2 GiB): drop what went, send the rest
                while sent >= len(pieces[i]):
                    sent -= len(pieces[i])
                    i += 1
                pieces = [memoryview(pieces[i])[sent:]] + pieces[i + 1:]
        except OSError as exc:
            raise ChannelClosed(str(exc)) from None

    def read_frame(self):
        """(type, payload); payload is a memoryview valid until the next call: copy what you keep."""
        pos, end = self.pos, self.end
        if end - pos < 5:
            pos, end = self._fill(5)
        length, ftype = HDR.unpack_from(self.buf, pos)
        stop = pos + 5 + length
        if stop > end:
            if length > MAX_PAYLOAD:
                protocol_error("frame of %d bytes (type 0x%02x) exceeds 16 MiB" % (length, ftype))
            if 5 + length > len(self.buf):
                return ftype, self._read_big(length)
            pos, end = self._fill(5 + length)
            stop = pos + 5 + length
        if stop == end:
            self.pos = self.end = 0
        else:
            self.pos = stop
        return ftype, self.view[pos + 5:stop]

    def cancelled(self):
        """Whether a CANCEL for the running request has come, looked for without waiting. Only
        called once its body was read whole, so what can arrive is a CANCEL or REQUESTs written
        ahead; those are kept in early, in order."""
        pos, end = self.pos, self.end
        if end < len(self.buf):
            try:
                n = self.sock.recv_into(self.view[end:], 0, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                n = -1
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not n:
                raise ChannelClosed("end of file")
            if n > 0:
                end += n
        found = False
        while end - pos >= 5:
            length, ftype = HDR.unpack_from(self.buf, pos)
            if pos + 5 + length > end:
                break
            if ftype == CANCEL:
                found = True
            elif ftype == REQUEST:
                self.early.append(bytes(self.view[pos + 5:pos + 5 + length]))
            else:
                protocol_error("frame type 0x%02x while sending a response" % ftype)
            pos += 5 + length
        if pos == end:
            pos = end = 0
        self.pos, self.end = pos, end
        return found

    def _fill(self, need):
        pos, end = self.pos, self.end
        if pos + need > len(self.buf):  # move the partial frame to the front
            self.buf[:end - pos] = bytes(self.view[pos:end])
            pos, end = 0, end - pos
        try:
            while end - pos < need:
                end += self._recv(self.view[end:])
        finally:
            self.pos, self.end = pos, end
        return pos, end

    def _recv(self, view, nbytes=0):
        while True:
            try:
                n = self.recv_into(view, nbytes)
            except BlockingIOError:  # a TICK of SO_RCVTIMEO: keep waiting
                continue
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not n:
                raise ChannelClosed("end of file")
            return n

    def _read_big(self, length):  # a frame larger than the buffer gets its own
        pos, end = self.pos, self.end
        have, big = end - pos - 5, bytearray(length)
        big[:have] = self.view[pos + 5:end]
        self.pos = self.end = 0
        view = memoryview(big)
        while have < length:
            have += self._recv(view[have:], length - have)
        return view


class Input:
    """wsgi.input of a streamed body: the inline body of REQUEST, then DATA frames read on
    demand. (A body complete in its REQUEST gets an io.BytesIO instead.)"""

    __slots__ = ("_ch", "_buf", "_pos", "_eof", "_cut")

    def __init__(self, ch, body):
        self._ch, self._buf, self._pos, self._eof, self._cut = ch, body, 0, False, False

    def readable(self):
        return True

    def _more(self):
        """The next non-empty chunk of the body, b"" at its end, ClientDisconnected if cut."""
        while not self._eof:
            ftype, payload = self._ch.read_frame()
            if ftype == DATA:
                if payload:
                    return bytes(payload)
            elif ftype == END:
                self._end(payload)
            else:
                protocol_error("frame type 0x%02x while reading a request body" % ftype)
        if self._cut:
            raise ClientDisconnected("client disconnected")
        return b""

    def _end(self, payload):
        if len(payload) != 1 or payload[0] > 1:
            protocol_error("malformed END frame")
        self._eof, self._cut = True, payload[0] == 1

    def _feed(self, chunk):  # body bytes that arrived while waiting for FILE_ACK
        self._buf, self._pos = self._buf[self._pos:] + chunk, 0

    def _collect(self, first, limit, newline):
        """first + chunks up to limit bytes, the first newline (if asked) or the end."""
        parts, got = [first] if first else [], len(first)  # one whole chunk is returned uncopied
        self._buf, self._pos = b"", 0
        while got < limit:
            try:
                chunk = self._more()
            except OSError:
                self._buf = b"".join(parts)  # keep what was received, then fail
                raise
            if not chunk:
                break
            room = limit - got
            cut = chunk.find(b"\n", 0, room) + 1 if newline else 0
            if not cut and len(chunk) > room:
                cut = room
            if cut:
                parts.append(chunk[:cut])
                self._buf, self._pos = chunk, cut
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def read(self, size=-1):
        buf, pos = self._buf, self._pos
        if size is None or size < 0:
            size = sys.maxsize
        elif pos + size <= len(buf):
            self._pos = pos + size
            return buf[pos:pos + size]
        return self._collect(buf[pos:], size, False)

    def read1(self, size=-1):
        if self._pos >= len(self._buf):
            self._buf, self._pos = self._more(), 0
        avail = len(self._buf) - self._pos
        return self.read(avail if size is None or size < 0 or size > avail else size)

    def readinto(self, b):
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def readline(self, size=-1):
        buf, pos = self._buf, self._pos
        limit = sys.maxsize if size is None or size < 0 else size
        i = buf.find(b"\n", pos, pos + limit) + 1
        if i:
            self._pos = i
            return buf[pos:i]
        if pos + limit <= len(buf):
            self._pos = pos + limit
            return buf[pos:pos + limit]
        return self._collect(buf[pos:], limit, True)

    def readlines(self, hint=-1):
        lines, total = [], 0
        for line in iter(self.readline, b""):
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self):
        """Discard body frames up to END: the response is over, the app reads no more."""
        while not self._eof:
            ftype, payload = self._ch.read_frame()
            if ftype == END:
                self._end(payload)
            elif ftype != DATA:
                protocol_error("frame type 0x%02x while draining a request body" % ftype)
        self._buf = b""


class EmptyInput:
    """wsgi.input of a request without a body. It has no state, so one serves every request."""

    __slots__ = ()

    def readable(self):
        return True

    def read(self, size=-1):
        return b""

    read1 = readline = read

    def readinto(self, b):
        return 0

    def readlines(self, hint=-1):
        return []

    def __iter__(self):
        return iter(())


EMPTY_INPUT = EmptyInput()


class ErrorStream:
    """wsgi.errors: line-buffered text; each flush is a LOG frame (level 40) of the request in
    flight. Writes from other threads or between requests go to stderr: a channel has one writer."""

    __slots__ = ("_ch", "_parts", "_owner", "active")

    def __init__(self, ch):
        self._ch, self._parts, self._owner, self.active = ch, [], get_ident(), False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("wsgi.errors.write() argument must be str, not %s" % type(s).__name__)
        if not self.active or get_ident() != self._owner:
            return sys.stderr.write(s)
        self._parts.append(s)
        if "\n" in s:
            text = "".join(self._parts)
            i = text.rfind("\n")
            self._parts = [text[i + 1:]] if i + 1 < len(text) else []
            self._ch.send(log_frame(text[:i]))
        return len(s)

    def writelines(self, lines):
        for s in lines:
            self.write(s)

    def flush(self):
        if self.active and get_ident() == self._owner:
            if self._parts:
                self._ch.send(self.take(True))
        else:
            sys.stderr.flush()

    def take(self, keep_active=False):
        """The LOG frame of a pending partial line (or b""); ends the request unless asked not to."""
        self.active = keep_active
        if not self._parts:
            return b""
        text, self._parts = "".join(self._parts), []
        return log_frame(text) if text else b""


class FileWrapper:
    """wsgi.file_wrapper: iterates in blksize blocks, close() closes the file. Returned as is, it
    becomes a FILE frame (the gateway streams the file itself) where possible."""

    def __init__(self, filelike, blksize=8192):
        self.filelike, self.blksize = filelike, blksize

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def close(self):
        if hasattr(self.filelike, "close"):
            self.filelike.close()


HEAD_CACHE = {}  # (status, tuple(headers)) -> (head block, Content-Length): apps repeat heads
HEAD_CACHE_SIZE = 256  # entries; emptied when full (so heads that always differ only cost a miss)
HEAD_CACHE_BYTES = 2048  # longer heads are not kept


def encode_head(status, headers):
    """Check start_response() arguments (PEP 3333): (head block, declared Content-Length or -1).
    Apps mostly send the same few heads, so a checked head is kept in HEAD_CACHE under its exact
    strings: a hit costs a tuple() and a dict lookup instead of a join, a regex match and an
    encode. Items that are not hashable (a header given as a list) miss and fail the checks."""
    if type(headers) is list:
        try:
            return HEAD_CACHE[status, tuple(headers)]
        except (KeyError, TypeError):
            pass
    head = join_head(status, headers)
    if head is None:
        check_head(status, headers)  # raises, explaining what is wrong
        raise ValueError("invalid status or headers: %r %r" % (status, headers))
    if len(head) > MAX_HEAD:  # checked here, where every path passes (a cached head is short)
        raise ValueError("response headers of %d bytes: more than the 16 MiB a response head may have" % len(head))
    entry = head, declared_length(head)
    if len(head) <= HEAD_CACHE_BYTES and type(status) is str:
        key = status, tuple(headers)
        # only plain str keys: a subclass could compare equal to a different head
        if all(type(name) is str and type(value) is str for name, value in key[1]):
            if len(HEAD_CACHE) >= HEAD_CACHE_SIZE:
                HEAD_CACHE.clear()
            HEAD_CACHE[key] = entry
    return entry


def join_head(status, headers):
    """The head block, or None if the arguments are not valid: one join and one regex match."""
    if not isinstance(headers, list):
        return None
    parts = [status]
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            return None
        parts += item
    try:
        text = "\0".join(parts) + "\0"
    except TypeError:
        return None
    # HEAD_RE cannot tell a NUL inside a string from a separator (a value "x\0Set-Cookie\0y"
    # would smuggle in a header), so the separators must be all the NULs there are
    if text.count("\0") != len(parts) or not HEAD_RE.fullmatch(text):
        return None
    return text.encode("latin-1")


def declared_length(head):
    """The Content-Length a head block declares, or -1 (none, or not a plain number)."""
    parts = head.lower().split(b"\0")
    count = -1
    for i in range(1, len(parts) - 1, 2):
        if parts[i] == b"content-length":
            count = int(parts[i + 1]) if parts[i + 1].isdigit() else -1
    return count


def check_head(status, headers):
    if not isinstance(status, str):
        raise AssertionError("status must be a str, not %s" % type(status).__name__)
    if not STATUS_RE.fullmatch(status):
        raise ValueError("invalid status %r: expected a code from 100 to 599, a space and a reason, like '200 OK'"
                         % status[:200])
    if not isinstance(headers, list):
        raise AssertionError("headers must be a list of (name, value) tuples, not %s" % type(headers).__name__)
    for item in headers:
        if not isinstance(item, tuple) or len(item) != 2:
            raise AssertionError("each header must be a (name, value) tuple, not %r" % (item,))
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise AssertionError("header name and value must be str: %r" % (item,))
        if not TOKEN_RE.fullmatch(name):
            raise ValueError("invalid header name %r" % name)
        if not VALUE_RE.fullmatch(value):
            raise ValueError("invalid value for header %r: %r (control characters such as CR, LF and NUL "
                             "are not allowed, and it must be latin-1)" % (name, value))
        if name.lower() in HOP_BY_HOP:
            raise ValueError("hop-by-hop header %r is not allowed in a WSGI response (PEP 3333)" % name)


# iterators over blocks that already exist: asking them for the next one runs no app code
SEQ_ITERS = (type(iter([])), type(iter(())))


class Request:
    """One request on a channel: start_response, write and the response frames (handle_request
    calls the app, then finish_response, or handle_error if either raised).

    head is the head block once start_response() was called (None before); remaining counts down
    the declared Content-Length as body bytes are produced (negative: none declared, or passed);
    held is a final block kept back to go out with the end of the response (see send_iterable)."""

    __slots__ = ("ch", "input", "head", "remaining", "head_sent", "held", "next_poll")

    def __init__(self, ch, inp):
        self.ch, self.input = ch, inp
        self.head = self.held = None
        self.head_sent = False
        self.next_poll = 0.0

    def check_cancel(self):
        """After a block went out: every CANCEL_POLL, raise Cancelled if the client is gone (not
        while the body is still being read: its frames come first)."""
        now = monotonic()
        if now < self.next_poll:
            return
        self.next_poll = now + CANCEL_POLL
        inp = self.input
        if (inp is None or inp._eof) and self.ch.cancelled():
            raise Cancelled()

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.head_sent or self.held is not None:  # a held block is as good as sent
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.head is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        self.head, self.remaining = encode_head(status, headers)
        return self.write

    def write(self, data):
        if self.head is None:
            raise AssertionError("write() called before start_response()")
        if not isinstance(data, bytes):
            raise TypeError("write() argument must be bytes, not %s" % type(data).__name__)
        if data:
            self.remaining -= len(data)
            if self.held is not None:  # a block send_iterable held back goes first
                data, self.held = self.held + data, None
            self.ch.send_pieces(self.frames(data, False))
            self.check_cancel()

    def finish_response(self, result):
        """Send the result, close() it, then the final frame (after close, so that its errors
        still make a 500 or an ABORT)."""
        if type(result) is list:  # the hot path: nothing to close, one frame
            body = b"".join(result)
        else:
            try:
                if isinstance(result, (list, tuple)):
                    body = b"".join(result)
                elif type(result) is FileWrapper and self.send_file(result):
                    body = b""
                else:
                    body = self.send_iterable(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        head = self.head
        if head is None:
            raise AssertionError("the application returned without calling start_response()")
        ch = self.ch
        logs = ch.errors.take()
        if not self.head_sent and len(body) < GATHER_MIN and len(head) < FAST_HEAD:
            self.head_sent = True
            ch.send(b"".join((logs, RESP_HDR.pack(5 + len(head) + len(body), RESPONSE, 1, len(head)), head, body)))
        else:
            ch.send_pieces([logs] + self.frames(body, True))

    def send_iterable(self, result):
        """Send each block as the app produces it: PEP 3333 forbids keeping a block back while
        the app produces the next one. But a block after which there can be no next one is
        returned unsent (b"" if none), to go out with the end of the response in one frame and
        one send, as for a list: one that completes the declared Content-Length (the app may not
        send more; if it does anyway, it is all sent as is), or the last one of a list or tuple
        iterator (as for a Django response). Flask/Werkzeug responses declare their length, so
        they cost one send, not two (RESPONSE, then END after close()). The price: the client
        gets that last block once the iteration has ended and close() has returned, as it gets a
        list's, rather than before; that is what lets close() still turn into a 500."""
        it = iter(result)
        seq = type(it) in SEQ_ITERS
        for data in it:
            if not isinstance(data, bytes):
                raise TypeError("the application must produce bytes, not %s" % type(data).__name__)
            if not data:
                continue
            if self.head is None:
                raise AssertionError("the application produced body data before calling start_response()")
            if self.held is not None:  # more than Content-Length: send what was held after all
                held, self.held = self.held, None
                self.ch.send_pieces(self.frames(held, False))
            self.remaining -= len(data)
            if not self.remaining or seq and not it.__length_hint__():
                self.held = data
            else:
                self.ch.send_pieces(self.frames(data, False))
                self.check_cancel()
        held, self.held = self.held, None
        return held or b""

    def frames(self, data, last):
        """Frames for data (and the end of the response if last): RESPONSE with the head for the
        first bytes, then DATA; at most MAX_PAYLOAD each."""
        out, n, start = [], len(data), 0
        if n > MAX_PAYLOAD - 5:
            data = memoryview(data)
        if not self.head_sent:
            head = self.head
            take = min(n, MAX_HEAD - len(head))
            end = last and take == n
            out += (RESP_HDR.pack(5 + len(head) + take, RESPONSE, end, len(head)), head, data[:take])
            self.head_sent, start = True, take
            if end:
                return out
        while start < n:
            take = min(n - start, MAX_PAYLOAD)
            out += (HDR.pack(take, RDATA), data[start:start + take])
            start += take
        if last:
            out.append(END_FRAME)
        return out

    def send_file(self, wrapper):
        """A FILE frame for a regular file; True if the gateway took it (FILE_ACK ok=1)."""
        f = wrapper.filelike
        if not PROC_FD or isinstance(f, io.TextIOBase):
            return False
        try:
            fd = f.fileno()
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            offset = f.tell()
        except (AttributeError, OSError, ValueError):
            return False
        if self.head is None:
            raise AssertionError("the application returned a file without calling start_response()")
        count = declared_length(self.head)
        path = b"/proc/%d/fd/%d" % (os.getpid(), fd)
        pieces = [] if self.head_sent else self.frames(b"", False)
        self.ch.send_pieces(pieces + [FILE_HDR.pack(16 + len(path), FILE, offset, count), path])
        inp = self.input  # None: the body was complete in REQUEST
        while True:  # body frames may come before the ack: keep them for wsgi.input
            ftype, payload = self.ch.read_frame()
            if ftype == FILE_ACK and len(payload) == 1 and payload[0] <= 1:
                return payload[0] == 1
            body_done = inp is None or inp._eof
            if ftype == DATA and not body_done:
                inp._feed(bytes(payload))
            elif ftype == END and not body_done:
                inp._end(payload)
            elif ftype == REQUEST and body_done:
                self.ch.early.append(bytes(payload))  # written ahead (pipelining): served next
            elif ftype == CANCEL and body_done:
                pass  # the gateway drops the file if its client is gone; the ack still comes
            else:
                protocol_error("frame type 0x%02x while waiting for FILE_ACK" % ftype)

    def handle_error(self, env):
        """LOG the traceback, then a 500 if the head was not sent yet, else ABORT."""
        uri = env.get("REQUEST_URI") or env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "")
        import traceback  # loaded on the first error only: it costs every worker ~1.5 MiB
        text = "Error handling request %s %s\n%s" % (env.get("REQUEST_METHOD", "?"), uri,
                                                      traceback.format_exc().rstrip("\n"))
        frames = self.ch.errors.take() + log_frame(text) + (ABORT_FRAME if self.head_sent else ERROR_500)
        self.head_sent = True
        self.ch.send(frames)


def handle_request(ch, app, template, payload):
    """Serve one REQUEST frame; template is the channel's environ template (see Worker.serve).
    The hot path: about 3 us of Python for a hello world, a third of it building the environ
    (a copy of the template updated from the split block is the fastest way found)."""
    n = len(payload)
    if n < 5:
        protocol_error("REQUEST frame too short")
    body_at = 5 + U32.unpack_from(payload, 1)[0]
    if body_at > n:
        protocol_error("REQUEST environ block overruns the frame")
    parts = str(payload[5:body_at], "latin-1").split("\0")
    if parts[-1] or not len(parts) & 1:
        protocol_error("malformed environ block")
    environ = template.copy()
    it = iter(parts)
    environ.update(zip(it, it))
    inp = None
    if not payload[0] & 1:
        environ["wsgi.input"] = inp = Input(ch, bytes(payload[body_at:]))
    elif body_at < n:  # the whole body is here: a C BytesIO reads it fastest (and no copy)
        environ["wsgi.input"] = BytesIO(bytes(payload[body_at:]))
    # else: no body, the template's EMPTY_INPUT
    ch.errors.active = True
    req = Request(ch, inp)
    try:
        req.finish_response(app(environ, req.start_response))
    except ChannelClosed:
        raise
    except Cancelled:  # close() has run (finish_response); the gateway drops the rest anyway
        ch.send(ch.errors.take() + ABORT_FRAME)
    except BaseException:
        req.handle_error(environ)
    if inp is not None and not inp._eof:
        inp.drain()


class Worker:
    """The request threads, STOP and exit."""

    def __init__(self, ctl, channels, app, template):
        self.ctl, self.app, self.template = ctl, app, template
        self.lock = threading.Lock()
        self.stopping = self.all_ended = False
        self.alive = len(channels)

    def serve(self, ch):
        ch.errors = ErrorStream(ch)
        app, template = self.app, dict(self.template)
        template["wsgi.errors"] = ch.errors  # each channel has its own template
        try:
            while True:
                payload = self.next_request(ch)
                if payload is None:
                    break
                handle_request(ch, app, template, payload)
        except ChannelClosed:
            pass
        except BaseException:
            import traceback
            sys.stderr.write("warpipe worker %d: internal error\n%s" % (os.getpid(), traceback.format_exc()))
            sys.stderr.flush()
            os._exit(70)
        finally:
            self.channel_ended(ch)

    def next_request(self, ch):
        """The payload of the channel's next REQUEST (valid until the next read), or None: the
        thread ends. The usual case, one recv that got exactly one whole REQUEST, is inline."""
        if ch.early:  # dispatched already, so served even after STOP
            return ch.early.pop(0)
        if ch.pos == ch.end and not self.wait_readable(ch):
            return None
        pos, end = ch.pos, ch.end
        if end - pos > 5:
            length, ftype = HDR.unpack_from(ch.buf, pos)
            if pos + 5 + length == end and ftype == REQUEST:
                ch.pos = ch.end = 0
                return ch.view[pos + 5:end]
        ftype, payload = ch.read_frame()
        while ftype == CANCEL:  # for a request that ended before it noticed: nothing to stop
            if ch.pos == ch.end and not self.wait_readable(ch):
                return None
            ftype, payload = ch.read_frame()
        if ftype != REQUEST:
            protocol_error("frame type 0x%02x where a REQUEST was expected" % ftype)
        return payload

    def wait_readable(self, ch):
        """Receive into the channel's empty buffer. False (the thread ends) at end of file, or after
        STOP when nothing is pending. The recv wakes every TICK (SO_RCVTIMEO) so an idle thread
        notices STOP by itself; as it alone reads its socket, no REQUEST can slip between check and exit."""
        while True:
            try:
                if self.stopping:
                    n = ch.sock.recv_into(ch.view, 0, socket.MSG_DONTWAIT)
                else:
                    n = ch.recv_into(ch.view)
            except BlockingIOError:
                if self.stopping:
                    return False
                continue
            except OSError:
                return False
            if not n:
                return False
            ch.pos, ch.end = 0, n
            return True

    def channel_ended(self, ch):
        """Say the channel is done (a shutdown reaches the gateway even if a process the app forked
        holds the socket too), then wait for the gateway to close it: it does once it has read it
        to the end. A slow client may hold back that reading, and what the channel still holds would
        be lost if we exited first (the end of a retiring worker's response)."""
        try:
            ch.out.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while True:  # anything left (a CANCEL for the request just ended) is dropped
            try:
                if not ch.sock.recv_into(ch.view):
                    break
            except BlockingIOError:  # a TICK of SO_RCVTIMEO
                continue
            except OSError:
                break
        for sock in (ch.sock, ch.out):
            try:
                sock.close()
            except OSError:  # the app closed our descriptors
                pass
        with self.lock:
            self.alive -= 1
            self.all_ended = not self.alive
        if self.all_ended:
            try:
                self.ctl.sock.shutdown(socket.SHUT_RD)  # wakes the main thread
            except OSError:
                pass

    def control_loop(self):
        while True:
            try:
                ftype, payload = self.ctl.read_frame()
            except ChannelClosed:
                if self.all_ended:
                    graceful_exit()
                os._exit(0)  # the gateway is gone
            if ftype != STOP or len(payload):
                protocol_error("unexpected frame type 0x%02x on the control channel" % ftype)
            self.stopping = True


def graceful_exit():
    try:
        atexit._run_exitfuncs()  # then skip waiting for the app's own non-daemon threads
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(0)


# ASGI 3: one event loop serving many streams on request channel 0 (docs/worker-protocol.md,
# "ASGI workers: streams on one channel"). The loop reads channel 0 with add_reader, parses every
# whole frame a recv brought, and joins what the tasks of one loop iteration send into one send.

WS_RECEIVE, WS_CLOSED, PAUSE, RESUME, TIMEOUT = 0x06, 0x07, 0x08, 0x09, 0x0a
WS_ACCEPT, WS_SEND, WS_CLOSE, WPAUSE, WRESUME = 0x17, 0x18, 0x19, 0x1a, 0x1b
STREAM = 0x30
U16 = struct.Struct("<H")
WPAUSE_FRAME, WRESUME_FRAME = HDR.pack(0, WPAUSE), HDR.pack(0, WRESUME)
PAUSE_ABOVE, RESUME_BELOW = 1 << 20, 256 << 10  # bytes of a stream's input the app has not received
# An app that sends in a loop without ever awaiting anything that suspends would starve the loop:
# no flush, no PAUSE read, no STOP. Every OUT_YIELD sends without a flush, a send yields once; and
# while more than OUT_HIGH bytes wait for the gateway to read them, senders wait.
OUT_YIELD, OUT_HIGH = 32, 4 << 20
DISCONNECT_GRACE = 5.0  # seconds between CANCEL (the client left) and cancelling a task that still runs
ASGI_RECV_SIZE = 256 * 1024
WS_CHUNK = MAX_PAYLOAD - 6  # a longer WebSocket message goes in several WS_SEND frames with *more*
ASGI_INFO = {"version": "3.0", "spec_version": "2.4"}
HTTP_EXTENSIONS = {"http.response.pathsend": {}}
WS_EXTENSIONS = {"websocket.http.response": {}}
HTTP_VERSIONS = {b"HTTP/1.1": "1.1", b"HTTP/1.0": "1.0", b"HTTP/2": "2", b"HTTP/2.0": "2", b"HTTP/3": "3"}
HTTP_SCHEMES = {b"http": "http", b"https": "https"}
WS_SCHEMES = {b"http": "ws", b"https": "wss", b"ws": "ws", b"wss": "wss"}
# environ keys of headers that have no HTTP_ prefix -> ASGI header names
HEADER_NAMES = {b"CONTENT_TYPE": b"content-type", b"CONTENT_LENGTH": b"content-length"}
ASGI_HEAD_CACHE = {}  # (status, tuple(headers)) -> head block, as HEAD_CACHE for WSGI
HOP_BY_HOP_B = frozenset(h.encode() for h in HOP_BY_HOP)
STATUS_LINES = {}


def status_line(status):
    """b"200 OK" for 200; the reason from http.HTTPStatus, empty for codes it does not know."""
    line = STATUS_LINES.get(status)
    if line is None:
        if type(status) is not int or not 100 <= status <= 599:
            raise ValueError("invalid status %r: expected an int from 100 to 599" % (status,))
        from http import HTTPStatus
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        line = STATUS_LINES[status] = ("%d %s" % (status, reason)).encode("latin-1")
    return line


def encode_asgi_head(status, headers):
    """The head block of http.response.start (status, [[name, value], ...] as bytes), checked as
    encode_head checks WSGI's; hop-by-hop headers are dropped (the gateway does the framing)."""
    try:
        key = status, tuple(headers)
        return ASGI_HEAD_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # unhashable items ([name, value] lists): no caching
        key = None
    parts = [status_line(status)]
    for item in headers:
        name, value = item
        if type(name) is not bytes or type(value) is not bytes:
            name, value = bytes(name), bytes(value)  # bytearray, memoryview; str fails here
        if name.lower() not in HOP_BY_HOP_B:
            parts += (name, value)
    head = b"\0".join(parts) + b"\0"
    if head.count(b"\0") != len(parts) or not HEAD_RE.fullmatch(head.decode("latin-1")):
        for name, value in zip(parts[1::2], parts[2::2]):
            if not TOKEN_RE.fullmatch(name.decode("latin-1")):
                raise ValueError("invalid header name %r" % name)
            raise ValueError("invalid value for header %r: %r (control characters such as CR, LF and NUL "
                             "are not allowed)" % (name, value))
        raise ValueError("invalid response head %r" % head[:200])
    if len(head) > MAX_HEAD:
        raise ValueError("response headers of %d bytes: more than the 16 MiB a response head may have" % len(head))
    if key is not None and len(head) <= HEAD_CACHE_BYTES:
        if len(ASGI_HEAD_CACHE) >= HEAD_CACHE_SIZE:
            ASGI_HEAD_CACHE.clear()
        ASGI_HEAD_CACHE[key] = head
    return head


FIELDS = (b"REQUEST_METHOD", b"SCRIPT_NAME", b"PATH_INFO", b"REQUEST_URI", b"QUERY_STRING", b"REMOTE_ADDR",
          b"REMOTE_PORT", b"SERVER_NAME", b"SERVER_PORT", b"wsgi.url_scheme", b"SERVER_PROTOCOL",
          b"HTTP_SEC_WEBSOCKET_PROTOCOL")
LAYOUTS = {}  # tuple of an environ block's keys -> ((value index, header name), ...), value index of each FIELD
METHODS = {}  # b"GET" -> "GET"
SERVERS = {}  # (SERVER_NAME, SERVER_PORT) -> scope["server"]


def environ_layout(keys):
    """Where a block with these keys (in this order) has its headers and FIELDS. The gateway sends
    the same keys in the same order for most requests, so this is computed once per key tuple."""
    where = {}
    for i, k in enumerate(keys):
        where[k] = 2 * i + 1
    headers = []
    for k, i in where.items():
        name = HEADER_NAMES.get(k) or (k[5:].lower().replace(b"_", b"-") if k.startswith(b"HTTP_") else None)
        if name is not None:
            headers.append((i, name))
    headers.sort()  # in the order of the block
    # -1 for a missing field: the block's split ends with an empty string
    layout = tuple(headers), tuple(where.get(f, -1) for f in FIELDS)
    if len(LAYOUTS) >= 256:
        LAYOUTS.clear()
    LAYOUTS[keys] = layout
    return layout


def make_scope(block, websocket):
    """The ASGI connection scope of an environ block (bytes), and the block split (for messages)."""
    parts = block.split(b"\0")
    if parts[-1] or not len(parts) & 1:
        protocol_error("malformed environ block")
    keys = tuple(parts[0:-1:2])
    layout = LAYOUTS.get(keys) or environ_layout(keys)
    method, script, path_info, uri, query, addr, port, name, sport, scheme, proto, protocols = map(
        parts.__getitem__, layout[1])
    path = script + path_info if script else path_info
    server = SERVERS.get((name, sport))
    if server is None:
        server = (name.decode("latin-1"), int(sport) if sport.isdigit() else None) if name else None
        if len(SERVERS) < 64:
            SERVERS[name, sport] = server
    scope = {
        "type": "http", "asgi": ASGI_INFO, "http_version": HTTP_VERSIONS.get(proto, "1.1"),
        "method": METHODS.get(method) or method_name(method),
        "scheme": HTTP_SCHEMES.get(scheme) or scheme.decode("latin-1") or "http",
        "path": path.decode("utf-8", "replace"), "raw_path": uri.partition(b"?")[0] if uri else path,
        "root_path": script.decode("utf-8", "replace") if script else "", "query_string": query,
        "headers": [(name, parts[i]) for i, name in layout[0]],
        "client": (addr.decode("latin-1"), int(port) if port.isdigit() else 0) if addr else None,
        "server": server, "extensions": HTTP_EXTENSIONS,
    }
    if websocket:
        scope["type"] = "websocket"
        del scope["method"]
        scope["scheme"] = WS_SCHEMES.get(scheme, "ws")
        scope["subprotocols"] = [p.strip() for p in protocols.decode("latin-1").split(",") if p.strip()]
        scope["extensions"] = WS_EXTENSIONS
    return scope, parts


def method_name(method):
    name = method.decode("latin-1") or "GET"
    if len(METHODS) < 64:
        METHODS[method] = name
    return name


def request_line(parts):
    env = dict(zip(parts[0::2], parts[1::2]))
    uri = env.get(b"REQUEST_URI") or env.get(b"SCRIPT_NAME", b"") + env.get(b"PATH_INFO", b"")
    return "%s %s" % (env.get(b"REQUEST_METHOD", b"GET").decode("latin-1"), uri.decode("latin-1"))


def wake(fut):
    if fut is not None and not fut.done():
        fut.set_result(None)


class HttpStream:
    """One request on a stream: its ASGI receive/send and the frames they make.

    inbox holds the messages receive() will return; held counts their body bytes (flow control);
    head is the head block from http.response.start, sent with the first body; ended: the
    stream's last frame (END, ABORT or RESPONSE with end) went out; gone: the client left (CANCEL,
    END 1, WS_CLOSED): send() raises; closed: TIMEOUT, whatever the task sends is dropped."""

    __slots__ = ("srv", "sid", "env", "task", "inbox", "waiter", "held", "in_paused", "head", "head_sent",
                 "ended", "gone", "closed", "paused", "resume", "ack", "unacked", "grace", "body_done")
    websocket = False

    def __init__(self, srv, sid, env):
        self.srv, self.sid, self.env = srv, sid, env
        self.task = self.waiter = self.head = self.resume = self.ack = self.grace = None
        self.inbox = []
        self.held = self.unacked = 0
        self.in_paused = self.head_sent = self.ended = self.gone = self.closed = self.paused = False
        self.body_done = False

    def end(self):
        """The stream's last frame has gone out: wake a receive() (it returns the disconnect)."""
        self.ended = True
        wake(self.waiter)
        if self.grace is not None:
            self.grace.cancel()

    def disconnect(self):
        return {"type": "http.disconnect"}

    async def receive(self):
        inbox = self.inbox
        while not inbox:
            if self.gone or self.ended:
                return self.disconnect()
            self.waiter = fut = self.srv.loop.create_future()
            try:
                await fut
            finally:
                self.waiter = None
        msg = inbox.pop(0)
        if self.held:
            self.taken(msg)
        return msg

    def taken(self, msg):
        body = msg.get("body") or msg.get("bytes") or msg.get("text") or b""
        self.held -= len(body) if type(body) is bytes else len(body.encode("utf-8"))
        if self.in_paused and self.held < RESUME_BELOW and not self.ended:
            self.in_paused = False
            self.srv.write(self.sid, WRESUME_FRAME)

    def feed(self, msg, size):
        """A message from the gateway for receive(); PAUSE the gateway past PAUSE_ABOVE bytes."""
        self.inbox.append(msg)
        if size:
            self.held += size
            if self.held > PAUSE_ABOVE and not self.in_paused:
                self.in_paused = True
                self.srv.write(self.sid, WPAUSE_FRAME)
        wake(self.waiter)

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.body":
            if self.closed:
                return
            if self.gone:
                raise ClientDisconnected("client disconnected")
            if self.ended:
                raise RuntimeError("http.response.body after the response ended")
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = bytes(body)
            more = message.get("more_body", False)
            if self.paused and body:
                if await self.wait_resume():
                    return
            self.send_body(body, more)
            if more:
                await self.srv.throttle()
        elif kind == "http.response.start":
            if self.head is not None:
                raise RuntimeError("http.response.start sent twice")
            self.head = encode_asgi_head(message["status"], message.get("headers", ()))
        elif kind == "http.response.pathsend":
            await self.pathsend(message["path"])
        else:
            raise ValueError("unexpected ASGI message %r in an HTTP scope" % (kind,))

    def send_body(self, body, more):
        head = self.head
        if head is None:
            raise RuntimeError("http.response.body before http.response.start")
        srv, sid = self.srv, self.sid
        out = srv.out
        if srv.osid != sid:
            out.append(srv.stream_frames[sid])
            srv.osid = sid
        n = len(body)
        if not self.head_sent:
            self.head_sent = True
            take = MAX_HEAD - len(head)
            if n <= take:
                out += (RESP_HDR.pack(5 + len(head) + n, RESPONSE, not more, len(head)), head, body)
                if not more:
                    self.end()
                if not srv.flush_pending:
                    srv.flush_pending = True
                    srv.loop.call_soon(srv.flush)
                return
            body = memoryview(body)
            out += (RESP_HDR.pack(5 + len(head) + take, RESPONSE, 0, len(head)), head, body[:take])
            body = body[take:]
        for start in range(0, len(body), MAX_PAYLOAD):
            piece = body[start:start + MAX_PAYLOAD]
            out += (HDR.pack(len(piece), RDATA), piece)
        if not more:
            out.append(END_FRAME)
            self.end()
        if not srv.flush_pending:
            srv.flush_pending = True
            srv.loop.call_soon(srv.flush)

    async def wait_resume(self):
        """Wait for RESUME after PAUSE; True if the stream was closed meanwhile (drop the send)."""
        while self.paused and not (self.gone or self.closed):
            self.resume = fut = self.srv.loop.create_future()
            try:
                await fut
            finally:
                self.resume = None
        if self.closed:
            return True
        if self.gone:
            raise ClientDisconnected("client disconnected")
        return False

    async def pathsend(self, path):
        """http.response.pathsend: FILE with the path; the gateway sends the file, or (FILE_ACK 0)
        we read it here. The file is opened first, so a missing file is the app's error (500)."""
        if self.closed:
            return
        if self.gone:
            raise ClientDisconnected("client disconnected")
        if self.ended or self.head is None:
            raise RuntimeError("http.response.pathsend without http.response.start, or after the response ended")
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ValueError("http.response.pathsend needs an absolute path, not %r" % (path,))
        with open(path, "rb") as f:
            data = path.encode("utf-8", "surrogateescape")
            frame = FILE_HDR.pack(16 + len(data), FILE, 0, -1) + data
            if not self.head_sent:
                head, self.head_sent = self.head, True
                frame = RESP_HDR.pack(5 + len(head), RESPONSE, 0, len(head)) + head + frame
            self.ack = fut = self.srv.loop.create_future()
            self.unacked += 1
            self.srv.write(self.sid, frame)
            try:
                ok = await fut
            finally:
                self.ack = None
            if self.closed:
                return
            while not ok:
                block = f.read(RECV_SIZE)
                if not block:
                    break
                if self.paused and await self.wait_resume():
                    return
                if self.gone:
                    raise ClientDisconnected("client disconnected")
                self.srv.write(self.sid, HDR.pack(len(block), RDATA) + block)
                await self.srv.throttle()
        self.srv.write(self.sid, END_FRAME)
        self.end()

    def error_text(self, what):
        import traceback
        return "%s %s\n%s" % (what, request_line(self.env), traceback.format_exc().rstrip("\n"))

    def failed(self):
        """The task raised (called in its except block)."""
        if self.closed:
            return
        if self.ended:  # after the response (Starlette's background tasks, say): only stderr can tell
            if not isinstance(sys.exc_info()[1], ClientDisconnected):
                sys.stderr.write("warpipe worker %d: %s\n" % (os.getpid(), self.error_text("Error after the response to")))
                sys.stderr.flush()
            return
        if self.gone:  # the client left: ABORT, and a disconnect is nothing to report
            quiet = isinstance(sys.exc_info()[1], (ClientDisconnected, CancelledError))
            self.srv.write(self.sid, (b"" if quiet else log_frame(self.error_text("Error handling request")))
                           + ABORT_FRAME)
        else:
            self.srv.write(self.sid, log_frame(self.error_text("Error handling request"))
                           + (ABORT_FRAME if self.head_sent else ERROR_500))
        self.end()

    def returned(self):
        """The task returned before the response ended."""
        if self.closed or self.ended:
            return
        if self.gone:
            frame = ABORT_FRAME
        else:
            text = "Error handling request %s\nASGI app returned without %s" % (
                request_line(self.env), "ending the response" if self.head_sent else "sending a response")
            frame = log_frame(text) + (ABORT_FRAME if self.head_sent else ERROR_500)
        self.srv.write(self.sid, frame)
        self.end()

    def cancelled(self):
        """CANCEL: the client is gone; the task is cancelled if it still runs after the grace."""
        if self.ended or self.gone:
            return
        self.gone = True
        wake(self.waiter)
        wake(self.resume)  # (a FILE_ACK wait goes on: the ack comes anyway)
        self.grace = self.srv.loop.call_later(DISCONNECT_GRACE, self.cancel_task)

    def cancel_task(self):
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def timed_out(self):
        """TIMEOUT: the task's stack in a LOG, then ABORT, and the task is cancelled."""
        if self.ended:
            return
        text = "Request timed out, cancelling it: %s\n%s" % (request_line(self.env), task_stack(self.task))
        self.srv.write(self.sid, log_frame(text) + ABORT_FRAME)
        self.closed = True
        self.end()
        wake(self.resume)
        wake(self.ack)
        self.cancel_task()


def task_stack(task):
    """The stack of a suspended task, outermost first, down the chain of awaits (task.get_stack()
    shows only the outermost coroutine)."""
    import traceback
    frames, coro = [], task.get_coro() if task is not None else None
    while coro is not None and len(frames) < 100:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        frames.append((frame, frame.f_lineno))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    if not frames:
        return "(no stack: the task is not suspended in a coroutine)"
    return "Stack of the task (most recent call last):\n" + "".join(
        traceback.format_list(traceback.StackSummary.extract(iter(frames)))).rstrip("\n")


class WebSocketStream(HttpStream):
    """A WebSocket on a stream: websocket.* events. state: 0 connecting, 1 accepted, 2 closed by
    the app, 3 answering with an HTTP response (websocket.http.response)."""

    __slots__ = ("state", "fragments", "fragments_text", "closing")
    websocket = True

    def __init__(self, srv, sid, env):
        HttpStream.__init__(self, srv, sid, env)
        self.state = 0
        self.fragments, self.fragments_text, self.closing = [], False, None

    def disconnect(self):
        return self.closing or {"type": "websocket.disconnect", "code": 1006, "reason": ""}

    def message(self, payload):
        """WS_RECEIVE: a message, or a piece of one (flags bit 1)."""
        flags, data = payload[0], bytes(payload[1:])
        if flags & 2:
            if not self.fragments:
                self.fragments_text = flags & 1
            # not counted for PAUSE: the app can take the message only once it is whole (the
            # gateway bounds its size by --websocket-max-message)
            self.fragments.append(data)
            return
        if self.fragments:
            text = self.fragments_text
            self.fragments.append(data)
            data, self.fragments = b"".join(self.fragments), []
        else:
            text = flags & 1
        if text:
            self.feed({"type": "websocket.receive", "text": data.decode("utf-8", "replace")}, len(data))
        else:
            self.feed({"type": "websocket.receive", "bytes": data}, len(data))

    def peer_closed(self, payload):
        """WS_CLOSED: websocket.disconnect with its code and reason; send() raises from now on."""
        if len(payload) < 2:
            protocol_error("WS_CLOSED frame too short")
        code = U16.unpack_from(payload)[0]
        self.closing = msg = {"type": "websocket.disconnect", "code": code,
                              "reason": bytes(payload[2:]).decode("utf-8", "replace")}
        if not self.gone:
            self.gone = True
            self.inbox.append(msg)
            wake(self.waiter)
            wake(self.resume)

    def cancelled(self):  # CANCEL on a WebSocket: the client left, as WS_CLOSED 1006
        self.peer_closed(b"\xee\x03")

    async def send(self, message):
        kind = message["type"]
        if self.closed:
            return
        if kind == "websocket.send":
            if self.gone:
                raise ClientDisconnected("client disconnected")
            if self.state != 1:
                raise RuntimeError("websocket.send %s" % ("after websocket.close" if self.state == 2 else
                                                          "before websocket.accept"))
            text = message.get("text")
            if text is not None:
                flags, data = 1, text.encode("utf-8")
            else:
                flags, data = 0, message.get("bytes") or b""
                if type(data) is not bytes:
                    data = bytes(data)
            if self.paused and await self.wait_resume():
                return
            n, start, pieces = len(data), 0, []
            while True:
                piece = data[start:start + WS_CHUNK]
                start += WS_CHUNK
                more = 2 if start < n else 0
                pieces.append(HDR.pack(len(piece) + 1, WS_SEND) + bytes((flags | more,)) + piece)
                if not more:
                    break
            self.srv.write(self.sid, b"".join(pieces))
            await self.srv.throttle()
        elif kind == "websocket.accept":
            if self.state != 0:
                raise RuntimeError("websocket.accept %s" % ("twice" if self.state == 1 else "after websocket.close"))
            if self.gone:
                raise ClientDisconnected("client disconnected")
            parts = [(message.get("subprotocol") or "").encode("latin-1")]
            for name, value in message.get("headers") or ():
                parts += (bytes(name), bytes(value))
            data = b"\0".join(parts) + b"\0"
            if data.count(b"\0") != len(parts) or b"\r" in data or b"\n" in data:
                raise ValueError("invalid websocket.accept subprotocol or headers: %r" % (parts,))
            self.state = 1
            self.srv.write(self.sid, HDR.pack(len(data), WS_ACCEPT) + data)
        elif kind == "websocket.close":
            if self.state >= 2:
                raise RuntimeError("websocket.close after websocket.close or an HTTP response")
            self.state = 2
            if self.gone:
                return
            code = message.get("code") or 1000
            reason = (message.get("reason") or "").encode("utf-8")
            if len(reason) > 123:
                reason = reason[:123].decode("utf-8", "ignore").encode("utf-8")
            self.srv.write(self.sid, HDR.pack(2 + len(reason), WS_CLOSE) + U16.pack(code) + reason)
        elif kind == "websocket.http.response.start":
            if self.state not in (0, 3) or self.head is not None:
                raise RuntimeError("websocket.http.response.start after websocket.accept or websocket.close")
            self.state = 3
            self.head = encode_asgi_head(message["status"], message.get("headers", ()))
        elif kind == "websocket.http.response.body":
            if self.state != 3 or self.ended:
                raise RuntimeError("websocket.http.response.body without websocket.http.response.start")
            body = message.get("body", b"")
            self.send_body(body if type(body) is bytes else bytes(body), message.get("more_body", False))
        else:
            raise ValueError("unexpected ASGI message %r in a WebSocket scope" % (kind,))

    def failed(self):
        if self.closed:
            return
        if self.ended:
            HttpStream.failed(self)
            return
        if self.gone and isinstance(sys.exc_info()[1], (ClientDisconnected, CancelledError)):
            frame = ABORT_FRAME
        else:
            frame = log_frame(self.error_text("Error handling WebSocket")) + ABORT_FRAME
        self.srv.write(self.sid, frame)
        self.end()

    def returned(self):
        if self.closed or self.ended:
            return
        if self.state == 3:  # a denial response whose body did not end
            HttpStream.returned(self)
            return
        self.srv.write(self.sid, END_FRAME)
        self.end()


CancelledError = None  # asyncio.CancelledError, set by run_asgi (asyncio is imported only by ASGI workers)


class Lifespan:
    """The lifespan scope's task: startup before READY, shutdown after STOP (ASGI lifespan spec)."""

    def __init__(self, srv):
        self.srv, self.state = srv, {}
        loop = srv.loop
        self.phase = 0  # 0: nothing received yet, 1: startup received, 2: shutdown received
        self.started, self.stopped, self.shutdown_asked = loop.create_future(), loop.create_future(), loop.create_future()

    async def receive(self):
        if self.phase == 0:
            self.phase = 1
            return {"type": "lifespan.startup"}
        await self.shutdown_asked
        self.phase = 2
        return {"type": "lifespan.shutdown"}

    async def send(self, message):
        kind = message["type"]
        if kind == "lifespan.startup.complete" and not self.started.done():
            self.started.set_result(None)
        elif kind == "lifespan.startup.failed" and not self.started.done():
            self.started.set_result("lifespan startup failed: %s" % (message.get("message") or "(no message)"))
        elif kind == "lifespan.shutdown.complete" and self.phase == 2:
            wake(self.stopped)
        elif kind == "lifespan.shutdown.failed" and self.phase == 2:
            sys.stderr.write("warpipe worker %d: lifespan shutdown failed: %s\n" % (os.getpid(), message.get("message", "")))
            sys.stderr.flush()
            wake(self.stopped)
        else:
            raise RuntimeError("unexpected ASGI lifespan message %r" % (kind,))

    async def run(self, app):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await app(scope, self.receive, self.send)
        except BaseException as exc:
            import traceback
            text = traceback.format_exc()
            if self.phase == 0:  # refused the scope: the spec's "unsupported" path
                self.started.set_result(("unsupported", "%s: %s" % (type(exc).__name__, exc)))
            elif not self.started.done():
                self.started.set_result("lifespan startup raised %s: %s\n\n%s" % (type(exc).__name__, exc, text))
            else:
                sys.stderr.write("warpipe worker %d: lifespan shutdown raised\n%s" % (os.getpid(), text))
                sys.stderr.flush()
        else:
            if self.phase == 0:
                self.started.set_result(("unsupported", "the app returned"))
            elif not self.started.done():
                self.started.set_result("lifespan returned without completing startup")
        wake(self.stopped)


class AsgiServer:
    """Channel 0 as streams: reads and dispatches frames, writes what the tasks send, STOP."""

    def __init__(self, loop, ctl, sock, out, app, streams):
        self.loop, self.ctl, self.sock, self.out_sock, self.app = loop, ctl, sock, out, app
        self.streams = [None] * streams
        self.stream_frames = [HDR.pack(4, STREAM) + U32.pack(i) for i in range(streams)]
        self.buf = bytearray(ASGI_RECV_SIZE)
        self.view, self.pos, self.end = memoryview(self.buf), 0, 0
        self.isid = self.osid = 0  # current stream of each direction
        self.out, self.flush_pending, self.pending = [], False, None  # pending: what the socket did not take
        self.running, self.stopping, self.shut, self.lifespan, self.state = 0, False, False, None, None
        self.ctl_buf, self.drained = b"", None
        self.unflushed, self.writable_waiters = 0, []
        import asyncio
        self.new_task = loop.create_task
        if hasattr(asyncio, "eager_task_factory"):  # 3.12+: a task runs at once until it first waits
            self.new_task = functools.partial(asyncio.Task, loop=loop, eager_start=True)

    async def throttle(self):
        """After a send that queued output: let the loop run now and then (flush, read PAUSE/STOP),
        and wait while the gateway has not read OUT_HIGH bytes of ours."""
        self.unflushed += 1
        if self.unflushed >= OUT_YIELD:
            self.unflushed = 0
            fut = self.loop.create_future()
            self.loop.call_soon(wake, fut)  # one turn of the loop: the flush and the readers run
            await fut
        while self.pending is not None and len(self.pending) > OUT_HIGH:
            fut = self.loop.create_future()
            self.writable_waiters.append(fut)
            await fut

    # -- output: what a loop iteration writes goes out in one send
    def write(self, sid, data):
        out = self.out
        if sid != self.osid:
            out.append(self.stream_frames[sid])
            self.osid = sid
        out.append(data)
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self.flush)

    def flush(self):
        """Send what this loop iteration wrote: joined when small (a copy is cheaper than a
        gather), gathered by sendmsg when large. What the socket does not take waits in pending."""
        self.flush_pending = False
        self.unflushed = 0
        out = self.out
        self.out = []
        if self.pending is not None:
            self.pending += b"".join(out)
            return
        size = sum(map(len, out)) if len(out) > 1 else len(out[0])
        try:
            if size < GATHER_MIN or len(out) > 512:  # (IOV_MAX is 1024 on Linux)
                data = b"".join(out) if len(out) > 1 else out[0]
                n = self.out_sock.send(data)
            else:
                n = self.out_sock.sendmsg(out)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            if self.shut:
                return
            os._exit(0)  # the gateway is gone
        if n < size:
            self.pending = bytearray(memoryview(b"".join(out))[n:])
            self.loop.add_writer(self.out_sock.fileno(), self.on_writable)
        elif self.drained is not None:
            wake(self.drained)

    def on_writable(self):
        pending = self.pending
        try:
            n = self.out_sock.send(pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            os._exit(0)
        del pending[:n]
        if self.writable_waiters and len(pending) <= OUT_HIGH:
            for fut in self.writable_waiters:
                wake(fut)
            self.writable_waiters = []
        if not pending:
            self.pending = None
            self.loop.remove_writer(self.out_sock.fileno())
            wake(self.drained)

    # -- input
    def on_readable(self):
        try:
            n = self.sock.recv_into(self.view[self.end:])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        if not n:
            return self.channel_eof()
        self.received(n)

    def received(self, n):
        """Dispatch every whole frame in the buffer, which got n more bytes."""
        buf, pos, end = self.buf, self.pos, self.end + n
        while end - pos >= 5:
            length, ftype = HDR.unpack_from(buf, pos)
            stop = pos + 5 + length
            if stop > end:
                break
            payload = self.view[pos + 5:stop]
            pos = stop
            if ftype == STREAM:
                if length != 4:
                    protocol_error("malformed STREAM frame")
                sid = U32.unpack_from(payload)[0]
                if sid >= len(self.streams):
                    protocol_error("STREAM %d out of range (%d streams)" % (sid, len(self.streams)))
                self.isid = sid
            elif ftype == REQUEST:
                self.start(payload)
            else:
                self.frame(ftype, payload)
        if pos == end:
            self.pos = self.end = 0
            if len(buf) > ASGI_RECV_SIZE:  # a big frame's buffer: back to the usual one
                self.buf = bytearray(ASGI_RECV_SIZE)
                self.view = memoryview(self.buf)
            return
        need = HDR.unpack_from(buf, pos)[0] + 5 if end - pos >= 5 else 5
        if need > MAX_PAYLOAD + 5:
            protocol_error("frame of %d bytes exceeds 16 MiB" % (need - 5))
        if pos + need > len(buf):  # move the partial frame to the front, into a larger buffer if needed
            if need > len(buf):
                self.buf = bytearray(need)
                self.view = memoryview(self.buf)
            self.buf[:end - pos] = buf[pos:end]
            pos, end = 0, end - pos
        self.pos, self.end = pos, end

    def start(self, payload):
        """REQUEST on the current stream: the scope, the stream object and its task."""
        sid = self.isid
        old = self.streams[sid]
        if old is not None and not old.ended:
            protocol_error("REQUEST on stream %d while its request runs" % sid)
        n = len(payload)
        if n < 5:
            protocol_error("REQUEST frame too short")
        flags = payload[0]
        body_at = 5 + U32.unpack_from(payload, 1)[0]
        if body_at > n:
            protocol_error("REQUEST environ block overruns the frame")
        scope, env = make_scope(bytes(payload[5:body_at]), flags & 2)
        state = self.state
        scope["state"] = state.copy() if state else {}
        if flags & 2:
            st = WebSocketStream(self, sid, env)
            st.inbox.append({"type": "websocket.connect"})
        else:
            st = HttpStream(self, sid, env)
            if flags & 1:
                st.body_done = True
                st.inbox.append({"type": "http.request", "body": bytes(payload[body_at:]), "more_body": False})
            elif body_at < n:
                st.feed({"type": "http.request", "body": bytes(payload[body_at:]), "more_body": True}, n - body_at)
        self.streams[sid] = st
        self.running += 1
        # On 3.12+ the app runs now, up to its first wait: an app that never waits (a hello, a cached
        # page) is done before the next frame is read, with no trip through the loop's ready queue
        task = self.new_task(self.run(st, scope))
        if not task.done():
            st.task = task

    async def run(self, st, scope):
        try:
            await self.app(scope, st.receive, st.send)
        except BaseException:
            st.failed()
        else:
            st.returned()
        finally:
            self.running -= 1
            if self.stopping and not self.running:
                self.finish_stop()

    def frame(self, ftype, payload):
        """Every frame but STREAM and REQUEST, for the current stream."""
        st = self.streams[self.isid]
        if st is None:
            protocol_error("frame type 0x%02x on stream %d before any REQUEST" % (ftype, self.isid))
        if ftype == DATA:
            if st.body_done or st.websocket:
                protocol_error("DATA on stream %d after its body" % self.isid)
            if payload and not st.ended:
                st.feed({"type": "http.request", "body": bytes(payload), "more_body": True}, len(payload))
        elif ftype == END:
            if len(payload) != 1 or payload[0] > 1 or st.body_done or st.websocket:
                protocol_error("malformed or unexpected END on stream %d" % self.isid)
            st.body_done = True
            if payload[0]:
                st.gone = True  # the body was cut short: the client is gone
                wake(st.waiter)
                wake(st.resume)
            elif not st.ended:
                st.feed({"type": "http.request", "body": b"", "more_body": False}, 0)
        elif ftype == WS_RECEIVE:
            if not st.websocket or not len(payload):
                protocol_error("unexpected WS_RECEIVE on stream %d" % self.isid)
            if not st.ended:
                st.message(payload)
        elif ftype == WS_CLOSED:
            if not st.websocket:
                protocol_error("WS_CLOSED on an HTTP stream %d" % self.isid)
            st.peer_closed(payload)
        elif ftype == PAUSE or ftype == RESUME:
            if len(payload):
                protocol_error("PAUSE/RESUME with a payload")
            st.paused = ftype == PAUSE
            if not st.paused:
                wake(st.resume)
        elif ftype == CANCEL:
            st.cancelled()
        elif ftype == FILE_ACK:
            if len(payload) != 1 or payload[0] > 1 or not st.unacked:
                protocol_error("unexpected or malformed FILE_ACK on stream %d" % self.isid)
            st.unacked -= 1
            if st.ack is not None and not st.ack.done():  # (after TIMEOUT no one waits)
                st.ack.set_result(payload[0] == 1)
        elif ftype == TIMEOUT:
            st.timed_out()
        else:
            protocol_error("unexpected frame type 0x%02x on stream %d" % (ftype, self.isid))

    # -- STOP and the end
    def on_control(self):
        try:
            data = self.ctl.sock.recv(256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            os._exit(0)  # the gateway is gone
        data = self.ctl_buf + data
        while len(data) >= 5:
            length, ftype = HDR.unpack_from(data)
            if ftype != STOP or length:
                protocol_error("unexpected frame type 0x%02x on the control channel" % ftype)
            data = data[5:]
            self.stop()
        self.ctl_buf = data

    def stop(self):
        """STOP: serve what was dispatched (REQUESTs already in the channel), then shut down."""
        if self.stopping:
            return
        self.stopping = True
        while True:  # the gateway wrote its last REQUESTs before STOP: they are in the socket now
            try:
                if not self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    break  # end of file: on_readable sees it next
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            self.on_readable()
        if not self.running:
            self.finish_stop()

    def finish_stop(self):
        if not self.shut:
            self.shut = True
            self.loop.create_task(self.shutdown())

    async def shutdown(self):
        """The streams have finished: lifespan shutdown, then end channel 0 as a WSGI thread
        ends its channel (shutdown(SHUT_WR), then wait for the gateway to close it)."""
        lifespan = self.lifespan
        if lifespan is not None and not lifespan.stopped.done():
            wake(lifespan.shutdown_asked)
            await lifespan.stopped
        while self.flush_pending or self.pending is not None:
            self.drained = self.loop.create_future()
            await self.drained
        try:
            self.out_sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # on_readable drops what still comes, and exits at end of file

    def channel_eof(self):
        self.loop.remove_reader(self.sock.fileno())
        if self.shut:
            graceful_exit()
        os._exit(0)  # channel 0 ended before STOP: the gateway is gone


def is_asgi3(app):
    """An ASGI 3 app: a coroutine function, or an object whose __call__ is one (through
    functools.partial and bound methods). Checked without inspect or asyncio, which a WSGI
    worker need not load. A class is not one: calling it makes an instance (ASGI 2's form)."""
    while isinstance(app, functools.partial):
        app = app.func
    if isinstance(app, type):
        return False
    for f in (app, getattr(app, "__call__", None)):
        while True:
            if isinstance(f, functools.partial):
                f = f.func
            elif isinstance(f, types.MethodType):
                f = f.__func__
            else:
                break
        code = getattr(f, "__code__", None)
        if code is not None and code.co_flags & 0x80:  # CO_COROUTINE
            return True
        if getattr(f, "_is_coroutine_marker", None) is not None:  # inspect.markcoroutinefunction (3.12)
            return True
    return False


def pick_loop(choice):
    """'uvloop' or 'asyncio' for --loop; BootError if uvloop is asked for and missing."""
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
        return "uvloop"
    except ImportError as exc:
        if choice == "uvloop":
            raise BootError("--loop uvloop, but %s cannot import uvloop (%s)" % (sys.executable, exc)) from None
        return "asyncio"


def run_asgi(ctl, channels, app, args, loop_name):
    """Serve an ASGI 3 app on channel 0: lifespan startup, READY, then the loop until STOP."""
    global CancelledError
    import asyncio
    CancelledError = asyncio.CancelledError
    if loop_name == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    ch = channels[0]
    srv = AsgiServer(loop, ctl, ch.sock, ch.out, app, args.streams)
    lifespan = Lifespan(srv)
    loop.create_task(lifespan.run(app))
    outcome = loop.run_until_complete(lifespan.started)
    if isinstance(outcome, str):
        boot_failed(ctl, "%r: %s" % (args.spec, outcome), with_traceback=False)
    if outcome is None:
        srv.lifespan, srv.state, mode = lifespan, lifespan.state, "on"
    else:
        sys.stderr.write("warpipe worker %d: the app does not support the ASGI lifespan scope (%s); serving "
                         "without it\n" % (os.getpid(), outcome[1]))
        sys.stderr.flush()
        mode = "unsupported"
    for sock in (ch.sock, ch.out, ctl.sock):
        sock.setblocking(False)
    ready = ('{"pid":%d,"python":"%d.%d.%d","threads":%d,"interface":"asgi","loop":"%s","streams":%d,"lifespan":"%s"}'
             % ((os.getpid(),) + sys.version_info[:3] + (args.threads, loop_name, args.streams, mode))).encode()
    try:
        ctl.sock.setblocking(True)
        ctl.send(HDR.pack(len(ready), READY) + ready)
        ctl.sock.setblocking(False)
    except ChannelClosed:
        os._exit(0)
    loop.add_reader(ch.sock.fileno(), srv.on_readable)
    loop.add_reader(ctl.sock.fileno(), srv.on_control)
    try:
        loop.run_forever()
    except BaseException:
        import traceback
        sys.stderr.write("warpipe worker %d: internal error\n%s" % (os.getpid(), traceback.format_exc()))
        sys.stderr.flush()
        os._exit(70)


# Boot: arguments, channels, the app (gunicorn-style APP_SPEC)

class BootError(Exception):
    pass


class Args:
    spec, threads, validate, preload = None, 1, False, None
    interface, loop, streams = "auto", "auto", 100


USAGE = ("usage: worker.py APP_SPEC --threads T [--validate] [--interface auto|wsgi|asgi] "
         "[--loop auto|asyncio|uvloop] [--streams C]")


def parse_args(argv):
    """APP_SPEC --threads T [--validate]. Only the gateway calls us, so no argparse: it alone
    would cost every worker ~1 MiB of memory."""
    args, rest = Args(), list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--validate":
            args.validate = True
        elif arg == "--preload":
            args.preload = rest.pop(0) if rest else ""
            if not args.preload:
                raise BootError("--preload needs the gateway's fork socket path")
        elif arg in ("--threads", "--streams"):
            value = rest.pop(0) if rest else ""
            if not value.isdigit() or int(value) < 1:
                raise BootError("%s needs a positive whole number, got %r (%s)" % (arg, value, USAGE))
            setattr(args, arg[2:], int(value))
        elif arg in ("--interface", "--loop"):
            value = rest.pop(0) if rest else ""
            allowed = ("auto", "wsgi", "asgi") if arg == "--interface" else ("auto", "asyncio", "uvloop")
            if value not in allowed:
                raise BootError("%s must be one of %s, got %r" % (arg, ", ".join(allowed), value))
            setattr(args, arg[2:], value)
        elif not arg.startswith("-") and args.spec is None:
            args.spec = arg
        else:
            raise BootError("bad argument %r (%s)" % (arg, USAGE))
    if args.spec is None:
        raise BootError("no APP_SPEC (%s)" % USAGE)
    return args


def inherited_socket(fd):
    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    os.set_inheritable(fd, False)  # the app's child processes must not hold our channels open
    return sock


def open_channel(fd, out_fd=None, size=RECV_SIZE):
    """The channel reading fd and sending on out_fd. A request channel has one socket per
    direction: a thread blocked reading a socket sleeps on that socket's wait queue, which the
    kernel also wakes each time the gateway reads what was sent on it, so one shared socket
    would wake the thread for nothing at every response."""
    sock = inherited_socket(fd)
    if out_fd is None:
        return Channel(sock, None, size)
    return request_channel(sock, inherited_socket(out_fd))


def request_channel(sock, out):
    """A request channel; its reads time out every TICK, so an idle thread notices STOP."""
    for fmt in ("@ll", "@qq"):  # struct timeval; 64-bit time_t on some 32-bit systems
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack(fmt, 0, int(TICK * 1e6)))
            break
        except OSError:
            pass
    return Channel(sock, out)


def import_path(path):
    """Load path/to/file.py or .wsgi as a module named after the file; its directory goes on sys.path."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise BootError("no such file: %s" % path)
    name = re.sub(r"\W", "_", os.path.basename(path).rsplit(".", 1)[0])
    sys.path.insert(0, os.path.dirname(path))
    loader = importlib.machinery.SourceFileLoader(name, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path, loader=loader))
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        raise BootError("error while loading %s: %s: %s" % (path, type(exc).__name__, exc)) from exc
    return module


def import_name(name):
    try:
        return importlib.import_module(name)
    except BaseException as exc:
        missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        if missing and (name == missing or name.startswith(missing + ".")):
            raise BootError("no module named %r (cwd %s)" % (missing, os.getcwd())) from exc
        raise BootError("error while importing %r: %s: %s" % (name, type(exc).__name__, exc)) from exc


def is_path(target):
    """A file path, not a dotted module: it has a slash, or names an existing .py/.wsgi file.
    `myproject.wsgi` with no such file is the module myproject/wsgi.py (Django's layout)."""
    if "/" in target or os.sep in target:
        return True
    return target.endswith((".py", ".wsgi")) and os.path.isfile(target)


def load_app(spec):
    """module[:expr] or path.py|.wsgi[:expr]; expr is a dotted name, maybe a factory call `f()`;
    without one, `application`, then `app`."""
    target, attr = spec, None
    if not spec.endswith((".py", ".wsgi")) and ":" in spec:
        target, _, attr = spec.rpartition(":")
    if is_path(target):
        module = import_path(target)
    elif target.endswith((".py", ".wsgi")):
        try:
            module = import_name(target)
        except BootError as exc:
            if not str(exc).startswith("no module named"):
                raise  # the module was found and failed: that there is no such file is beside the point
            raise BootError("no such file %s, and %s" % (os.path.abspath(target), exc)) from exc.__cause__
    else:
        module = import_name(target)
    if attr is None:
        attr = "application" if hasattr(module, "application") or not hasattr(module, "app") else "app"
        if not hasattr(module, attr):
            raise BootError("module %r has neither 'application' nor 'app'" % module.__name__)
    expr, call = (attr[:-2], True) if attr.endswith("()") else (attr, False)
    names = expr.split(".")
    if not all(n.isidentifier() for n in names):
        raise BootError("invalid callable %r: expected a name, a dotted path or a factory call "
                        "without arguments such as create_app()" % attr)
    obj = module
    for i, n in enumerate(names):
        try:
            obj = getattr(obj, n)
        except AttributeError:
            raise BootError("module %r has no attribute %r" % (module.__name__, ".".join(names[:i + 1]))) from None
    if call:
        try:
            obj = obj()
        except BaseException as exc:
            raise BootError("%s in %r raised %s: %s" % (attr, module.__name__, type(exc).__name__, exc)) from exc
    if not callable(obj):
        raise BootError("%s in %r is not callable (it is a %s)" % (attr, module.__name__, type(obj).__name__))
    return obj


def boot_failed(ctl, message, with_traceback=True):
    """BOOT_ERROR on fd 3 (or stderr): a one-line message, then the traceback; exit 3."""
    text = "Failed to load application %s\n" % message
    if with_traceback and sys.exc_info()[0] is not None:
        import traceback
        text += "\n" + traceback.format_exc()
    data = text.encode("utf-8", "backslashreplace")[:MAX_PAYLOAD]
    try:
        if ctl is None:
            raise ChannelClosed("no control channel")
        ctl.send(HDR.pack(len(data), BOOT_ERROR) + data)
    except ChannelClosed:
        sys.stderr.write(text)
    sys.stderr.flush()
    os._exit(3)


def main(argv):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the gateway's to handle
    # a request past --timeout: the gateway sends SIGUSR1, then SIGKILL. faulthandler prints every
    # thread's stack from C, so it works even while a thread holds the GIL in a C extension.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    ctl = None
    try:
        ctl = open_channel(3, size=256)  # it only ever receives STOP
        args = parse_args(argv)
        channels = [] if args.preload else [open_channel(4 + i, 4 + args.threads + i) for i in range(args.threads)]
    except BootError as exc:
        boot_failed(ctl, "(bad arguments): %s" % exc)
    except OSError as exc:
        boot_failed(ctl, "(bad channel file descriptor): %s" % exc)
    # what Python put first is not the app's: "" when the gateway started us with -c, our own
    # directory when run as a script
    if sys.path and (not sys.path[0] or os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__))):
        del sys.path[0]
    sys.path.insert(0, os.getcwd())
    try:
        app = load_app(args.spec)
    except BootError as exc:
        boot_failed(ctl, "%r: %s" % (args.spec, exc))
    except BaseException as exc:
        boot_failed(ctl, "%r: %s: %s" % (args.spec, type(exc).__name__, exc))
    asgi = is_asgi3(app)
    if args.interface == "asgi" and not asgi:
        boot_failed(ctl, "%r: --interface asgi, but %r is not an ASGI 3 app (an async def app(scope, receive, "
                    "send), or an object whose __call__ is one; ASGI 2 apps are not supported)" % (args.spec, app))
    if args.interface == "wsgi" and asgi:
        boot_failed(ctl, "%r: --interface wsgi, but %r is an ASGI app (a coroutine function); use --interface "
                    "asgi or auto" % (args.spec, app))
    args.interface = "asgi" if asgi else "wsgi"
    loop_name = None
    if asgi:
        try:
            loop_name = pick_loop(args.loop)
        except BootError as exc:
            boot_failed(ctl, "%r: %s" % (args.spec, exc), with_traceback=False)
    elif args.validate:
        from wsgiref.validate import validator
        app = validator(app)
    # What the app loaded lives as long as the process: move it out of the collector's way, or
    # each full collection walks all of it again (~0.5 us/request for a small Flask app). In a
    # --preload template, frozen objects also stay untouched, so forked workers share their pages.
    gc.collect()
    gc.freeze()
    if args.preload:
        run_template(ctl, app, args, loop_name)
    if asgi:
        run_asgi(ctl, channels, app, args, loop_name)
    run_worker(ctl, channels, app, args.threads)


def run_worker(ctl, channels, app, threads):
    """Serve: one thread per request channel; the main thread reads the control channel."""
    template = {
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": EMPTY_INPUT, "wsgi.errors": None,
        "wsgi.multithread": threads > 1, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper, "wsgi.input_terminated": True,
    }
    worker = Worker(ctl, channels, app, template)
    for i, ch in enumerate(channels):
        threading.Thread(target=worker.serve, args=(ch,), name="warpipe-%d" % i, daemon=True).start()
    ready = b'{"pid":%d,"python":"%d.%d.%d","threads":%d,"interface":"wsgi"}' % (
        (os.getpid(),) + sys.version_info[:3] + (threads,))
    try:
        ctl.send(HDR.pack(len(ready), READY) + ready)
    except ChannelClosed:
        os._exit(0)
    worker.control_loop()


def run_template(ctl, app, args, loop_name):
    """--preload: the app is imported here once; each FORK from the gateway forks a worker that
    shares it (copy-on-write) and connects its own channels back to the gateway's fork socket.
    The template reaps the workers it forked and reports each exit (EXITED): they are not the
    gateway's children, and a process the app forked may hold a dead worker's channels open, so
    the gateway cannot learn of the death from them. Only the main thread exists here, so forking
    is safe. Never returns."""
    import select
    wake, wake_w = os.pipe()  # SIGCHLD wakes the loop through it (set_wakeup_fd)
    os.set_blocking(wake, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    ready = b'{"pid":%d,"python":"%d.%d.%d","threads":0,"template":true}' % ((os.getpid(),) + sys.version_info[:3])
    try:
        ctl.send(HDR.pack(len(ready), READY) + ready)
        while True:
            if ctl.pos == ctl.end and wake in select.select([ctl.sock, wake], [], [])[0]:
                try:
                    os.read(wake, 256)
                except BlockingIOError:
                    pass
                reap_children(ctl)
                continue
            ftype, payload = ctl.read_frame()
            if ftype == STOP and not len(payload):
                graceful_exit()
            if ftype != FORK or len(payload) < 5:
                protocol_error("unexpected frame type 0x%02x on the template's control channel" % ftype)
            wid, token = U32.unpack_from(payload)[0], bytes(payload[4:])
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                os.close(wake)
                os.close(wake_w)
                forked_worker(ctl, app, args, wid, token, loop_name)
            # not reaped before we do, so its /proc entry is there to read
            ctl.send(HDR.pack(16, FORKED) + struct.pack("<IIQ", wid, pid, start_time(pid)))
    except ChannelClosed:
        os._exit(0)  # the gateway is gone


def reap_children(ctl):
    """EXITED (pid, exit code or -signal) for each forked worker that has exited; reaps it."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        ctl.send(HDR.pack(8, EXITED) + struct.pack("<Ii", pid, os.waitstatus_to_exitcode(status)))


def start_time(pid):
    """When process pid started (clock ticks after boot, /proc/PID/stat field 22), 0 if unknown:
    with the pid, it names the process even after the pid is reused."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def forked_worker(template_ctl, app, args, wid, token, loop_name):
    """In a child of the template: connect a control channel and the request channels to the
    gateway's fork socket (each announced by HELLO: worker id, role, thread, token), then serve."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the app's own subprocesses are its business
        template_ctl.sock.close()

        def connect(role, index):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(args.preload)
            hello = struct.pack("<IBB", wid, role, index) + token
            sock.sendall(HDR.pack(len(hello), HELLO) + hello)
            return sock

        ctl = Channel(connect(0, 0), None, 256)
        ins = [connect(1, i) for i in range(args.threads)]
        channels = [request_channel(ins[i], connect(2, i)) for i in range(args.threads)]
    except BaseException:
        import traceback
        sys.stderr.write("warpipe worker %d: cannot connect to the gateway\n%s" % (os.getpid(), traceback.format_exc()))
        sys.stderr.flush()
        os._exit(70)
    if loop_name:
        run_asgi(ctl, channels, app, args, loop_name)
    run_worker(ctl, channels, app, args.threads)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
