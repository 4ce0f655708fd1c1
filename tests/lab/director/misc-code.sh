# A MISC_CHECK script of the director suite: exits with the number in /tmp/dlab/files/$1
# (written by the scenario's "do file $1 N"), or 1 (down) when there is no such file.
# Run as misc_path "/bin/sh /lab/director/misc-code.sh NAME".
exit "$(cat "/tmp/dlab/files/$1" 2>/dev/null || echo 1)"
