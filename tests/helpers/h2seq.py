#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# h2seq.py PORT AUTHORITY PATH STREAMS BYTES [SECONDS]: an h2c client that
# POSTs BYTES of body on each of STREAMS streams of one connection, all
# opened at once, but sends the bodies one after the other: always on the
# first stream that has bytes left and flow-control window (curl, nghttp
# and h2load share the window between streams instead). Prints "SID STATUS" for every stream
# answered within SECONDS (default 30), "SID reset CODE" for a reset one,
# in the order the answers came. Frames are built by hand (HPACK literals
# without indexing), so it needs nothing but python3.
#
# 0140-timeouts runs it against `ptth serve --idle-timeout 1`: every stream
# must get 200 (a 408 came about one run in four until the edge restarted
# a stream's idle time when it sends the client a WINDOW_UPDATE).
import select
import socket
import struct
import sys
import time


def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", sid) + payload)


def literal(name, value):
    name, value = name.encode(), value.encode()
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def main():
    port, authority, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    nstreams, size = int(sys.argv[4]), int(sys.argv[5])
    limit = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
    conn_win, init_win = 65535, 65535
    sids = [2 * i + 1 for i in range(nstreams)]
    win = {sid: init_win for sid in sids}
    left = {sid: size for sid in sids}
    for sid in sids:
        block = b"".join(literal(k, v) for k, v in (
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", authority), ("content-length", str(size))))
        s.sendall(frame(1, 4, sid, block))
    answered, buf = set(), b""
    chunk = b"z" * 16384
    deadline = time.time() + limit
    while len(answered) < nstreams and time.time() < deadline:
        # Bodies in order: the first stream with bytes left and window.
        for sid in sids:
            n = min(16384, left.get(sid, 0), conn_win, win[sid])
            if n > 0:
                s.sendall(frame(0, 1 if n == left[sid] else 0, sid, chunk[:n]))
                left[sid] -= n
                conn_win -= n
                win[sid] -= n
                break
        r, _, _ = select.select([s], [], [], 0 if conn_win > 0 else 0.05)
        if not r:
            continue
        data = s.recv(1 << 16)
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            p, buf = buf[9:9 + n], buf[9 + n:]
            if ftype == 4 and not flags & 1:  # SETTINGS
                for i in range(0, len(p), 6):
                    key, val = struct.unpack(">HI", p[i:i + 6])
                    if key == 4:
                        for k in win:
                            win[k] += val - init_win
                        init_win = val
                s.sendall(frame(4, 1, 0))
            elif ftype == 8:  # WINDOW_UPDATE
                inc = struct.unpack(">I", p)[0] & 0x7FFFFFFF
                if sid == 0:
                    conn_win += inc
                elif sid in win:
                    win[sid] += inc
            elif ftype == 1 and sid not in answered:  # HEADERS: :status
                # The edge sends :status 200 indexed (0x88), others as a
                # literal with the indexed name 8 (the static table).
                status = "?"
                if p[:1] == b"\x88":
                    status = "200"
                elif len(p) >= 5 and p[0] & 0x0F == 8 and p[1] == 3:
                    status = p[2:5].decode()
                answered.add(sid)
                left.pop(sid, None)
                print(sid, status, flush=True)
            elif ftype == 3 and sid not in answered:  # RST_STREAM
                answered.add(sid)
                left.pop(sid, None)
                print(sid, "reset", struct.unpack(">I", p)[0], flush=True)
    s.close()


main()
