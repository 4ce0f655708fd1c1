complete -c ipvsadm -l set -d 'Change the timeout values used for IPVS connections (seconds; 0 keeps a value).' -r
complete -c ipvsadm -l start-daemon -d 'Start the connection synchronization daemon.' -r -f -a "master\t''
backup\t''"
complete -c ipvsadm -l stop-daemon -d 'Stop the connection synchronization daemon.' -r -f -a "master\t''
backup\t''"
complete -c ipvsadm -s t -l tcp-service -d 'TCP service on host[:port].' -r -f -a "(__fish_print_hostnames)"
complete -c ipvsadm -s u -l udp-service -d 'UDP service on host[:port].' -r -f -a "(__fish_print_hostnames)"
complete -c ipvsadm -l sctp-service -d 'SCTP service on host[:port].' -r -f -a "(__fish_print_hostnames)"
complete -c ipvsadm -s f -l fwmark-service -d 'Service of packets with this firewall mark (an integer greater than zero).' -r
complete -c ipvsadm -s s -l scheduler -d 'Scheduling algorithm: one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh (default wlc).' -r -f -a "rr\t''
wrr\t''
lc\t''
wlc\t''
lblc\t''
lblcr\t''
dh\t''
sh\t''
sed\t''
nq\t''
fo\t''
ovf\t''
mh\t''"
complete -c ipvsadm -s p -l persistent -d 'Persistent service, with an optional timeout in seconds (default 360).' -r
complete -c ipvsadm -s M -l netmask -d 'Persistence granularity mask (IPv4 mask or IPv6 prefix length).' -r
complete -c ipvsadm -s r -l real-server -d 'Real server address, host[:port].' -r -f -a "(__fish_print_hostnames)"
complete -c ipvsadm -s w -l weight -d 'Capacity of the real server (0..2147483647, default 1).' -r
complete -c ipvsadm -s x -l u-threshold -d 'Upper connection threshold (0 = no limit).' -r
complete -c ipvsadm -s y -l l-threshold -d 'Lower connection threshold.' -r
complete -c ipvsadm -l mcast-interface -d 'Multicast interface for connection sync (default eth0).' -r
complete -c ipvsadm -l syncid -d 'Sync id for connection sync (0..255, default 0).' -r
complete -c ipvsadm -l pe -d 'Persistence engine (sip).' -r -f -a "sip\t''"
complete -c ipvsadm -s b -l sched-flags -d 'Scheduler flags, comma separated: flag-1,flag-2,flag-3, sh-fallback,sh-port, mh-fallback,mh-port.' -r
complete -c ipvsadm -l mcast-group -d 'IPv4/IPv6 multicast group (default 224.0.0.81).' -r
complete -c ipvsadm -l mcast-port -d 'Multicast UDP port (default 8848).' -r
complete -c ipvsadm -l mcast-ttl -d 'Multicast TTL (default 1).' -r
complete -c ipvsadm -l sync-maxlen -d 'Maximum sync message length.' -r
complete -c ipvsadm -l tun-type -d 'Tunnel type: ipip|gue|gre (default ipip).' -r -f -a "ipip\t''
gue\t''
gre\t''"
complete -c ipvsadm -l tun-port -d 'Tunnel destination port (gue).' -r
complete -c ipvsadm -s A -l add-service -d 'Add a virtual service.'
complete -c ipvsadm -s E -l edit-service -d 'Edit a virtual service.'
complete -c ipvsadm -s D -l delete-service -d 'Delete a virtual service, along with any associated real servers.'
complete -c ipvsadm -s C -l clear -d 'Clear the virtual server table.'
complete -c ipvsadm -s L -l list -d 'List the virtual server table (all services, or the one given).'
complete -c ipvsadm -s l -d 'Same as -L.'
complete -c ipvsadm -s Z -l zero -d 'Zero the packet, byte and rate counters of a service or all services.'
complete -c ipvsadm -s a -l add-server -d 'Add a real server to a virtual service.'
complete -c ipvsadm -s e -l edit-server -d 'Edit a real server in a virtual service.'
complete -c ipvsadm -s d -l delete-server -d 'Remove a real server from a virtual service.'
complete -c ipvsadm -s h -l help -d 'Display a description of the command syntax.'
complete -c ipvsadm -s v -l version -d 'Display the version.'
complete -c ipvsadm -s R -l restore -d 'Restore rules from stdin: each line is one ipvsadm command without the program name.'
complete -c ipvsadm -s S -l save -d 'Dump the table to stdout in a format that -R can read.'
complete -c ipvsadm -s m -l masquerading -d 'Masquerading (NAT).'
complete -c ipvsadm -s i -l ipip -d 'Tunnelling (ipip, gue or gre encapsulation).'
complete -c ipvsadm -s g -l gatewaying -d 'Gatewaying, i.e. direct routing (the default).'
complete -c ipvsadm -s n -l numeric -d 'Numeric output of addresses and ports.'
complete -c ipvsadm -s c -l connection -d 'List the current IPVS connections.'
complete -c ipvsadm -l timeout -d 'List the timeouts (tcp tcpfin udp).'
complete -c ipvsadm -l daemon -d 'List the sync daemons.'
complete -c ipvsadm -l stats -d 'List statistics.'
complete -c ipvsadm -l rate -d 'List rates.'
complete -c ipvsadm -l thresholds -d 'List thresholds.'
complete -c ipvsadm -l persistent-conn -d 'List persistent connection counters.'
complete -c ipvsadm -l nosort -d 'Do not sort services and real servers.'
complete -c ipvsadm -l sort -d 'Does nothing, for backwards compatibility.'
complete -c ipvsadm -s X -l exact -d 'Expand numbers (display exact values).'
complete -c ipvsadm -s 6 -l ipv6 -d 'The fwmark service (-f) is IPv6.'
complete -c ipvsadm -s o -l ops -d 'One-packet scheduling (UDP services).'
complete -c ipvsadm -l tun-info -d 'List tunnel information.'
complete -c ipvsadm -l tun-nocsum -d 'Tunnel encapsulation without checksum.'
complete -c ipvsadm -l tun-csum -d 'Tunnel encapsulation with checksum.'
complete -c ipvsadm -l tun-remcsum -d 'Tunnel encapsulation with remote checksum (gue).'
