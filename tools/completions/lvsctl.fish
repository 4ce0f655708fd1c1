# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lvsctl_global_optspecs
    string join \n socket= h/help
end

function __fish_lvsctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lvsctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lvsctl_using_subcommand
    set -l cmd (__fish_lvsctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lvsctl -n "__fish_lvsctl_needs_command" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "apply" -d 'Make the kernel\'s IPVS table match FILE, changing only what differs'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "status" -d 'Print the live table with the health of every real server'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "drain" -d 'Weight 0 for a real server until `lvsctl enable` (established connections go on, no new ones); kept across reloads'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "enable" -d 'Undo drain, maintenance or a weight override'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "weight" -d 'Weight N (0-65535) in place of the configured one until enabled'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "maintenance" -d 'Take a real server out of the table (on) or put it back (off)'
complete -c lvsctl -n "__fish_lvsctl_needs_command" -f -a "reload" -d 'Reload lvsd\'s configuration (as SIGHUP); says whether it was taken'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand apply" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand apply" -s n -l dry-run -d 'Print the changes in ipvsadm syntax, change nothing'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand apply" -l json -d 'With --dry-run: print the plan as JSON'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand apply" -s v -l verbose -d 'Say on standard error how many changes the plan has and how many write requests went to the kernel'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand status" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand status" -l json -d 'Print the table as a versioned JSON document'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand drain" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand drain" -s h -l help -d 'Print help'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand enable" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand enable" -s h -l help -d 'Print help'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand weight" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand weight" -s h -l help -d 'Print help'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand maintenance" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand maintenance" -s h -l help -d 'Print help'
complete -c lvsctl -n "__fish_lvsctl_using_subcommand reload" -l socket -d 'lvsd\'s control socket (default /run/lvsd/control.sock; lvsd --control)' -r -F
complete -c lvsctl -n "__fish_lvsctl_using_subcommand reload" -s h -l help -d 'Print help'
