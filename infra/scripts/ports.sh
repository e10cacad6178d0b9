# Sourced by the scripts that start servers on loopback ports.
#
# free_ports N prints N distinct free loopback TCP ports, one a line. They
# are drawn at random from below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 by default): a port from
# inside it, as bind(port 0) hands out, can be taken as the source port of
# any outgoing connection between the pick and the server's bind, which is
# how `make invoke-*` once found the emulator's port "already in use". Each
# port is checked by binding it, and all N are held until all are picked,
# so none is handed out twice; they are released before they are printed
# (a port still held by this picker was what an early version of
# `make invoke-*` found "already in use"). The well-known local ports (moto 5050, API
# 8000, simulator 8929) are never picked.
free_ports() {
  python3 - "${1:-1}" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
avoid = {5050, 8000, 8929}
held, ports = [], []
for _ in range(10000):
    if len(ports) == n:
        break
    p = random.randrange(10000, low)
    if p in avoid or p in ports:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(p)
for s in held:  # closed before they are printed: the caller binds them next
    s.close()
if len(ports) < n:
    sys.exit("no free loopback port found below %d" % low)
print("\n".join(map(str, ports)))
PY
}
