#!/bin/sh
# Draining real servers with the library (examples/drain.rs, ipvs::drain::Drain), NAT, rr
# over rs1 and rs2:
#   - a long-lived connection to X; draining X quiesces it at once (weight 0): the long
#     connection goes on answering, every new connection goes to the other server Y, and
#     the drain reports the one connection left; past its deadline it deletes X
#   - a real server without connections drains at once ("empty", then deleted)
#   - meanwhile lvsctl status lists what ipvsadm -Ln lists, and its JSON shows X at weight 0
#   - a UDP service needs no wait: its real server is deleted at once although the kernel
#     still holds the client's UDP flow
. /lab/forwarding/lib/common.sh
trap fwd_cleanup EXIT

fwd_topo_nat
fwd_serve rs1 tcp:80 udp:53
fwd_serve rs2 tcp:80 udp:53
fwd_ipvsadm -A -t "$FWD_VIP:80" -s rr
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.11:80 -m
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.12:80 -m

fwd_session_open "$FWD_VIP" 80
X=$(fwd_session_line 1)
fwd_check "long-lived connection answered (by $X)" [ "$X" = rs1 -o "$X" = rs2 ]
fwd_session_send one
fwd_expect "the long-lived connection echoes" "$X one" "$(fwd_session_line 2)"
[ "$X" = rs1 ] && Y=rs2 || Y=rs1
XA=192.0.2.1${X#rs}

# Drain X with a 6 s deadline, in the background; its states go to a file.
ip netns exec dir drain "tcp:$FWD_VIP:80" "$XA:80" 6 >"$FWD_TMP/drain.out" 2>&1 &
drain_pid=$!
n=0
while ! grep -q '^draining' "$FWD_TMP/drain.out" && [ $n -lt 100 ]; do
	n=$((n + 1))
	sleep 0.05
done
fwd_expect "X's weight once the drain started" 0 \
	"$(ip netns exec dir "$IPVSADM" -Ln | awk -v a="$XA:80" '$2 == a { print $4 }')"
# lvsctl status (issue 14's kernel view) shows what ipvsadm 1.31 -Ln shows for each real
# server: weight, ActiveConn, InActConn.
ip netns exec dir /ours/lvsctl status
fwd_expect "lvsctl status: weights and connections as ipvsadm -Ln lists them" \
	"$(ip netns exec dir "$ORACLE" -Ln | awk '$1 == "->" && $2 ~ /^[0-9]/ { print $2, $4, $5, $6 }' | sort)" \
	"$(ip netns exec dir /ours/lvsctl status | tr -d ' ' | awk -F'|' 'NF > 8 && $4 ~ /:/ { print $4, $6, $7, $8 }' | sort)"
fwd_check "lvsctl status --json: schema 1, X at weight 0" sh -c \
	"/usr/sbin/ip netns exec dir /ours/lvsctl status --json | tr -d ' \n' | grep -q '\"schema\":1,.*\"addr\":\"$XA\",\"port\":80,\"forward\":\"Masq\",\"weight\":0,'"
fwd_ask -n 4 tcp "$FWD_VIP" 80
fwd_expect "new connections during the drain go to $Y" 4 "$(eval echo \$FWD_HITS_$Y)"
fwd_session_send two
fwd_expect "the long-lived connection still answers during the drain" "$X two" "$(fwd_session_line 3)"
fwd_session_close
wait "$drain_pid"
fwd_expect "the drain's report" "quiesced
draining 1
deadline 1
deleted" "$(cat "$FWD_TMP/drain.out")"
fwd_expect "X is gone from the table" "" \
	"$(ip netns exec dir "$IPVSADM" -Ln | awk -v a="$XA:80" '$2 == a')"

# Y has the 4 short connections (in TIME_WAIT, inactive); a third real server with none
# drains at once.
fwd_ipvsadm -a -t "$FWD_VIP:80" -r 192.0.2.13:80 -m
fwd_expect "a real server without connections" "quiesced
empty
deleted" "$(ip netns exec dir drain "tcp:$FWD_VIP:80" 192.0.2.13:80 30)"

# UDP: one flow to Z, then drain Z with a long deadline: no wait.
fwd_ipvsadm -A -u "$FWD_VIP:53" -s rr
fwd_ipvsadm -a -u "$FWD_VIP:53" -r 192.0.2.11:53 -m
fwd_ask -n 1 udp "$FWD_VIP" 53
fwd_expect "the UDP flow is in the table" 1 \
	"$(ip netns exec dir "$IPVSADM" -Lnc | grep -c "^UDP .* 192.0.2.11:53")"
fwd_expect "a UDP real server is deleted at once" "quiesced
deleted" "$(ip netns exec dir drain "udp:$FWD_VIP:53" 192.0.2.11:53 60)"
fwd_expect "the UDP service has no real server left" 0 \
	"$(ip netns exec dir "$IPVSADM" -Ln -u "$FWD_VIP:53" | grep -c -- '->.*:53')"
fwd_finish
