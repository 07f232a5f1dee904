#!/usr/bin/env python3
"""fuzz/gen_corpus.py - writes the seed corpora under fuzz/corpus/<harness>/.

The seeds are committed; this script is how they were made, so a seed can be
read here as what it means rather than as bytes. Run it from anywhere:
    python3 fuzz/gen_corpus.py
It rewrites the seeds it knows and leaves other files (crash reproducers
added by hand) alone.

Each harness's input format is described at the top of fuzz/fuzz_<name>.c:
ws, jwt, conn and resp start with a knob byte. Client frames are masked with the
zero key, so the fuzzer sees their payloads in the clear (RFC 6455 allows any
key); a few use the RFC's example key.
"""
import base64
import hashlib
import hmac
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# ---- Building blocks ----------------------------------------------------------

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
SECRET = b"fuzz-secret"          # fuzz_jwt.c and fuzz_conn.c sign with it
API_KEY = "fuzz-key"             # fuzz_conn.c's API key (knob bit 6)
ORIGIN = "https://chat.example"  # and its allowed origin


def request(target, headers=(), method="GET", version="1.1", body=b""):
    lines = [f"{method} {target} HTTP/{version}"] + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def upgrade_headers(key=RFC_KEY, extra=()):
    return ["Host: localhost:8080", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *extra]


def post(target, body, headers=()):
    return request(target, ["Host: x", *headers, f"Content-Length: {len(body)}"],
                   method="POST", body=body)


def hello(target="/websocket?userId=alice", extra=()):
    return request(target, upgrade_headers(extra=extra))


