"""Request streams for memcached_diff.py: the edge-case corpus (one stream
per area, each starting from an empty cache) and seeded random mixes.

A request is bytes (sent with the sentinel after it) or (bytes, False) to
send it without one (the server is expected to close or stay silent)."""
import random
import struct

FLUSH = b"flush_all"


def t(*lines):
    """Text requests: each a command line (CRLF added); a tuple is sent as is."""
    return [ln if isinstance(ln, tuple) else ln + b"\r\n" for ln in lines]


def b(op, key=b"", value=b"", extras=b"", cas=0, opaque=0, magic=0x80, datatype=0, vbucket=0, bodylen=None):
    if bodylen is None:
        bodylen = len(extras) + len(key) + len(value)
    return struct.pack(">BBHBBHIIQ", magic, op, len(key), len(extras), datatype, vbucket, bodylen, opaque,
                       cas) + extras + key + value


def bset(op, key, value, flags=0, exp=0, cas=0, opaque=0):
    return b(op, key, value, struct.pack(">II", flags, exp), cas, opaque)


def bdelta(op, key, by=1, initial=0, exp=0, cas=0, opaque=0):
    return b(op, key, b"", struct.pack(">QQI", by, initial, exp), cas, opaque)


BFLUSH = b(0x08)

STORAGE = t(
    FLUSH,
    b"set a 0 0 1", b"x",
    b"set a 5 0 3\r\nabc",
    b"get a",
    b"add a 0 0 1\r\ny",
    b"add b 1 0 1\r\ny",
    b"replace c 0 0 1\r\nz",
    b"replace b 2 0 2\r\nzz",
    b"append b 9 0 2\r\n++",
    b"prepend b 9 0 2\r\n--",
    b"append nokey 0 0 1\r\nq",
    b"prepend nokey 0 0 1\r\nq",
    b"get a b c",
    b"set f 4294967295 0 1\r\nf",
    b"set g 4294967296 0 1\r\ng",
    b"set h -1 0 1\r\nh",
    b"set h 0 0 1 noreply\r\nh",
    b"set h 0 0 1 garbage\r\nh",
    b"get f g h",
    b"set i 0 0 0\r\n",
    b"get i",
    b"set j 0 0 x\r\nj",
    b"set j 0 x 1\r\nj",
    b"set j x 0 1\r\nj",
    b"set k 0 0 -1",
    b"set k 0 0 -1 noreply",
    b"set k 0 0",
    b"set k 0 0 1 noreply extra",
    b"set k 0 0 2\r\nabc",
    b"set k 0 0 2 noreply\r\nabcd",
    b"get k",
    b"set k 0 0 2147483648",
    b"set " + b"k" * 250 + b" 0 0 1\r\nv",
    b"get " + b"k" * 250,
    b"set " + b"k" * 251 + b" 0 0 1\r\nv",
    b"set big2 0 0 1048577\r\n" + b"z" * 1048577,
    b"get big big2",
    b"set a 0 0 1 noreply\r\n1",
    b"get a",
    b"cas a 0 0 1\r\n2",
    b"cas a 0 0 1 x\r\n2",
    b"cas a 0 0 1 1 noreply\r\n3",
    b"cas zz 0 0 1 1\r\n3",
    b"cas a 0 0 1 -1\r\n3",
)

RETRIEVAL = t(
    FLUSH,
    b"set a 1 0 1\r\n1",
    b"set b 2 0 2\r\n22",
    b"get",
    b"gets",
    b"get a",
    b"gets a b nope",
    b"get a a a",
    b"get  a   b ",
    b"get a " + b"x" * 251 + b" b",
    b"get " + b"x" * 251,
    b"gets " + b"x" * 251,
    b"gat 100 a b nope",
    b"gats 100 a",
    b"gat",
    b"gat 100",
    b"gat x a",
    b"gat -1 b",
    b"get b",
    b"touch a 100",
    b"touch nope 100",
    b"touch a x",
    b"touch a 10 noreply",
    b"touch a",
    b"touch " + b"x" * 251 + b" 1",
    b"get " + b" ".join(b"key%d" % i for i in range(30)) + b" a",
    b"get " + b" ".join(b"key%d" % i for i in range(20000)) + b" a",
    b"gets " + b" ".join(b"key%d" % i for i in range(100000)) + b" b",
)

