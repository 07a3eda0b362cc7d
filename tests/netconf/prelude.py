# Shared by the NETCONF end-to-end tests (tests/tests/netconf.rs): argv is host, port,
# admin password; each test appends its own script and asserts on the server's replies.
import socket
import sys
import time

import paramiko
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

HOST, PORT, PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3]
NL = "urn:netloom:yang:netloom-host"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = {"nl": NL, "nc": BASE}


def connect(user="admin", password=None):
    return manager.connect(
        host=HOST, port=PORT, username=user, password=password or PASSWORD,
        hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=30)


def config(inner, nc_ns=False):
    decl = ' xmlns:nc="%s"' % BASE if nc_ns else ""
    return '<config%s>%s</config>' % (decl, inner)


def network(name, mtu=None, kind="bridge", op=None, extra=""):
    attr = ' nc:operation="%s"' % op if op else ""
    mtu_xml = "<mtu>%d</mtu>" % mtu if mtu is not None else ""
    return ('<networks xmlns="%s" xmlns:nc="%s"><network%s><name>%s</name><type>%s</type>%s%s'
            '</network></networks>' % (NL, BASE, attr, name, kind, mtu_xml, extra))


def networks(m, source="running"):
    """{name: mtu or None} of the networks in a datastore."""
    data = m.get_config(source=source, filter=("subtree", '<networks xmlns="%s"/>' % NL)).data
    out = {}
    for n in data.findall(".//nl:network", NS):
        mtu = n.find("nl:mtu", NS)
        out[n.find("nl:name", NS).text] = int(mtu.text) if mtu is not None else None
    return out


def expect_error(fn, tag):
    try:
        fn()
    except RPCError as e:
        assert e.tag == tag, "expected %s, got %s: %s" % (tag, e.tag, e.message)
        return e
    raise AssertionError("expected an rpc-error %s" % tag)


def poll(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Raw:
    """A bare NETCONF channel over paramiko, for framings and input ncclient never sends."""

    def __init__(self, base11=True, hello=True):
        self.t = paramiko.Transport(socket.create_connection((HOST, PORT)))
        self.t.start_client()
        self.t.auth_password("admin", PASSWORD)
        self.ch = self.t.open_session()
        self.ch.invoke_subsystem("netconf")
        self.ch.settimeout(30)
        self.buf = b""
        self.server_hello = self.read_eom()
        self.chunked = base11
        if hello:
            caps = "urn:ietf:params:netconf:base:1.1" if base11 else "urn:ietf:params:netconf:base:1.0"
            self.ch.sendall(('<hello xmlns="%s"><capabilities><capability>%s</capability>'
                             '</capabilities></hello>]]>]]>' % (BASE, caps)).encode())

    def read_eom(self):
        while b"]]>]]>" not in self.buf:
            data = self.ch.recv(65536)
            if not data:
                raise EOFError("channel closed")
            self.buf += data
        msg, self.buf = self.buf.split(b"]]>]]>", 1)
        return msg

    def read_chunked(self):
        msg = b""
        while True:
            while b"\n" not in self.buf[2:] or len(self.buf) < 3:
                data = self.ch.recv(65536)
                if not data:
                    raise EOFError("channel closed")
                self.buf += data
            assert self.buf.startswith(b"\n#"), self.buf[:20]
            if self.buf.startswith(b"\n##\n"):
                self.buf = self.buf[4:]
                return msg
            head, rest = self.buf[2:].split(b"\n", 1)
            size = int(head)
            while len(rest) < size:
                rest += self.ch.recv(65536)
            msg += rest[:size]
            self.buf = rest[size:]

    def read(self):
        return etree.fromstring(self.read_chunked() if self.chunked else self.read_eom())

    def send_raw(self, data):
        self.ch.sendall(data)

    def send(self, body):
        data = body.encode()
        if self.chunked:
            self.ch.sendall(b"\n#%d\n%s\n##\n" % (len(data), data))
        else:
            self.ch.sendall(data + b"]]>]]>")

    def rpc(self, inner, mid="1"):
        self.send('<rpc xmlns="%s" message-id="%s">%s</rpc>' % (BASE, mid, inner))
        return self.read()

    def closed(self, seconds=30):
        """Whether the server closes the channel within the time (data before it is read)."""
        self.ch.settimeout(seconds)
        try:
            while self.ch.recv(65536):
                pass
            return True
        except socket.timeout:
            return False


def error_tag(reply):
    tag = reply.find(".//nc:rpc-error/nc:error-tag", NS)
    return tag.text if tag is not None else None
