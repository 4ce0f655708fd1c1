complete -c lvsd -s f -l use-file -d 'Configuration file (default /etc/keepalived/keepalived.conf)' -r -F
complete -c lvsd -l control -d 'The control socket lvsctl talks to (mode 0600; default /run/lvsd/control.sock; `none`: no socket)' -r -F
complete -c lvsd -l metrics -d 'Serve Prometheus metrics at http://ADDR:PORT/metrics (no listener without it)' -r
complete -c lvsd -l metrics-real-servers -d 'Metric series per real server (on, the default) or per service only (off)' -r -f -a "on\t''
off\t''"
complete -c lvsd -l metrics-names -d 'Metric names: lvsd\'s (default), node_exporter\'s ipvs collector\'s, or both' -r -f -a "lvsd\t''
node_exporter\t''
both\t''"
complete -c lvsd -s t -l config-test -d 'Check the configuration and exit: 0 when valid, 1 with FILE:LINE: KEYWORD: MESSAGE per error'
complete -c lvsd -s n -l dont-fork -d 'Accepted for keepalived\'s sake; lvsd always runs in the foreground'
complete -c lvsd -s l -l log-console -d 'Accepted for keepalived\'s sake; lvsd always logs to standard error'
complete -c lvsd -s D -l daemonize -d 'Refused (exit 2): lvsd does not fork; run it under a service manager'
complete -c lvsd -l dry-run -d 'Run on an in-memory table instead of the kernel (it starts empty) and log the changes lvsd would make; needs no privilege'
complete -c lvsd -s v -l version -d 'Print the version and exit'
complete -c lvsd -s h -l help -d 'Print help (see more with \'--help\')'
