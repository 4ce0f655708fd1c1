#!/bin/sh
# LVS-TUN with GUE (--tun-type gue --tun-port 6080): the director wraps each packet in
# UDP to the real server's port 6080, where "ip fou add port 6080 gue" decapsulates it into
# tunl0 (which has the VIP). rr, in each checksum mode the kernel accepts for GUE: nocsum,
# csum, remcsum (changed with ipvsadm -e): 4 requests -> 2 and 2 each time; the tunnel
# settings are listed the same by ours and the oracle (--tun-info).
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

modprobe ipip
modprobe fou
fwd_topo_lan
for rs in rs1 rs2; do
	fwd_run ip -n "$rs" addr add "$FWD_LAN_VIP/32" dev tunl0
	fwd_run ip -n "$rs" link set tunl0 up
	fwd_run ip -n "$rs" fou add port 6080 gue
	for c in all default tunl0 eth0; do
		fwd_run ip netns exec "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
	done
	fwd_httpd "$rs" 80
done

fwd_ipvsadm -A -t "$FWD_LAN_VIP:80" -s rr
for mode in nocsum csum remcsum; do
	if [ $mode = nocsum ]; then op=-a; else op=-e; fi
	for rs in 192.0.2.11 192.0.2.12; do
		fwd_ipvsadm $op -t "$FWD_LAN_VIP:80" -r "$rs" -i --tun-type gue --tun-port 6080 "--tun-$mode"
	done
	ip netns exec dir "$IPVSADM" -Ln --tun-info >"$FWD_TMP/ours"
	ip netns exec dir "$ORACLE" -Ln --tun-info >"$FWD_TMP/oracle"
	cat "$FWD_TMP/ours"
	fwd_check "$mode: --tun-info listing is the oracle's" cmp -s "$FWD_TMP/ours" "$FWD_TMP/oracle"
	case $mode in nocsum) flags=-c ;; csum) flags=+c ;; remcsum) flags=r+c ;; esac
	fwd_expect "$mode: real servers listed as gue:6080:$flags" 2 \
		"$(grep -c "Tunnel  *gue:6080:$flags " "$FWD_TMP/ours")"
	fwd_count 4 "$FWD_LAN_VIP" 80
	echo "$mode answers:$FWD_SEQ"
	fwd_expect "$mode: requests answered by rs1" 2 "$FWD_HITS_rs1"
	fwd_expect "$mode: requests answered by rs2" 2 "$FWD_HITS_rs2"
done
fwd_finish
