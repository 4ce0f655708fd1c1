#!/bin/sh
# demo: the classic LVS-NAT setup (one virtual IP, wrr, two real servers) configured by our
# ipvsadm, narrated for a human watching the console.
. /lab/lib.sh
. /lab/forwarding/lib/common.sh

lab_banner "demo: one virtual service, two real servers, weighted round robin"
t0=$(lab_now)
fwd_cleanup
FWD_NAME=demo
say() {
	echo
	echo ">>> $*"
}

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

say "ipvsadm -Ln"
ip netns exec dir "$IPVSADM" -Ln

say "12 HTTP requests from the client to http://$FWD_VIP/ :"
FWD_VERBOSE=1 fwd_count 12 "$FWD_VIP" 80

say "Traffic split (weights 3:1): rs1=$FWD_HITS_rs1 rs2=$FWD_HITS_rs2 unanswered=$FWD_HITS_none"
fwd_expect "rs1 answered" 9 "$FWD_HITS_rs1"
fwd_expect "rs2 answered" 3 "$FWD_HITS_rs2"

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

fwd_cleanup
if [ "$FWD_FAILS" = 0 ]; then p=1 f=0; else p=0 f=1; fi
echo
echo "demo: $p passed, $f failed"
lab_result demo "$p" "$f" "$(lab_since "$t0")"
