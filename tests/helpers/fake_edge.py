#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fake_edge.py [OPTIONS]: an edge that answers every worker's handshake in
# one fixed way, for tests of how `ptth expose` takes answers no real edge
# gives. Listens on 127.0.0.1, port 0; prints the port on stdout when
# ready; reads each request head, answers, then closes the connection.
#   --status TEXT    the status line's code and reason
#                    (default "101 Switching Protocols")
#   --fields F|F...  the head's fields, '|' between them
#                    (default "Connection: Upgrade|Upgrade: ptth|ALPN: h2")
#   --url URL        adds Ptth-Public-Url: URL
#   --hold           keeps each connection open, unread, instead of closing
#   --tls CERT KEY   speaks TLS (Python's ssl module)
#   --garbage        answers with bytes that are not a TLS record, under
#                    the TLS layer (use with --tls)
import argparse
import os
import socket
import ssl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--status", default="101 Switching Protocols")
    ap.add_argument("--fields",
                    default="Connection: Upgrade|Upgrade: ptth|ALPN: h2")
    ap.add_argument("--url")
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--garbage", action="store_true")
    a = ap.parse_args()
    head = "HTTP/1.1 " + a.status + "\r\n"
    if a.fields:
        head += a.fields.replace("|", "\r\n") + "\r\n"
    if a.url is not None:
        head += "Ptth-Public-Url: " + a.url + "\r\n"
    head = (head + "\r\n").encode()
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(16)
    print(lsn.getsockname()[1], flush=True)
    held = []
    while True:
        c, _ = lsn.accept()
        try:
            s = ctx.wrap_socket(c, server_side=True) if ctx else c
            got = b""
            while b"\r\n\r\n" not in got:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            if a.garbage:
                os.write(s.fileno(), b"\x17\x03\x03\x00\x05 not a TLS record")
            else:
                s.sendall(head)
        except (OSError, ssl.SSLError):
            pass
        if a.hold:
            held.append(c)  # never read, never closed
        else:
            c.close()


if __name__ == "__main__":
    main()
