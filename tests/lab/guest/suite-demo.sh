#!/bin/sh
# demo: the classic LVS setup (one virtual IP, wrr 3:1, two real servers) configured by our
# ipvsadm in each forwarding method: NAT, direct routing and IP-in-IP tunnelling, narrated
# for a human watching the console. Each part counts as one test (the split must be 9/3).
. /lab/lib.sh
. /lab/forwarding/lib/common.sh

t0=$(lab_now)
FWD_NAME=demo
passed=0
failed=0
say() {
	echo
	echo ">>> $*"
}
# Ends a part: counts it, removes its namespaces and IPVS rules.
part_done() {
	if [ "$FWD_FAILS" = 0 ]; then
		passed=$((passed + 1))
		echo "demo $1: PASS"
	else
		failed=$((failed + 1))
		echo "demo $1: FAIL"
	fi
	FWD_FAILS=0
	fwd_cleanup
	mkdir -p "$FWD_TMP"
}
# The shared middle of every part: rules, 12 requests, the split, the counters.
show_traffic() { # VIP
	say "ipvsadm -Ln"
	ip netns exec dir "$IPVSADM" -Ln
	say "12 HTTP requests from the client to http://$1/ :"
	FWD_VERBOSE=1 fwd_count 12 "$1" 80
	say "Traffic split (weights 3:1): rs1=$FWD_HITS_rs1 rs2=$FWD_HITS_rs2 unanswered=$FWD_HITS_none"
	fwd_expect "rs1 answered" 9 "$FWD_HITS_rs1"
	fwd_expect "rs2 answered" 3 "$FWD_HITS_rs2"
}

# ---------------------------------------------------------------- NAT
lab_banner "demo 1/3: LVS-NAT, one virtual service, two real servers, weighted round robin"
lab_reset_state
fwd_cleanup
mkdir -p "$FWD_TMP"
say "Network namespaces: client 'cl' (198.51.100.10), director 'dir' (VIP $FWD_VIP),"
echo "    real servers 'rs1' (192.0.2.11) and 'rs2' (192.0.2.12), each running busybox httpd"
echo "    that answers with its own name. Real servers route back through the director (NAT)."
fwd_topo_nat
fwd_httpd rs1 80
fwd_httpd rs2 80

say "Configure IPVS in the director with our ipvsadm ($IPVSADM):"
fwd_ipvsadm -A -t "$FWD_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m -w 3
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 1
show_traffic "$FWD_VIP"

say "ipvsadm -Ln --stats (the kernel refreshes these counters every 2 s, so wait a moment)"
sleep 2
ip netns exec dir "$IPVSADM" -Ln --stats

say "Change rs2's weight to 3 (ipvsadm -e) and send 12 more requests:"
fwd_ipvsadm -e -t "$FWD_VIP:80" -r 192.0.2.12:80 -m -w 3
fwd_count 12 "$FWD_VIP" 80
echo "answers:$FWD_SEQ"
say "Traffic split (weights 3:3): rs1=$FWD_HITS_rs1 rs2=$FWD_HITS_rs2 unanswered=$FWD_HITS_none"
fwd_expect "rs1 answered" 6 "$FWD_HITS_rs1"
fwd_expect "rs2 answered" 6 "$FWD_HITS_rs2"

say "ipvsadm -Lnc (connection table, first lines)"
ip netns exec dir "$IPVSADM" -Lnc | head -n 8
part_done NAT

# ---------------------------------------------------------------- DR
lab_banner "demo 2/3: LVS-DR (direct routing), same service, replies bypass the director"
lab_reset_state
say "One LAN: client 192.0.2.10, director 192.0.2.1 with the VIP $FWD_LAN_VIP, real"
echo "    servers 192.0.2.11 and .12. Each real server also has the VIP (on lo) but must not"
echo "    answer ARP for it; the director only rewrites the MAC address, the real server"
echo "    answers the client directly from the VIP."
fwd_topo_lan
for rs in rs1 rs2; do
	FWD_VERBOSE=1 fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev lo
	FWD_VERBOSE=1 fwd_run ip netns exec "$rs" sysctl -w net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2
	fwd_httpd "$rs" 80
done
say "Configure IPVS in the director with our ipvsadm (-g: gatewaying, i.e. direct routing):"
fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11:80 -g -w 3
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12:80 -g -w 1
show_traffic "$FWD_LAN_VIP"
part_done DR

# ---------------------------------------------------------------- TUN
lab_banner "demo 3/3: LVS-TUN (IP-in-IP), same service, the director encapsulates"
lab_reset_state
say "Same LAN. The director wraps each packet in a new IPv4 header addressed to the real"
echo "    server, which unwraps it on tunl0 (where the VIP is) and answers the client"
echo "    directly. Reverse-path filtering must be off on the real servers."
modprobe ipip
fwd_topo_lan
for rs in rs1 rs2; do
	FWD_VERBOSE=1 fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev tunl0
	FWD_VERBOSE=1 fwd_run ip -n "$rs" link set tunl0 up
	for c in all default tunl0 eth0; do
		fwd_run ip netns exec "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
	done
	fwd_httpd "$rs" 80
done
say "Configure IPVS in the director with our ipvsadm (-i: ipip tunnelling):"
fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s wrr
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.11:80 -i -w 3
fwd_ipvsadm -a -t "$FWD_LAN_VIP:80" -r 192.0.2.12:80 -i -w 1
show_traffic "$FWD_LAN_VIP"
say "ipvsadm -Ln --tun-info"
ip netns exec dir "$IPVSADM" -Ln --tun-info
part_done TUN

lab_reset_state
echo
echo "demo: $passed passed, $failed failed"
lab_result demo "$passed" "$failed" "$(lab_since "$t0")"
