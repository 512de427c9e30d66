#!/usr/bin/env python3
"""Write a seed corpus of DNS query messages for the `packet` fuzz target.

Usage: fuzz/seeds.py [OUTDIR]   (default: fuzz/corpus/packet, which git ignores)

One file per message, bare DNS message bytes (no TCP length prefix): one query
of each kind the answer path distinguishes, for the names of the fixture that
`nameplate::dns::fuzz_answer` serves (`nameplate::seed::fuzz_zones`: the
platform zone apps.company.com with app.team.prod, *.team.preview, a CNAME
loop and the delegation ext), plus odd headers, EDNS variants, compression
pointers and truncations, so libFuzzer starts from every branch instead of
having to find the header format first.
"""
import os
import struct
import sys

ORIGIN = "apps.company.com"
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
         "OPT": 41, "DS": 43, "IXFR": 251, "AXFR": 252, "ANY": 255, "CAA": 257}


def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid=0x1234, flags=0x0000, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def opt(size=1232, do=False, options=b""):
    ttl = 0x8000 if do else 0  # extended rcode 0, version 0, DO bit
    return b"\0" + struct.pack("!HHIH", TYPES["OPT"], size, ttl, len(options)) + options


def query(qname, qtype="A", qclass=1, flags=0x0000, edns=None, opcode=0):
    flags |= opcode << 11
    msg = header(flags=flags, ar=1 if edns is not None else 0)
    msg += name(qname) + struct.pack("!HH", TYPES[qtype], qclass)
    return msg + (edns if edns is not None else b"")


def seeds():
    o = ORIGIN
    yield "soa", query(o, "SOA")
    yield "ns", query(o, "NS")
    yield "caa", query(o, "CAA")
    yield "a", query(f"app.team.prod.{o}", "A")
    yield "txt", query(f"app.team.prod.{o}", "TXT")
    yield "nodata", query(f"app.team.prod.{o}", "AAAA")
    yield "nodata-mx", query(f"app.team.prod.{o}", "MX")
    yield "ent", query(f"team.prod.{o}", "A")
    yield "nxdomain", query(f"old.team.prod.{o}", "A")
    yield "nxdomain-acme", query(f"_acme-challenge.app.team.prod.{o}", "TXT")
    yield "ns-address", query(f"ns1.{o}", "A")
    yield "wildcard-cname", query(f"pr-1.team.preview.{o}", "A")
    yield "wildcard-deep", query(f"a.pr-1.team.preview.{o}", "A")
    yield "wildcard-cname-q", query(f"pr-1.team.preview.{o}", "CNAME")
    yield "cname-loop", query(f"loop1.{o}", "A")
    yield "referral", query(f"app.ext.{o}", "A")
    yield "referral-ns", query(f"ext.{o}", "NS")
    yield "referral-ds", query(f"ext.{o}", "DS")
    yield "glue", query(f"ns.ext.{o}", "A")
    yield "out-of-zone", query("example.org", "A")
    yield "any", query(o, "ANY")
    yield "axfr-udp", query(o, "AXFR")
    yield "ixfr-udp", query(o, "IXFR")
    yield "upper-case", query(f"APP.Team.PROD.{o.upper()}", "A")
    yield "class-ch", query("version.bind", "TXT", qclass=3)
    yield "class-any", query(o, "SOA", qclass=255)
    yield "edns", query(f"app.team.prod.{o}", "A", edns=opt())
    yield "edns-do", query(o, "SOA", edns=opt(do=True))
    yield "edns-512", query(o, "NS", edns=opt(size=512))
    yield "edns-tiny", query(o, "ANY", edns=opt(size=0))
    yield "edns-cookie", query(o, "SOA", edns=opt(options=struct.pack("!HH", 10, 8) + b"\x01" * 8))
    yield "edns-v1", query(o, "SOA", edns=b"\0" + struct.pack("!HHIH", 41, 1232, 0x00010000, 0))
    yield "rd", query(f"app.team.prod.{o}", "A", flags=0x0100)
    yield "notify", query(o, "SOA", opcode=4, flags=0x0400)
    yield "update", header(flags=5 << 11, qd=1) + name(o) + struct.pack("!HH", 6, 1)
    yield "status-opcode", header(flags=2 << 11, qd=0)
    yield "response", query(o, "SOA", flags=0x8400)
    yield "qd0", header(qd=0)
    yield "qd2", header(qd=2) + (name(o) + struct.pack("!HH", 6, 1)) * 2
    yield "header-only", header()
    yield "short", header()[:7]
    yield "cut-name", (header() + name(f"app.team.prod.{o}"))[:-5]
    # second question's name is a pointer to the first at offset 12
    yield "pointer", header(qd=2) + name(o) + struct.pack("!HH", 6, 1) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    yield "pointer-loop", header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    yield "long-name", query(".".join(["a" * 63] * 3 + ["b" * 61]), "A")
    yield "trailing", query(o, "SOA") + b"\xff" * 16


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "packet")
    os.makedirs(out, exist_ok=True)
    n = 0
    for label, msg in seeds():
        with open(os.path.join(out, f"seed-{label}"), "wb") as f:
            f.write(msg)
        n += 1
    print(f"{n} seeds in {out}")


if __name__ == "__main__":
    main()