ARITH = t(
    FLUSH,
    b"set n 0 0 1\r\n5",
    b"incr n 1",
    b"incr n 18446744073709551610",
    b"incr n 1",
    b"decr n 100",
    b"decr n 1",
    b"incr n -1",
    b"incr n x",
    b"incr n 18446744073709551616",
    b"incr nope 1",
    b"decr nope 1",
    b"incr n 1 noreply",
    b"get n",
    b"set s 0 0 3\r\nabc",
    b"incr s 1",
    b"decr s 1",
    b"set w 0 0 3\r\n 12",
    b"incr w 1",
    b"set w 0 0 3\r\n12 ",
    b"incr w 1",
    b"set w 0 0 2\r\n99",
    b"incr w 1",
    b"get w",
    b"set w 0 0 3\r\n100",
    b"decr w 1",
    b"get w",
    b"set l 0 0 20\r\n18446744073709551615",
    b"incr l 1",
    b"set l 0 0 20\r\n18446744073709551616",
    b"incr l 1",
    b"incr",
    b"incr n",
    b"incr " + b"x" * 251 + b" 1",
)

DELETE = t(
    FLUSH,
    b"set a 0 0 1\r\na",
    b"delete a",
    b"delete a",
    b"set a 0 0 1\r\na",
    b"delete a 0",
    b"set a 0 0 1\r\na",
    b"delete a noreply",
    b"set a 0 0 1\r\na",
    b"delete a 0 noreply",
    b"get a",
    b"delete a 5",
    b"delete a 0 0",
    b"delete a x",
    b"delete a x noreply",
    b"delete a 0 noreply x",
    b"delete",
    b"delete " + b"x" * 251,
    b"delete " + b"x" * 251 + b" noreply",
)

MISC = t(
    FLUSH,
    b"set a 0 0 1\r\na",
    b"flush_all 0",
    b"get a",
    b"flush_all noreply",
    b"flush_all 0 noreply",
    b"flush_all x",
    b"flush_all -1",
    b"flush_all 0 2",
    b"flush_all 1 noreply x",
    b"verbosity 1",
    b"verbosity",
    b"verbosity x",
    b"verbosity 1 noreply",
    b"verbosity 1 2",
    b"verbosity 0",
    b"slabs automove invalid",
    b"slabs automove 3",
    b"slabs automove 0",
    b"slabs automove ratio 0.5",
    b"slabs automove ratio x",
    b"slabs automove ratio",
    b"slabs automove 1 noreply",
    b"slabs reassign 1 1",
    b"slabs reassign 1 2",
    b"slabs reassign -1 2",
    b"slabs reassign 1 99",
    b"slabs reassign x 2",
    b"slabs",
    b"slabs reassign 1",
    b"slabs automove 1",
    b"set k 0 0 2147483646",
    b"cache_memlimit 7",
    b"cache_memlimit 2000000000",
    b"cache_memlimit x",
    b"cache_memlimit",
    b"cache_memlimit 64 noreply",
    b"cache_memlimit 64",
    b"cache_memlimit 64 1",
    b"stats cachedump",
    b"stats cachedump 1",
    b"stats cachedump x 1",
    b"stats cachedump 1 -1",
    b"stats cachedump 64 1",
    b"stats cachedump 63 0",
    b"lru_crawler",
    b"lru_crawler bogus",
    b"lru_crawler sleep 2000000",
    b"lru_crawler sleep x",
    b"lru_crawler sleep 100",
    b"lru_crawler tocrawl x",
    b"lru_crawler tocrawl 0",
    b"lru_crawler metadump 0",
    b"lru_crawler metadump 64",
    b"lru_crawler crawl x",
    b"lru_crawler crawl 1,99",
    b"lru_crawler metadump 1 2",
    b"set k 0 0 4294967295",
    b"version",
    b"",
    b"   ",
    b"bogus",
    b"GET",
    b"get\x00 a",
    b"set a\x00b 0 0 1\r\nz",
    b"stats nope",
    b"stats detail",
    b"set a 0 0 1\r\na",
    b"stats detail on",
    b"stats detail dump",
    b"set pre:1 0 0 1\r\nx",
    b"get pre:1 pre:2 nodelim",
    b"gets pre:1",
    b"delete pre:3",
    b"incr pre:1 1",
    b"stats detail dump",
    b"stats detail off",
    b"get pre:1",
    b"stats detail dump",
    b"stats detail bogus",
    b"stats sizes",
    b"stats reset",
    b"stats settings",
    b"stats items",
    b"stats slabs",
    b"stats",
    b"shutdown",
    b"shutdown graceful",
    b"shutdown now",
    b"a " * 30,
    b"set " + b"a " * 30,
    b"mn",
    b"mn extra",
    b"quit",
)

