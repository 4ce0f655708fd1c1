complete -c ipvsadm-save -s n -d 'Numeric output of addresses and ports.'
