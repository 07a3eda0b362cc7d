"""pygnmi against netloomd's gNMI server (plaintext, loopback): Capabilities, Set, Get with
wildcards, a refused Set, Subscribe ONCE / POLL / STREAM ON_CHANGE with a commit made over a
second connection, and a wrong password. Run by tests/tests/gnmi.rs; prints one line per
check and a final 'pygnmi: all checks passed'."""
import sys

from pygnmi.client import gNMIclient

host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
target = (host, port)


def check(ok, what, detail=""):
    if not ok:
        print(f"FAILED: {what}: {detail}")
        sys.exit(1)
    print(f"ok: {what}")


def client(pw=password):
    return gNMIclient(target=target, username="admin", password=pw, insecure=True)


def updates(notification):
    """Path -> value of every update in a subscription response."""
    found = {}
    for u in notification.get("update", {}).get("update", []):
        found[u["path"]] = u.get("val")
    return found


with client() as gc:
    caps = gc.capabilities()
    names = [m["name"] for m in caps["supported_models"]]
    check("netloom-host" in names and "json_ietf" in caps["supported_encodings"], "capabilities", caps)

    r = gc.set(
        update=[
            ("/netloom-host:networks/network[name=a]", {"type": "bridge", "mtu": 1400}),
            ("/netloom-host:networks/network[name=b]", {"type": "bridge", "mtu": 9000}),
        ],
        encoding="json_ietf",
    )
    check([x["op"] for x in r["response"]] == ["UPDATE", "UPDATE"], "set", r)

    g = gc.get(path=["/networks/network[name=*]/mtu"], encoding="json_ietf", datatype="config")
    got = {u["path"]: u["val"] for n in g["notification"] for u in n["update"]}
    check(got == {"networks/network[name=a]/mtu": 1400, "networks/network[name=b]/mtu": 9000}, "get wildcard", got)

    try:
        gc.set(update=[("/networks/network[name=a]/mtu", 1500),
                       ("/networks/network[name=d]", {"type": "no-such-type"})], encoding="json_ietf")
        check(False, "refused set raises")
    except Exception as e:  # pygnmi wraps the gRPC error and keeps only its message
        check("type" in repr(e), "refused set raises, naming the failing leaf", repr(e))
    g = gc.get(path=["/networks/network[name=a]/mtu"], encoding="json_ietf")
    check(g["notification"][0]["update"][0]["val"] == 1400, "refused set changed nothing", g)

    once = gc.subscribe2(subscribe={
        "subscription": [{"path": "/networks/network[name=*]/mtu", "mode": "on_change"}],
        "mode": "once", "encoding": "json_ietf"})
    seen = {}
    for resp in once:
        seen.update(updates(resp))
        if "sync_response" in resp:
            break
    once.close()
    check(len(seen) == 2, "subscribe once", seen)

    poll = gc.subscribe2(subscribe={
        "subscription": [{"path": "/networks/network[name=a]/mtu"}],
        "mode": "poll", "encoding": "json_ietf"})
    first = poll.get_update(timeout=10)
    check(list(updates(first).values()) == [1400], "subscribe poll", first)
    poll.close()

    stream = gc.subscribe2(subscribe={
        "subscription": [{"path": "/networks/network[name=*]", "mode": "on_change"}],
        "mode": "stream", "encoding": "json_ietf"})
    initial = stream.get_update(timeout=10)
    check(len(updates(initial)) == 2, "subscribe stream initial sync", initial)
    with client() as other:
        other.set(update=[("/networks/network[name=c]", {"type": "bridge"})], encoding="json_ietf")
    change = stream.get_update(timeout=10)
    check(any("network[name=c]" in p for p in updates(change)), "on_change from another client", change)
    stream.close()

try:
    with client("wrong") as bad:
        bad.capabilities()
    check(False, "wrong password refused")
except Exception as e:
    check("UNAUTHENTICATED" in repr(e) or "authentication failed" in repr(e), "wrong password refused", repr(e))

print("pygnmi: all checks passed")