NOT_TERMINATED = [
    FLUSH + b"\r\n",
    b"set a 0 0 1\r\nabc\r\n",
    b"get a\r\n",
    b"set a 0 0 3\r\nab\n\r\n",
    b"get a\r\n",
    b"get a\n",
    b"set b 0 0 1\nb\r\n",
    b"get b\r\n",
]

# Too large for the cache: the data block (and everything after it in the
# stream) is swallowed, so these end their streams.
SWALLOW_SET = t(FLUSH, b"set a 0 0 1", b"a", b"set a 0 0 2000000\r\n" + b"z" * 2000000, b"get a",
                b"set a 0 0 2000000 noreply\r\n" + b"z" * 2000000, b"get a")
SWALLOW_MS = t(FLUSH, b"ms a 2000000 T0\r\n" + b"z" * 2000000, b"mg a v", b"ms a 2000000 q\r\n" + b"z" * 2000000,
               b"ms a 2000000 MZ\r\n" + b"z" * 2000000)

# A non-get line over 2048 bytes without its line end closes the connection.
# (With its line end, memcached's answer depends on how much of it one read
# returns, so that case is not compared.)
LONG_LINES = [
    (b"x" * 4000, False),
]

HTTP = [(b"GET / HTTP/1.0\r\n\r\n", False)]
HTTP_PUT = [(b"PUT /x HTTP/1.1\r\n\r\n", False)]
HTTP_LATE = t(b"version") + [(b"GET / HTTP/1.0\r\n\r\n", False)]

META = t(
    FLUSH,
    b"ms a 1",
    b"1",
    b"ms a 2 T0 F5 c k O123\r\nzz",
    b"mg a",
    b"mg a v",
    b"mg a v f s k O9 c q",
    b"mg nope v",
    b"mg nope v q",
    b"mg nope k O1",
    b"mg a x",
    b"mg a v v",
    b"mg a O" + b"x" * 33,
    b"mg a h",
    b"mg a h",
    b"mg a t",
    b"mg a T100 t",
    b"mg a t",
    b"mg a u h",
    b"mg " + b"k" * 251 + b" v",
    b"mg",
    b"ms b 2 MA\r\nxx",
    b"ms a 2 MA\r\nxx",
    b"ms a 2 MP\r\nyy",
    b"mg a v",
    b"ms a 1 ME\r\nq",
    b"ms new 1 ME\r\nq",
    b"ms new 1 MR\r\nr",
    b"ms none 1 MR\r\nr",
    b"ms a 1 MZ\r\nq",
    b"ms a 1 Mxx\r\nq",
    b"ms a 1 Z\r\nq",
    b"ms a 1 T1 T2\r\nq",
    b"ms a x\r\nq",
    b"ms a -1\r\nq",
    b"ms a",
    b"ms a 1 q\r\nq",
    b"ms a 1 Fx\r\nq",
    b"ms a 1 Tx\r\nq",
    b"ms a 1 C1\r\nq",
    b"ms a 1 Cx\r\nq",
    b"ms a 1 I\r\nq",
    b"ms a 3\r\nabcd",
    b"ms " + b"k" * 251 + b" 1\r\nq",
    b"mg a c",
    b"md a C1",
    b"md a q",
    b"md a",
    b"md a k O5",
    b"md a x",
    b"md a q q",
    b"md",
    b"ms a 1\r\n1",
    b"md a I T30",
    b"mg a v c",
    b"mg a v c",
    b"ms a 1\r\n2",
    b"mg a v",
    b"ma n",
    b"ma n N0 J10",
    b"ma n",
    b"ma n v",
    b"ma n MD D3 v",
    b"ma n MI D100 v t c",
    b"ma n M+ v",
    b"ma n M- D1000 v",
    b"ma n Mx",
    b"ma n D-1",
    b"ma n q",
    b"ma n q v",
    b"ma nope q",
    b"ma a",
    b"ma n C1",
    b"ma n k O7",
    b"ma",
    b"mn",
    b"me a",
    b"me nope",
    b"me",
    b"me " + b"k" * 251,
)