def frame(op, payload=b"", fin=True, mask=b"\0\0\0\0", rsv=0, length=None, form=None):
    """A frame; form forces a length encoding (7, 16 or 64) even if not minimal."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | op
    mbit = 0x80 if mask is not None else 0
    form = form or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask is None:
        return head + payload
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + masked


def text(s, **kw):
    return frame(0x1, s.encode() if isinstance(s, str) else s, **kw)


def close(code=None, reason=b""):
    return frame(0x8, b"" if code is None else struct.pack(">H", code) + reason)


def msg(**fields):
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(header, claims, secret=SECRET, sig=None):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing = f"{b64url(h)}.{b64url(c)}"
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{sig if sig is not None else b64url(mac)}"


HS256 = {"alg": "HS256", "typ": "JWT"}

# ---- The seeds ------------------------------------------------------------------


def http_seeds():
    long_line = request("/" + "a" * 4100)
    many = request("/", [f"X-{i}: {i}" for i in range(33)])
    big_head = request("/", ["X-Big: " + "b" * 8300])
    return {
        "rfc6455-handshake": request("/chat", [
            "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {RFC_KEY}", "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Version: 13"]),
        "browser-handshake": request(
            "/websocket?userId=%E7%8E%8B%20li&since=1764000000000000&token=a.b.c", [
                "Host: chat.example:8080", "Connection: keep-alive, Upgrade",
                "Pragma: no-cache", "User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
                "Upgrade: websocket", "Origin: https://chat.example",
                "Sec-WebSocket-Version: 13", "Accept-Encoding: gzip, deflate, br",
                "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]),
        "curl-healthz": request("/healthz", ["Host: 127.0.0.1:8080", "User-Agent: curl/7.88.1",
                                             "Accept: */*"], version="1.0"),
        "curl-metrics": request("/metrics", ["Host: localhost", "Accept: */*"]),
        "head-index": request("/", ["Host: x"], method="HEAD"),
        "post-push": post("/api/push", b'{"messageType":1,"content":"hello all"}',
                          ["Authorization: Bearer fuzz-key", "Content-Type: application/json"]),
        "post-two-lengths": request("/api/push", ["Content-Length: 2", "content-length: 02"],
                                    method="POST", body=b"{}"),
        "post-chunked": request("/api/push", ["Transfer-Encoding: chunked"], method="POST",
                                body=b"2\r\n{}\r\n0\r\n\r\n"),
        "bare-lf": b"GET /a?x=1 HTTP/1.1\nHost: x\nUpgrade: websocket\n\n",
        "obs-fold": b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        "query-tricks": request("/websocket?&&userId=a+b%2B%00&userId=second&since&token=%zz"),
        "traversal": request("/%2e%2e/%2E%2E/etc/passwd?x=/../"),
        "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "too-many-headers": many,
        "long-request-line": long_line,
        "long-head": big_head,
    }


def ws_seeds():
    # knob byte, then the data (fuzz_ws.c)
    s = {
        "rfc-hello-unmasked": b"\x00" + bytes([0x81, 0x05]) + b"Hello",
        "rfc-hello-masked": b"\x21" + frame(1, b"Hello", mask=b"\x37\xfa\x21\x3d"),
        "rfc-fragment-first": b"\x00" + frame(1, b"Hel", fin=False, mask=None),
        "rfc-fragment-last": b"\x00" + frame(0, b"lo", mask=None),
        "ping-masked": b"\x03" + frame(0x9, b"Hello", mask=b"\x37\xfa\x21\x3d"),
        "pong": b"\x04" + frame(0xA, b"", mask=b"\0\0\0\0"),
        "binary-256": b"\x05" + frame(2, bytes(range(256)), mask=None),
        "binary-64k": b"\x80" + frame(2, b"", length=65536, mask=b"\1\2\3\4"),
        "len16-not-minimal": b"\x00" + frame(1, b"", length=5, form=16),
        "len64-not-minimal": b"\x00" + frame(1, b"", length=65535, form=64),
        "len64-top-bit": b"\x00" + bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        "rsv-bits": b"\x00" + frame(1, b"x", rsv=0x40),
        "reserved-opcode": b"\x00" + frame(0x3, b"") + frame(0xB, b""),
        "control-fragmented": b"\x00" + frame(0x9, b"", fin=False),
        "control-126": b"\x00" + frame(0x8, b"", length=126),
        "close-1000-bye": b"\x11" + struct.pack(">H", 1000) + b"bye",
        "close-4999": b"\x00" + struct.pack(">H", 4999),
        "close-1005": b"\x00" + struct.pack(">H", 1005),
        "close-1015": b"\x00" + struct.pack(">H", 1015),
        "close-bad-utf8": b"\x00" + struct.pack(">H", 1001) + b"\xc3\x28",
        "close-one-byte": b"\x00\x03",
        "key-rfc": b"\x00" + RFC_KEY.encode(),
        "key-bad-char": b"\x00" + b"dGhlIHNhbXBsZSBub25jZQ!=",
        "key-short": b"\x00" + b"dGhlIHNhbXBsZSBub25jZQ=",
    }
    return s


def utf8_seeds():
    return {
        "ascii": b"Hello, world! " * 4,
        "mixed": "héllo wörld — 王 😀 ok".encode(),
        "boundaries": "\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff".encode(),
        "long-ascii-then-multibyte": b"a" * 37 + "é€😀".encode() + b"z" * 9,
        "overlong-2": b"\xc0\xaf",
        "overlong-3": b"\xe0\x80\xaf",
        "overlong-4": b"\xf0\x80\x80\xaf",
        "surrogate-high": b"\xed\xa0\x80",
        "surrogate-low": b"\xed\xbf\xbf",
        "above-max": b"\xf4\x90\x80\x80",
        "f5-ff": b"ok\xf5\xff",
        "stray-continuation": b"a\x80b",
        "truncated-4": b"\xf0\x9f\x98",
        "truncated-then-ascii": b"\xe2\x82a",
        "autobahn-6.3.1": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    }


def json_seeds():
    full = msg(messageType=1, mediaType=0, **{"from": "alice"}, to="", content="hi",
               fileId="", url="", createAt=1764000000000, updateAt=1764000000123, id=17)
    deep_ok = '{"x":' + "[" * 31 + "]" * 31 + ',"content":"d"}'
    deep_bad = '{"x":' + "[" * 32 + "]" * 32 + "}"
    return {
        "full-message": full.encode(),
        "minimal": b'{"messageType":0,"to":"bob","content":"x"}',
        "empty-object": b" { } ",
        "escapes": rb'{"content":"q\" b\\ s\/ \b\f\n\r\t \u0000 \u00e9 \u20AC","url":"\u0074o"}',
        "surrogate-pair": rb'{"content":"\ud83d\ude00 \uD83D\uDE00"}',
        "lone-surrogate": rb'{"content":"\ud800x"}',
        "low-surrogate-first": rb'{"content":"\udc00\ud800"}',
        "escaped-key": rb'{"\u0074o":"bob","\u006d\u0065ssageType":0}',
        "nested-unknown": b'{"meta":{"a":[1,2,{"b":null,"c":[true,false]}],"d":"}"},"content":"x"}',
        "deep-32": deep_ok.encode(),
        "deep-33": deep_bad.encode(),
        "numbers": b'{"id":-9223372036854775808,"createAt":9223372036854775807,"x":[0,-0,1.5e-3,2E+2]}',
        "int-overflow": b'{"id":9223372036854775808}',
        "fraction-id": b'{"id":1.0}',
        "duplicates": b'{"content":"a","content":"b","to":null,"to":"c"}',
        "wrong-type": b'{"content":5}',
        "raw-utf8": '{"content":"王 😀 é","from":"ü"}'.encode(),
        "control-in-string": b'{"content":"a\x01b"}',
        "trailing-garbage": b'{"content":"x"} x',
        "unterminated": b'{"content":"x',
        "array-top": b'[{"content":"x"}]',
    }


def jwt_seeds():
    good = {"sub": "alice"}
    signed = lambda h, c: json.dumps(h).encode() + b"\0" + json.dumps(c).encode()
    return {
        # knob 0x00: a token as it comes
        "valid": b"\x00" + jwt(HS256, good).encode(),
        "valid-exp": b"\x00" + jwt(HS256, {"sub": "alice", "exp": 4102444800}).encode(),
        "expired": b"\x00" + jwt(HS256, {"sub": "alice", "exp": 1600000000}).encode(),
        "not-yet": b"\x00" + jwt(HS256, {"sub": "alice", "nbf": 4102444800}).encode(),
        "other-user": b"\x00" + jwt(HS256, {"sub": "bob"}).encode(),
        "alg-none": b"\x00" + jwt({"alg": "none"}, good, sig="").encode(),
        "alg-hs512": b"\x00" + jwt({"alg": "HS512"}, good).encode(),
        "bad-signature": b"\x00" + jwt(HS256, good, secret=b"other").encode(),
        "padded": b"\x00" + (jwt(HS256, good) + "=").encode(),
        "four-parts": b"\x00" + (jwt(HS256, good) + ".x").encode(),
        "crit": b"\x00" + jwt({"alg": "HS256", "crit": ["b64"]}, good).encode(),
        # knob 0x01: header NUL claims, signed by the harness
        "signed-good": b"\x01" + signed(HS256, good),
        "signed-escaped": b"\x01" + rb'{"alg":"HS\u0032\u00356"}' + b"\0" + rb'{"sub":"\u0061lice","exp":4102444800}',
        "signed-duplicate-sub": b"\x01" + json.dumps(HS256).encode() + b'\0{"sub":"alice","sub":"bob"}',
        "signed-float-exp": b"\x01" + json.dumps(HS256).encode() + b"\0" + b'{"sub":"alice","exp":1.7e9}',
        "signed-typ-jwe": b"\x01" + signed({"alg": "HS256", "typ": "JWE"}, good),
        # knob 0x80: the first 64 bytes are also an HMAC key (a full block)
        "hmac-long-key": b"\x80" + bytes(range(64)) + b"message",
    }


def bulk(b):
    b = b.encode() if isinstance(b, str) else b
    return b"$%d\r\n" % len(b) + b + b"\r\n"


def array(*elems):
    return b"*%d\r\n" % len(elems) + b"".join(elems)


def resp_seeds():
    # knob byte (fuzz_resp.c): 0x1f is room for 256 elements, 16 levels of
    # arrays, Redis's own bulk limit and long lines; bit 5 makes max_bulk 8,
    # bit 6 max_line 8, bits 3-4 the depth (1, 2, 3, 16), bits 0-2 the room.
    roomy = b"\x1f"
    message = msg(messageType=1, mediaType=0, **{"from": "alice"}, content="hi", id=17)
    return {
        "ok": roomy + b"+OK\r\n",
        "errors": roomy + b"-ERR unknown command 'FOO'\r\n"
                  b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
                  b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        "integers": roomy + b":0\r\n:1000\r\n:-1\r\n:9223372036854775807\r\n"
                    b":-9223372036854775808\r\n",
        "bulk": roomy + bulk("hello") + bulk("") + b"$-1\r\n" + bulk(b"\r\n\0\xff"),
        "arrays": roomy + b"*0\r\n*-1\r\n" + array(bulk("foo"), bulk("bar"))
                  + array(bulk("foo"), b"$-1\r\n", bulk("bar")),
        "pubsub": roomy + array(bulk("subscribe"), bulk("pusher:bus"), b":1\r\n")
                  + array(bulk("message"), bulk("pusher:bus"), bulk(message))
                  + array(bulk("message"), bulk("pusher:bus"), bulk(message.replace("17", "18"))),
        "scan": roomy + array(bulk("17"), array(bulk("pusher:user:alice"), bulk("pusher:ids"))),
        "exec": roomy + array(b"+OK\r\n", b":7\r\n", array(bulk("0"), array()), b"*-1\r\n",
                              b"-ERR x\r\n"),
        "exec-aborted": roomy + b"*-1\r\n",
        "eval-id-delivered": roomy + array(b":1764000000000001\r\n", b":3\r\n"),
        "time": roomy + array(bulk("1764000000"), bulk("123456")),
        "hgetall": roomy + array(bulk("alice"), bulk("2"), bulk("bob"), bulk("1")),
        "xrange": roomy + array(array(bulk("1764000000000-0"), array(bulk("m"), bulk(message)))),
        "lua-deep": roomy + b"*1\r\n" * 15 + b":15\r\n",
        "depth-over": b"\x0f" + b"*1\r\n*1\r\n*1\r\n:1\r\n",
        "room-tight": b"\x1a" + array(b":1\r\n", b":2\r\n") + array(b":1\r\n", b":2\r\n", b":3\r\n"),
        "small-limits": b"\x7f" + b"+OKAYOKAY\r\n" + bulk("12345678") + bulk("123456789"),
        "bad-type": roomy + b"+OK\r\n?x\r\n",
        "resp3": roomy + b"_\r\n%1\r\n+a\r\n:1\r\n",
        "bare-lf": roomy + b"+OK\n",
        "leading-zero": roomy + b"$01\r\nx\r\n",
        "negative": roomy + b"$-2\r\n",
        "overflow": roomy + b":9223372036854775808\r\n",
        "bulk-too-long": roomy + b"$536870913\r\n",
        "bulk-not-ended": roomy + b"$3\r\nfooX\r\n",
    }
def client_hello():
    """A real TLS ClientHello, as Python's ssl (OpenSSL) sends it first; its
    random and key share differ on every run, its shape does not."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def conn_seeds():
    knob = lambda prefix=0, pieces=0, bob=False, tight=False, auth=False, stall=False: bytes([
        prefix | pieces << 2 | (16 if bob else 0) | (32 if tight else 0) |
        (64 if auth else 0) | (128 if stall else 0)])
    group = text(msg(messageType=1, content="hello all"))
    to_self = text(msg(messageType=0, to="alice", content="me"))
    s = {
        # knob prefix 0: the input brings its own request
        "rfc-handshake-group": knob() + hello() + group,
        "echo-handshake": knob() + hello("/echo") + text("echo me") + frame(2, b"\x00\xff"),
        "curl-healthz": knob() + request("/healthz", ["Host: x"], version="1.0"),
        "metrics": knob() + request("/metrics", ["Host: x"]),
        "admin": knob() + request("/admin", ["Host: x"]),
        "index-head": knob() + request("/", ["Host: x"], method="HEAD"),
        "app-js": knob() + request("/app.js", ["Host: x"]),
        "traversal": knob() + request("/%2e%2e/%2e%2e/etc/passwd", ["Host: x"]),
        "not-found": knob() + request("/nope.txt", ["Host: x"]),
        "post-push": knob() + post("/api/push", b'{"messageType":2,"content":"maintenance"}',
                                   ["Content-Type: application/json"]),
        "post-push-keyed": knob(auth=True) + post("/api/push", b'{"messageType":0,"to":"bob"}',
                                                  [f"Authorization: Bearer {API_KEY}"]),
        "post-push-bad-json": knob() + post("/api/push", b'{"messageType":'),
        "post-push-then-more": knob() + post("/api/push", b'{"messageType":1}') + b"GET / HTTP/1.1\r\n\r\n",
        "post-no-length": knob() + request("/api/push", ["Host: x"], method="POST"),
        "post-chunked": knob() + request("/api/push", ["Transfer-Encoding: chunked"],
                                         method="POST", body=b"0\r\n\r\n"),
        "post-too-big": knob() + request("/api/push", ["Content-Length: 99999999"], method="POST"),
        "put": knob() + request("/", ["Host: x"], method="PUT"),
        "version-8": knob() + request("/websocket?userId=a", upgrade_headers()[:-1] +
                                      ["Sec-WebSocket-Version: 8"]),
        "no-user": knob() + hello("/websocket"),
        "user-control-char": knob() + hello("/websocket?userId=a%01b"),
        "user-c1": knob() + hello("/websocket?userId=a%C2%85b"),
        "user-65-bytes": knob() + hello("/websocket?userId=" + "u" * 65),
        "since-bad": knob() + hello("/websocket?userId=a&since=12x"),
        "bare-lf-handshake": knob() + hello().replace(b"\r\n", b"\n"),
        # knob prefix 1: alice's handshake first, then frames
        "group": knob(1) + group,
        "single-to-self": knob(1) + to_self,
        "single-to-nobody": knob(1) + text(msg(messageType=0, to="nobody", content="x")),
        "single-to-long-name": knob(1) + text(msg(messageType=0, to="é" * 40, content="x")),
        "sysnotify-refused": knob(1) + text(msg(messageType=2, content="x")),
        "bad-json": knob(1) + text('{"content":'),
        "wrong-media": knob(1) + text(msg(messageType=1, mediaType=7)),
        "ping-pong-close": knob(1) + frame(0x9, b"are you there") + frame(0xA, b"") + close(1000, b"bye"),
        "close-empty": knob(1) + close(),
        "close-bad-code": knob(1) + close(1005),
        "close-bad-reason": knob(1) + close(1000, b"\xff"),
        "close-one-byte": knob(1) + frame(0x8, b"\x03"),
        "fragmented": knob(1) + text('{"messageType":1,', fin=False) + frame(0x9, b"mid") +
                      frame(0, b'"content":"in ', fin=False) + frame(0, b'pieces"}'),
        "fragmented-utf8-split": knob(1) + text(b'{"content":"\xe2\x82', fin=False) +
                                 frame(0, b'\xac"}'),
        "continuation-alone": knob(1) + frame(0, b"x"),
        "text-inside-fragment": knob(1) + text("a", fin=False) + text("b"),
        "invalid-utf8": knob(1) + text(b'{"content":"\xc0\xaf"}'),
        "binary": knob(1) + frame(2, b"\x01\x02"),
        "unmasked": knob(1) + frame(1, b"{}", mask=None),
        "rsv": knob(1) + frame(1, b"{}", rsv=0x20),
        "len16": knob(1) + text(msg(messageType=1, content="x" * 200)),
        "len64-too-big": knob(1) + frame(1, b"", length=1 << 20),
        "len64-not-minimal": knob(1) + frame(1, b"{}", form=64),
        "rfc-mask": knob(1) + text(msg(messageType=1, content="masked"), mask=b"\x37\xfa\x21\x3d"),
        "control-too-long": knob(1) + frame(0x9, b"p" * 126),
        # rooms: Join, a Group to the room, Leave; the mistakes; rooms= at connect
        "join-group-leave": knob(1) + text(msg(messageType=5, to="lobby")) +
                            text(msg(messageType=1, to="lobby", content="in the lobby")) +
                            text(msg(messageType=6, to="lobby")),
        "join-since": knob(1) + text(b'{"messageType":5,"to":"r","since":1764000001500001}'),
        "join-twice-leave-twice": knob(1) + text(msg(messageType=5, to="r")) * 2 +
                                  text(msg(messageType=6, to="r")) * 2,
        "join-bad-names": knob(1) + text(msg(messageType=5, to="")) +
                          text(msg(messageType=5, to="a\u0001b")) + text(msg(messageType=5, to="r" * 65)),
        "group-to-room-not-in": knob(1) + text(msg(messageType=1, to="elsewhere", content="x")),
        "rooms-at-connect": knob() + hello("/websocket?userId=alice&rooms=a,b%2Cc,%C3%A9t%C3%A9") + group,
        "rooms-at-connect-bad": knob() + hello("/websocket?userId=alice&rooms=a,,a"),
        "bob-in-room": knob(1, bob=True) + text(msg(messageType=5, to="r")) +
                       text(msg(messageType=1, to="r", content="hi room")),
        # the same, cut into small pieces: 1, 5 and 64 bytes
        "pieces-1-fragmented": knob(1, 1) + text("{", fin=False) + frame(0x9, b"p") + frame(0, b"}"),
        "pieces-5-group": knob(1, 2) + group + to_self,
        "pieces-64-echo": knob(2, 3) + text("é" * 50) + frame(2, bytes(100)),
        # echo endpoint
        "echo-text-binary": knob(2) + text("x") + frame(2, b"\x00") + close(3000),
        "echo-fragmented-binary": knob(2) + frame(2, b"ab", fin=False) + frame(0, b"cd"),
        # token and origin (knob bit 6), and with prefix 1 and no token: 401
        "token-group": knob(3, auth=True) + group,
        "no-token": knob(1, auth=True) + group,
        "bad-origin": knob(auth=True) + hello(extra=["Origin: https://evil.example"]),
        # bob connected first
        "bob-single": knob(1, bob=True) + text(msg(messageType=0, to="bob", content="hi bob")),
        "bob-group": knob(3, bob=True) + group + group,
        "bob-stalls": knob(1, bob=True, tight=True, stall=True) + group * 6,
        # tight limits: the rate limit, pending output
        "rate-limit": knob(3, tight=True) + group * 5,
        "ping-flood": knob(3, tight=True) + frame(0x9, b"") * 5,
        # knob bit 7 without bob: the port speaks TLS (the first byte decides)
        "tls-client-hello": knob(stall=True) + client_hello(),
        "tls-hello-then-junk": knob(stall=True) + client_hello() + b"\x17\x03\x03\x00\x05hello",
        "tls-hello-cut": knob(stall=True, pieces=2) + client_hello()[:60],
        "tls-plain-get": knob(stall=True) + request("/index.html?a=1", ["Host: chat.example:8443"]),
        "tls-plain-head": knob(stall=True) + request("/", ["Host: [::1]:8443"], method="HEAD"),
        "tls-plain-upgrade": knob(stall=True) + hello(),
        "tls-plain-bad-host": knob(stall=True) + request("/", ["Host: a/b@c"]),
        "tls-prefix-upgrade": knob(1, stall=True) + group,
        # bugs the harness found (also in tests/unit/test_fuzzcases_conn.c)
        "bug-header-ends-read": knob(1, 1) + text("{}"),
        "bug-empty-first-fragment": knob(1) + text("", fin=False) + frame(0, b'{"messageType":1}'),
        "bug-101-dropped": knob(1, tight=True) + group,
        "bug-name-cut-mid-char": knob(1) + text(msg(messageType=0, to="a" + "é" * 40)),
    }
    return s


