# Shared by tests/tests/netconf_protocol.rs, after prelude.py: namespaces of the standard
# modules, raw RPCs through ncclient's dispatch, and netconf-console2 as a second client.
import os
import subprocess
import tempfile

import ncclient.transport.session

ncclient.transport.session.TICK = 0.005

NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"
MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
ORIGIN = "urn:ietf:params:xml:ns:yang:ietf-origin"
OR_ATTR = "{%s}origin" % ORIGIN
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NS.update({"mon": MON, "yl": YL, "ncn": NCN, "nmda": NMDA})


def rpc(m, xml):
    """Send one operation; the parsed <rpc-reply> (rpc-errors raise RPCError)."""
    reply = m.dispatch(etree.fromstring(xml))
    return etree.fromstring(reply.xml.encode())


def console(*args):
    venv = os.path.dirname(sys.executable)
    out = subprocess.run(
        [os.path.join(venv, "netconf-console2"), "--host", HOST, "--port", str(PORT),
         "-u", "admin", "-p", PASSWORD] + list(args),
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out.stdout