META_MORE = t(
    FLUSH,
    b"ms a 1 E999\r\n1",
    b"mg a c",
    b"mg a E5 c",
    b"ms a 1 S1\r\n1",
    b"ms a 1 k b\r\n1",
    b"ms a 1 O" + b"o" * 32 + b"\r\n1",
    b"ms a 1 O" + b"o" * 33 + b"\r\n1",
    b"mg a s v t f O" + b"o" * 32,
    b"mg a T-1 v",
    b"mg a v",
    b"ms a 1 T-1\r\n1",
    b"mg a v",
    b"ms a 1 I\r\n1",
    b"mg a v",
    b"md a q k",
    b"md a q",
    b"md a T5",
    b"mg a t v",
    b"ms b 1 T0\r\nb",
    b"md b I T0",
    b"mg b v",
    b"mg b v",
    b"ma c N0 J18446744073709551615 v",
    b"ma c v",
    b"ma c MD D18446744073709551615 v",
    b"ma c MI D18446744073709551615 v",
    b"ma c J5 N0 T0 v t",
    b"ma c D abc",
    b"ma c Dabc",
    b"ma c N",
    b"ma c Nx",
    b"mg c Tx",
    b"mg c Nx",
    b"mg c Rx",
    b"mg c N0 R0 T0 v",
    b"mg k" + b" v" * 30,
    b"mg k v k f s t c h l O1 q b",
    b"ms kk 1 c k O1 q b\r\nz",
    b"mn",
    b"ms  a 1\r\n1",
    b"mg  a  v ",
    b"ms a 1 F-1\r\n1",
    b"ms a 1 F4294967296\r\n1",
    b"mg a f v",
    b"ms a 01\r\n1",
    b"ms a +1\r\n1",
    b"mg a v",
    b"ma a MI",
    b"md a C0",
    b"md a Cx",
    b"mg a C0",
    b"mg \x00a v",
    b"md k" + b" q" * 30,
    b"ma k" + b" q" * 30,
    b"me k" + b" q" * 30,
    b"set a 0 0 1\r\n1",
    b"cas a 0 0 1 0\r\n2",
    b"ms a 1 C0\r\n2",
    b"ma a C0",
    b"mg a D1 F1 I J1 L1 M1 P1 v",
    b"md a c f h l s t u v D1 F1 J1 L1 M1 P1 R1 N1",
    b"ms a 1 f h l s t u v D1 J1 L1 N1 P1 R1\r\n1",
    b"ma a f h l s u F1 I L1 P1 R1",
    b"mg a E1",
    b"mg a x",
    b"md a x",
    b"ma a x",
    b"ms k 1" + b" q" * 30 + b"\r\n1",
    b"mn",
)

CLASSIC_MORE = t(
    FLUSH,
    b"set a 0 0 1 noreply\r\n1",
    b"set a 0 0 1 NOREPLY\r\n1",
    b"set a 00 00 01\r\n1",
    b"set a +1 +1 +1\r\n1",
    b"set a 0 -1 1\r\n1",
    b"get a",
    b"set a 0 2147483647 1\r\n1",
    b"set a 0 2147483648 1\r\n1",
    b"set a 0 0 1 \r\n1",
    b"set  a  0  0  1\r\n1",
    b"set\ta 0 0 1\r\n1",
    b"get\ta",
    b"gets a\tb",
    b"touch a -1",
    b"get a",
    b"set a 0 0 2\r\n10",
    b"incr a 0",
    b"incr a 00001",
    b"incr a +1",
    b"incr a 1x",
    b"incr a 1 2",
    b"decr a 1 noreply x",
    b"touch a 0 0",
    b"gat 0",
    b"gat 0 a a",
    b"gats 0 a",
    b"gat 4294967296 a",
    b"gat 2147483648 a",
    b"touch a 2147483648",
    b"flush_all 2147483648",
    b"flush_all 0",
    b"verbosity 4294967296",
    b"verbosity -1",
    b"verbosity 0",
    b"version x",
    b"set live 0 0 1\r\n1",  # a class in use whatever the flush left (memcached reclaims lazily)
    b"stats items x",
    b"stats settings x y",
    b"stats reset x",
    b"stats detail on x",
    b"cas a 0 0 1 1 noreply x\r\n1",
    b"add a 0 0 1 noreply\r\n1",
    b"replace nope 0 0 1 noreply\r\n1",
    b"append nope 0 0 1 noreply\r\n1",
    b"mn",
    b"prepend a 5 5 1\r\nx",
    b"append a 5 5 1\r\ny",
    b"get a",
    b"set a 0 0 3\r\na\rb",
    b"get a",
    b"set a 0 0 1\r\nab",
    b"set a 0 0 1\r\n\r\n",
    b"set a 0 0 0\r\nx",
    b"get a",
    b"\r",
    b"\n",
    b"get a\r\r",
    b"GETS a",
    b"Set a 0 0 1\r\n1",
    b"stats detail x y z",
    b"stats x y z",
    b"add a b c noreply",
    b"incr a noreply",
    b"touch a noreply",
    b"cas a 0 0 noreply",
    b"quit x",
    b"get a",
)