def crc32c(data):
    """CRC-32C (Castagnoli, reflected 0x82F63B78), a bit at a time."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def rec(kind, ident, name=None, message=None):
    """One journal record line (record.h): <crc> <kind> <payload>\n."""
    body = f"{kind} {ident}".encode()
    if name is not None:
        n = name.encode()
        body += b" %d:" % len(n) + n
    if message is not None:
        body += b" " + json.dumps(message, separators=(",", ":")).encode()
    return b"%08x " % crc32c(body) + body + b"\n"


def record_seeds():
    """knob bits 0-1 max_line (none, 64, 13, half), bit 2 seal, bit 3 encode."""
    group = {"messageType": 1, "from": "bob", "to": "", "content": "hello, everyone",
             "id": 1764000001500001}
    room = {"messageType": 1, "from": "bob", "to": "tea break", "content": "\u00e9\n\"x\"",
            "id": 1764000001600001}
    single = {"messageType": 0, "from": "bob", "to": "carol", "content": "anyone?",
              "id": 1764000002000001}
    journal = (rec("I", 1764000000000000) + rec("H", 1764000001500001, "", group) +
               rec("H", 1764000001600001, "tea break", room) +
               rec("K", 1764000002000001, "carol", single) +
               rec("F", 1764000002000001, "carol") + rec("K", 7, "a,b:c \u00e9", {}) +
               rec("I", 18446744073709551615))
    flipped = bytearray(journal)
    flipped[len(rec("I", 1764000000000000)) + 20] ^= 0x04
    long_line = rec("H", 1, "", {"content": "x" * 100})
    encode_kept = (bytes([8, 1]) + (1764000002000001).to_bytes(8, "big") + bytes([5]) +
                   b"carol" + b'{"messageType":0}')
    return {
        "journal": bytes([0]) + journal,
        "journal-sealed": bytes([4]) + journal,
        "torn": bytes([0]) + journal[:-7],
        "flipped": bytes([0]) + bytes(flipped),
        "unsealed-edit": bytes([4]) + journal.replace(b"carol", b"dave!"),
        "long-line-64": bytes([1]) + rec("I", 1) + long_line,
        "shortest-13": bytes([2]) + rec("I", 0) + rec("I", 10),
        "half": bytes([3]) + journal,
        "bad-fields": bytes([4]) + b"00000000 K 5 03:bob {}\n00000000 H 01 0: {}\n",
        "encode-kept": encode_kept,
        "encode-room": bytes([8, 0]) + bytes(8) + bytes([9]) + b"tea break" + b"{}",
        "encode-forget": bytes([8, 2]) + bytes(7) + bytes([3, 3]) + b"bob",
        # bugs the harness found (also in tests/unit/test_record.c)
        "bug-empty-name-at-end": bytes([4]) + b"00000000 F 1717001 0:",
    }


def main():
    for harness, seeds in [("http", http_seeds()), ("ws", ws_seeds()), ("utf8", utf8_seeds()),
                           ("json", json_seeds()), ("jwt", jwt_seeds()), ("conn", conn_seeds()),
                           ("record", record_seeds()), ("resp", resp_seeds())]:
        d = os.path.join(ROOT, harness)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
