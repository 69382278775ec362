# kube-harness continuity writer (POSIX sh; runs under busybox ash and dash).
#
# Usage: sh -c "$WRITER_SCRIPT" continuity-writer LOG_FILE CONTROL_DIR
#
# Opens LOG_FILE once on file descriptor 3 and keeps it for its whole life:
# every line below goes through that one descriptor, never through the path
# again. A remount therefore shows up as a difference between "what the held
# descriptor reaches" and "what the path reaches now".
#
# Lines written (space separated, one per line):
#   start <pid> <uptime> <epoch>
#   tick <seq> <uptime> <epoch> <pid>                     every ~100 ms
#   marker <token> <seq> <uptime> <epoch> <pid>           on request
# <uptime> is /proc/uptime (seconds since boot, 10 ms steps): it does not jump
# with NTP, so a gap between two ticks is time the writer really could not
# write. <epoch> is wall-clock seconds, to tell a human when it happened.
#
# CONTROL_DIR must be OUTSIDE the volume (it must keep working when the volume
# is gone). The writer puts its PID in CONTROL_DIR/writer.pid. A marker is
# requested by renaming a file holding a token to CONTROL_DIR/marker.request;
# the writer writes "marker <token> ..." through the held descriptor, then
# answers in CONTROL_DIR/marker.ack with "<token> ok" or "<token> write-failed".
set -u
log=${1:?usage: continuity-writer LOG_FILE CONTROL_DIR}
ctl=${2:?usage: continuity-writer LOG_FILE CONTROL_DIR}

# PID 1 in a container ignores SIGTERM unless it is trapped: exit promptly so
# pod deletion does not wait for the whole grace period.
trap 'exit 0' TERM INT HUP

mkdir -p "$ctl" || exit 1
exec 3>>"$log" || {
    echo "continuity-writer: cannot open $log for appending" >&2
    exit 1
}
echo $$ >"$ctl/writer.pid.tmp" && mv -f "$ctl/writer.pid.tmp" "$ctl/writer.pid"

read -r up _ </proc/uptime
printf 'start %s %s %s\n' $$ "$up" "$(date +%s 3>&-)" >&3

seq=0
while :; do
    seq=$((seq + 1))
    read -r up _ </proc/uptime
    # date runs in a forked subshell that closes fd 3, so only this shell
    # holds the file. No redirection on sleep: busybox ash runs it in-process
    # and would move fd 3 aside while it sleeps.
    if ! printf 'tick %s %s %s %s\n' "$seq" "$up" "$(date +%s 3>&-)" $$ >&3; then
        echo "continuity-writer: write through held descriptor failed (tick $seq)" >&2
    fi
    if [ -f "$ctl/marker.request" ]; then
        token=''
        read -r token <"$ctl/marker.request" || :
        rm -f "$ctl/marker.request"
        if printf 'marker %s %s %s %s %s\n' "$token" "$seq" "$up" "$(date +%s 3>&-)" $$ >&3; then
            status=ok
        else
            status=write-failed
        fi
        printf '%s %s\n' "$token" "$status" >"$ctl/marker.ack.tmp" &&
            mv -f "$ctl/marker.ack.tmp" "$ctl/marker.ack"
    fi
    sleep 0.1
done