META_BASE64 = t(
    FLUSH,
    b"ms Zm9v 3 b\r\nbar",
    b"mg foo v",
    b"mg Zm9v b v k",
    b"mg Zm9v= b v",
    b"mg !!!! b v",
    b"md Zm9v b q",
    b"mg foo v",
    b"ms Zm9v 3 b\r\nbar",
    b"me Zm9v b",
    b"ma Zm9v b v k",
    b"ms AAEC 1 b\r\nx",
    b"mg AAEC b v k",
)

META_RECACHE = t(
    FLUSH,
    b"mg v1 N30 v c",
    b"mg v1 N30 v c",
    b"mg v1 v c",
    b"ms v1 3 T100\r\nnew",
    b"mg v1 v c",
    b"mg v1 R200 v",
    b"mg v1 R200 v",
    b"mg v1 R50 v",
    b"ms r 1 T100\r\nr",
    b"mg r R30 v",
    b"mg r R300 v",
    b"mg r R300 v",
    b"mg r v",
    b"ms r 1 T100\r\nr",
    b"mg r v",
    b"ms s 1\r\ns",
    b"md s I",
    b"mg s v c",
    b"mg s v c",
    b"mg s v",
    b"ms s 1 I\r\nt",
    b"mg s v",
    b"md s I T30",
    b"ms s 1 I C99999999999\r\nu",
    b"mg s v",
    b"ms s 1 I C1\r\nu",
    b"mg s v",
    b"md s I q",
    b"mg s",
    b"mg s h l t",
)

BINARY = [
    BFLUSH,
    bset(0x01, b"a", b"hello", flags=7, opaque=1),
    b(0x00, b"a", opaque=2),
    b(0x0C, b"a", opaque=3),
    b(0x00, b"nope", opaque=4),
    b(0x09, b"nope", opaque=5),
    b(0x0D, b"nope", opaque=6),
    b(0x09, b"a", opaque=5),
    b(0x0D, b"a", opaque=6),
    bset(0x02, b"a", b"x", opaque=7),
    bset(0x02, b"b", b"x", opaque=8),
    bset(0x03, b"c", b"x", opaque=9),
    bset(0x03, b"b", b"yy", opaque=10),
    b(0x0E, b"b", b"++", opaque=11),
    b(0x0F, b"b", b"--", opaque=12),
    b(0x0E, b"zz", b"++", opaque=13),
    b(0x00, b"b"),
    bset(0x01, b"a", b"cas", cas=1),
    bset(0x01, b"a", b"q", opaque=14),
    bset(0x11, b"a", b"quiet", opaque=15),
    bset(0x12, b"a", b"quiet", opaque=16),
    bset(0x13, b"nokey", b"quiet", opaque=17),
    b(0x0C, b"a"),
    b(0x04, b"a", opaque=18),
    b(0x04, b"a", opaque=19),
    b(0x14, b"a", opaque=20),
    b(0x14, b"b", opaque=21),
    bdelta(0x05, b"n", 1, 10),
    bdelta(0x05, b"n", 5, 10),
    bdelta(0x06, b"n", 100, 10),
    bdelta(0x05, b"nn", 1, 10, exp=0xFFFFFFFF),
    bdelta(0x15, b"n", 1, 10),
    bdelta(0x16, b"n", 1, 10),
    bset(0x01, b"s", b"text"),
    bdelta(0x05, b"s", 1, 0),
    bset(0x01, b"m", b"18446744073709551615"),
    bdelta(0x05, b"m", 1, 0),
    b(0x00, b"m"),
    b(0x1C, b"n", extras=struct.pack(">I", 100)),
    b(0x1C, b"nope", extras=struct.pack(">I", 100)),
    b(0x1D, b"n", extras=struct.pack(">I", 100)),
    b(0x1E, b"nope", extras=struct.pack(">I", 100)),
    b(0x23, b"n", extras=struct.pack(">I", 100)),
    b(0x24, b"n", extras=struct.pack(">I", 100)),
    b(0x0B),
    b(0x0A, opaque=99),
    b(0x1B, extras=struct.pack(">I", 1)),
    b(0x1B),
    b(0x08, extras=struct.pack(">I", 0)),
    b(0x18),
    b(0x00, b"n"),
    b(0x55),
    b(0x00),
    b(0x01, b"k", b"v"),
    b(0x04, b"a", b"value"),
    b(0x0A, b"key"),
    bset(0x01, b"k" * 251, b"v"),
    b(0x00, b"k" * 251),
    bset(0x01, b"big", b"z" * 1048577),
    b(0x10, b"nope"),
    b(0x10, b"settings"),
    b(0x10, b"items"),
    b(0x10, b"slabs"),
    b(0x10, b"sizes"),
    b(0x10, b"detail"),
    b(0x10),
    b(0x10, b"reset"),
    b(0x07),
]

