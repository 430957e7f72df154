#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# h2big.py PORT AUTHORITY SIZE[,SIZE...] [PATH]: an h2c client that sends
# one GET (of PATH, default /) whose header block carries one field of each
# SIZE bytes (x-0, x-1, ...),
# split into HEADERS and CONTINUATION frames of 16 KiB, as clients built on
# nghttp2 refuse to send heads over 64 KiB. Prints what the server sent
# back, a line per frame: "GOAWAY CODE", "RST SID CODE", "HEADERS SID",
# "DATA SID TEXT" (the first 60 bytes). Frames are built by hand (HPACK
# literals without indexing), so it needs nothing but python3.
import socket
import struct
import sys


def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", sid) + payload)


def hpack_int(value, prefix_bits):
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([value])
    out = [top]
    value -= top
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value):
    name, value = name.encode(), value.encode()
    return (b"\x00" + hpack_int(len(name), 7) + name +
            hpack_int(len(value), 7) + value)


def main():
    port, authority = int(sys.argv[1]), sys.argv[2]
    sizes = [int(x) for x in sys.argv[3].split(",")]
    path = sys.argv[4] if len(sys.argv) > 4 else "/"
    block = (literal(":method", "GET") + literal(":path", path) +
             literal(":scheme", "http") + literal(":authority", authority))
    for i, size in enumerate(sizes):
        block += literal("x-%d" % i, "a" * size)
    parts = [block[i:i + 16384] for i in range(0, len(block), 16384)]
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0)
    for i, part in enumerate(parts):
        flags = (1 if i == 0 else 0) | (4 if i == len(parts) - 1 else 0)
        out += frame(1 if i == 0 else 9, flags, 1, part)
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(out)
    got, i, done = b"", 0, False
    while not done:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        got += data
        while not done and i + 9 <= len(got):
            n = int.from_bytes(got[i:i + 3], "big")
            if i + 9 + n > len(got):
                break
            ftype, flags = got[i + 3], got[i + 4]
            sid = int.from_bytes(got[i + 5:i + 9], "big") & 0x7fffffff
            p = got[i + 9:i + 9 + n]
            i += 9 + n
            if ftype == 7:
                print("GOAWAY", int.from_bytes(p[4:8], "big"))
                done = True
            elif ftype == 3:
                print("RST", sid, int.from_bytes(p[:4], "big"))
                done = True
            elif ftype == 1:
                print("HEADERS", sid)
            elif ftype == 0:
                print("DATA", sid, p[:60].decode("latin-1").strip())
            if ftype in (0, 1) and sid == 1 and flags & 1:
                done = True

if __name__ == "__main__":
    main()