BINARY_MORE = [
    BFLUSH,
    bset(0x01, b"a", b"v", flags=0xFFFFFFFF, exp=0),
    b(0x00, b"a"),
    bset(0x01, b"a", b"v", exp=0xFFFFFFFF),
    b(0x00, b"a"),
    bset(0x01, b"e", b""),
    b(0x0C, b"e"),
    bdelta(0x05, b"e", 1, 0),
    bset(0x01, b"n", b"5"),
    bdelta(0x05, b"n", 1, 0, cas=1),
    bdelta(0x06, b"n", 10, 0),
    b(0x00, b"n"),
    b(0x0E, b"n", b"x", cas=1),
    b(0x04, b"n", cas=1),
    b(0x03, b"n", b"v", extras=struct.pack(">II", 0, 0), cas=1),
    b(0x02, b"n", b"v", extras=struct.pack(">II", 0, 0), cas=1),
    b(0x1C, b"n", extras=struct.pack(">I", 0xFFFFFFFF)),
    b(0x00, b"n"),
    b(0x00, b"a", datatype=1),
    b(0x00, b"a", vbucket=7),
    b(0x00, b"a" * 250),
    b(0x10, b"items"),
    b(0x10, b"bogus"),
    b(0x08, extras=struct.pack(">I", 0)),
    b(0x18, extras=struct.pack(">I", 0)),
    b(0x0A, opaque=0xFFFFFFFF),
    b(0x0B, opaque=7),
    b(0x1F, value=b"xyz"),
    b(0x20),
    b(0x21),
    b(0x22),
    b(0x25),
    b(0x30),
    b(0x3D),
    b(0xFF),
    b(0x00, b"a", bodylen=0),
]
BINARY_MALFORMED = [BFLUSH, (b(0x01, b"k", b"v"), False)]
BINARY_MALFORMED2 = [BFLUSH, (b(0x00, b"k", extras=b"abcd"), False)]
BINARY_MALFORMED3 = [BFLUSH, (b(0x0A, b"k"), False)]
BINARY_QUITQ = [BFLUSH, (b(0x17), False)]
BINARY_BAD_MAGIC = [BFLUSH, (b(0x00, b"a", magic=0x81), False)]
BINARY_BAD_MAGIC2 = [BFLUSH, (b(0x00, b"a", magic=0x42), False)]


def streams(group):
    if group == "default":
        return [
            ("storage", False, STORAGE),
            ("retrieval", False, RETRIEVAL),
            ("arith", False, ARITH),
            ("delete", False, DELETE),
            ("misc", False, MISC),
            ("not_terminated", False, NOT_TERMINATED),
            ("long_lines", False, LONG_LINES),
            ("swallow_set", False, SWALLOW_SET),
            ("swallow_ms", False, SWALLOW_MS),
            ("http_get", False, HTTP),
            ("http_put", False, HTTP_PUT),
            ("http_late", False, HTTP_LATE),
            ("meta", False, META),
            ("meta_base64", False, META_BASE64),
            ("classic_more", False, CLASSIC_MORE),
            ("meta_more", False, META_MORE),
            ("meta_recache", False, META_RECACHE),
            ("binary", True, BINARY),
            ("binary_more", True, BINARY_MORE),
            ("binary_malformed", True, BINARY_MALFORMED),
            ("binary_malformed2", True, BINARY_MALFORMED2),
            ("binary_malformed3", True, BINARY_MALFORMED3),
            ("binary_quitq", True, BINARY_QUITQ),
            ("binary_bad_magic", True, BINARY_BAD_MAGIC),
            ("binary_bad_magic2", True, BINARY_BAD_MAGIC2),
        ]
    if group == "shutdown":  # both servers started with -A; the last stream stops them
        return [("shutdown_bad", False, t(b"shutdown now", b"shutdown graceful x", b"stats settings")),
                ("shutdown", False, [(b"shutdown\r\n", False)])]
    if group == "shutdown_graceful":
        return [("shutdown_graceful", False, [(b"shutdown graceful\r\n", False)])]
    if group == "no_flush":  # -F
        return [("no_flush", False, t(b"set a 0 0 1\r\na", b"flush_all", b"flush_all 0", b"flush_all noreply",
                                      b"get a", b"stats settings")),
                ("no_flush_binary", True, [b(0x08), b(0x18), b(0x00, b"a")])]
    if group == "no_cas":  # -C
        return [("no_cas", False, t(b"set a 0 0 1\r\na", b"gets a", b"cas a 0 0 1 0\r\nb", b"cas a 0 0 1 1\r\nb",
                                    b"gets a", b"mg a c v", b"ms a 1 c\r\nx", b"ms a 1 C0\r\nx", b"me a",
                                    b"stats settings")),
                ("no_cas_binary", True, [bset(0x01, b"a", b"v"), b(0x00, b"a"), bset(0x01, b"a", b"w", cas=5)])]
    raise SystemExit("unknown group " + group)


# Every command may hit every key: counters are appended to and invalidated,
# data keys incremented (memcached's in-place counter rewrite, its space
# padding and the marks an item keeps through it are all compared).
DATA_KEYS = [b"k%d" % i for i in range(4)]
COUNTERS = [b"n%d" % i for i in range(3)]
KEYS = DATA_KEYS + COUNTERS
# Stands for the last cas value the server itself handed out in this stream
# (memcached_diff.py substitutes it per server), so cas compares can match.
# Only equality is exercised: ix-memcached's cas values rise per lock stripe,
# not across keys, so an ms I compare (lower cas: store as stale) against
# another key's cas may rightly go either way.
CAS = b"{CAS}"
CAS_BIN = 0xCA5CA5CA5CA5CA5C


def random_text(rng, n):
    reqs = [FLUSH + b"\r\n"]
    for _ in range(n):
        k = rng.choice(KEYS)
        data_key = rng.choice(KEYS)
        counter = rng.choice(KEYS)
        v = rng.choice([b"1", b"42", b"abc", b"", b"x" * rng.randint(1, 300), b"%d" % rng.randint(0, 1 << 64)])
        nr = b" noreply" if rng.random() < 0.1 else b""
        op = rng.randrange(16)
        if op == 15 and rng.random() < 0.2:
            reqs.append(b"flush_all%s\r\n" % nr)
        elif op == 0:
            reqs.append(b"set %s %d 0 %d%s\r\n%s\r\n" % (k, rng.randint(0, 9), len(v), nr, v))
        elif op == 1:
            reqs.append(b"%s %s 0 0 %d%s\r\n%s\r\n" % (rng.choice([b"add", b"replace", b"append", b"prepend"]),
                                                       data_key, len(v), nr, v))
        elif op == 2:
            reqs.append(b"get %s\r\n" % b" ".join(rng.sample(KEYS, rng.randint(1, 4))))
        elif op == 3:
            reqs.append(b"gets %s\r\n" % b" ".join(rng.sample(KEYS, rng.randint(1, 3))))
        elif op == 4:
            reqs.append(b"cas %s 0 0 %d %s%s\r\n%s\r\n" % (k, len(v), CAS, nr, v))
        elif op == 5:
            reqs.append(b"%s %s %d%s\r\n" % (rng.choice([b"incr", b"decr"]), counter, rng.randint(0, 1000), nr))
        elif op == 6:
            reqs.append(b"delete %s%s\r\n" % (k, nr))
        elif op == 7:
            reqs.append(b"touch %s 1000%s\r\n" % (k, nr))
        elif op == 8:
            reqs.append(b"mg %s %s\r\n" % (k, b" ".join(rng.sample([b"v", b"f", b"s", b"k", b"c", b"q", b"O1", b"h"],
                                                                     rng.randint(0, 4)))))
        elif op == 9:
            mode = rng.choice([b"", b"MA", b"MP", b"ME", b"MR", b"c", b"q", b"I", b"F3 T0", b"C" + CAS])
            reqs.append(b"ms %s %d %s\r\n%s\r\n" % (data_key if mode in (b"MA", b"MP", b"I") else k, len(v), mode, v))
        elif op == 10:
            flags = rng.choice([b"", b"q", b"I", b"k", b"C" + CAS])
            reqs.append(b"md %s %s\r\n" % (data_key if flags == b"I" else k, flags))
        elif op == 11:
            reqs.append(b"ma %s %s\r\n" % (counter, rng.choice([b"", b"v", b"N0 J5 v", b"MD v", b"q", b"D7 v c",
                                                                b"C" + CAS + b" v"])))
        elif op == 12:
            reqs.append(b"gat 1000 %s\r\n" % b" ".join(rng.sample(KEYS, rng.randint(1, 3))))
        elif op == 13:
            reqs.append(b"mg %s N30 v c\r\n" % k)
        else:
            reqs.append(b"mg %s c\r\n" % k)
    return reqs


def random_binary(rng, n):
    reqs = [BFLUSH]
    for i in range(n):
        k = rng.choice(KEYS)
        data_key = rng.choice(KEYS)
        counter = rng.choice(KEYS)
        v = rng.choice([b"1", b"42", b"abc", b"", b"y" * rng.randint(1, 300)])
        op = rng.randrange(10)
        if op == 0:
            reqs.append(bset(rng.choice([0x01, 0x02, 0x03, 0x11, 0x12, 0x13]), k, v, rng.randint(0, 9), opaque=i))
        elif op == 1:
            reqs.append(b(rng.choice([0x00, 0x09, 0x0C, 0x0D]), k, opaque=i))
        elif op == 2:
            reqs.append(bset(rng.choice([0x01, 0x03]), k, v, cas=CAS_BIN, opaque=i))
        elif op == 3:
            reqs.append(bdelta(rng.choice([0x05, 0x06, 0x15, 0x16]), counter, rng.randint(0, 100), 7,
                               exp=rng.choice([0, 0xFFFFFFFF]), opaque=i))
        elif op == 4:
            reqs.append(b(rng.choice([0x04, 0x14]), k, opaque=i))
        elif op == 5:
            reqs.append(b(rng.choice([0x0E, 0x0F, 0x19, 0x1A]), data_key, v, opaque=i))
        elif op == 6:
            reqs.append(b(rng.choice([0x1C, 0x1D, 0x1E, 0x23, 0x24]), k, extras=struct.pack(">I", 1000), opaque=i))
        elif op == 7:
            reqs.append(b(0x04, k, cas=CAS_BIN, opaque=i))
        else:
            reqs.append(b(0x00, k, opaque=i))
    return reqs


COMMAND_WORDS = [b"get", b"gets", b"gat", b"gats", b"set", b"add", b"replace", b"append", b"prepend", b"cas",
                 b"incr", b"decr", b"delete", b"touch", b"flush_all", b"verbosity", b"version", b"stats", b"mg",
                 b"ms", b"md", b"ma", b"mn", b"me", b"bogus"]
WORDS = [b"k0", b"k1", b"n0", b"0", b"1", b"2", b"-1", b"x", b"18446744073709551616", b"4294967296", b"noreply",
         b"q", b"v", b"k", b"c", b"t", b"f", b"s", b"h", b"b", b"I", b"T1", b"N1", b"R5", b"O1", b"MA", b"ME", b"MI",
         b"C1", b"D2", b"J3", b"F7", b"Zz==", b"settings", b"detail", b"on"]  # not items: memcached empties it lazily


def random_lines(rng, n):
    """Command lines of random words: argument counts, orders and values a
    client should not send. Numbers stay small, so a data block one of them
    announces is met by the next lines and no stream stalls."""
    reqs = [FLUSH + b"\r\n"]
    for _ in range(n):
        words = [rng.choice(COMMAND_WORDS)] + [rng.choice(WORDS) for _ in range(rng.randint(0, 6))]
        line = b" ".join(words) + b"\r\n"
        if rng.random() < 0.3:
            line += rng.choice([b"1", b"ab", b"", b"xyz"]) + b"\r\n"
        reqs.append(line)
    return reqs


def random_streams(seed):
    rng = random.Random(seed)
    return [("random_text", False, random_text(rng, 400)), ("random_binary", True, random_binary(rng, 400)),
            ("random_lines", False, random_lines(rng, 300))]
