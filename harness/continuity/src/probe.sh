# kube-harness continuity probe (POSIX sh; runs under busybox ash and dash).
#
# Usage: sh -c "$PROBE_SCRIPT" continuity-probe -m MOUNT_POINT [-l LOG_FILE]
#          [-c CONTROL_DIR] [-p WRITER_PID] [-s SERVER_NAME_GLOB]
#          [-k MARKER_TOKEN] [-t MARKER_WAIT_TENTHS] [-w]
#
# Prints the facts about one continuity writer as "key value..." lines between
# a "continuity-probe 1" header and an "end" trailer; the Rust side
# (MountRecord::parse) turns them into a record. A fact that cannot be read
# becomes an "error <subject> <message>" line, never a silent omission.
#   -m  the volume's mount point (as the writer sees it)
#   -l  the writer's log file
#   -c  the writer's control dir (outside the volume); gives the writer PID
#       and is where marker requests go
#   -p  the writer PID, when there is no control dir
#   -s  glob on /proc/PID/comm of the process serving the mount (FUSE
#       drivers); among several, the one whose command line names the mount
#       point as an argument wins (else the first, reported as name-only)
#   -k  ask the writer to write this token through its held descriptor first
#   -t  how long to wait for the writer's answer, in tenths of a second
#   -w  check that a fresh file can be written and read back on the volume
set -u
mp='' log='' ctl='' pid='' srv='' token='' wait=30 rw=0
while getopts 'm:l:c:p:s:k:t:w' opt; do
    case $opt in
    m) mp=$OPTARG ;;
    l) log=$OPTARG ;;
    c) ctl=$OPTARG ;;
    p) pid=$OPTARG ;;
    s) srv=$OPTARG ;;
    k) token=$OPTARG ;;
    t) wait=$OPTARG ;;
    w) rw=1 ;;
    *)
        echo "error usage unknown option (see the usage line in the probe script)"
        exit 2
        ;;
    esac
done
if [ -z "$mp" ]; then
    echo "error usage -m MOUNT_POINT is required"
    exit 2
fi
case $wait in '' | *[!0-9]*)
    echo "error usage -t takes a whole number of tenths of a second, got '$wait'"
    exit 2
    ;;
esac
case $token in *[!A-Za-z0-9._-]*)
    echo "error usage -k takes letters, digits, '.', '_' and '-' only, got '$token'"
    exit 2
    ;;
esac

echo "continuity-probe 1"
read -r up _ </proc/uptime
echo "clock $up $(date +%s)"
echo "mount_point $mp"

# Writer PID: explicit, else from the control dir.
if [ -z "$pid" ] && [ -n "$ctl" ]; then
    { read -r pid <"$ctl/writer.pid"; } 2>/dev/null ||
        echo "error writer no PID file at $ctl/writer.pid"
fi
writer_alive=0
if [ -n "$pid" ]; then
    echo "writer_pid $pid"
    if { read -r line <"/proc/$pid/stat"; } 2>/dev/null; then
        writer_alive=1
        echo "writer_stat $line"
    else
        echo "error writer process $pid is not running"
    fi
fi

# Ask the held descriptor to write before looking at the file, so the file
# facts below already include the marker.
if [ -n "$token" ]; then
    if [ -z "$ctl" ]; then
        echo "error marker -k needs -c CONTROL_DIR"
    else
        rm -f "$ctl/marker.ack"
        printf '%s\n' "$token" >"$ctl/marker.request.tmp" &&
            mv -f "$ctl/marker.request.tmp" "$ctl/marker.request"
        i=0
        while [ ! -f "$ctl/marker.ack" ] && [ "$i" -lt "$wait" ]; do
            sleep 0.1
            i=$((i + 1))
        done
        got='' status=''
        if { read -r got status <"$ctl/marker.ack"; } 2>/dev/null; then
            if [ "$got" = "$token" ]; then
                echo "marker $token $status"
            else
                echo "marker $token mismatch"
            fi
        else
            rm -f "$ctl/marker.request"
            echo "marker $token timeout"
        fi
    fi
fi

# The mount holding the mount point: the longest mount point that is a prefix
# of the resolved path; the last one listed wins (it is on top of a stack).
if real=$(cd "$mp" 2>/dev/null && pwd -P); then
    echo "resolved $real"
    esc=$(printf '%s' "$real" | sed -e 's/\\/\\134/g' -e 's/ /\\040/g' -e 's/	/\\011/g')
    mi=/proc/self/mountinfo
    if [ "$writer_alive" = 1 ] && [ -r "/proc/$pid/mountinfo" ]; then
        mi=/proc/$pid/mountinfo
    fi
    best='' bestlen=0
    while IFS= read -r line; do
        set -f
        # shellcheck disable=SC2086
        set -- $line
        set +f
        m=${5:-}
        if [ "$m" = "$esc" ] || [ "$m" = / ]; then
            len=${#m}
        else
            case $esc in "$m"/*) len=${#m} ;; *) continue ;; esac
        fi
        if [ "$len" -ge "$bestlen" ]; then
            best=$line bestlen=$len
        fi
    done <"$mi"
    if [ -n "$best" ]; then
        echo "mountinfo $best"
    else
        echo "error mount no entry in $mi covers $real"
    fi
    if s=$(stat -L -c '%d %i' "$real" 2>&1); then
        echo "mount_root $s"
    else
        echo "error mount_root stat failed: $s"
    fi
else
    echo "error mount mount point $mp is not reachable"
fi

if [ -n "$log" ]; then
    echo "log_path $log"
    if s=$(stat -c '%d %i %s' "$log" 2>&1); then
        echo "log_file $s"
    else
        echo "error log_file stat failed: $s"
    fi
fi

# The descriptor the writer holds (fd 3): which file and which mount it
# reaches, whatever is at the path now.
if [ "$writer_alive" = 1 ]; then
    fd=/proc/$pid/fd/3
    if t=$(readlink "$fd" 2>&1); then
        echo "handle_target $t"
        if s=$(stat -L -c '%d %i' "$fd" 2>&1); then
            echo "handle_file $s"
        else
            echo "error handle stat of the held descriptor failed: $s"
        fi
        mnt=
        while read -r k v; do
            if [ "$k" = mnt_id: ]; then mnt=$v; fi
        done <"/proc/$pid/fdinfo/3"
        if [ -n "$mnt" ]; then
            echo "handle_mnt_id $mnt"
        else
            echo "error handle no mnt_id in /proc/$pid/fdinfo/3"
        fi
    else
        echo "error handle writer $pid holds no descriptor 3: $t"
    fi
fi

if [ -n "$srv" ]; then
    n=0 chosen='' chosen_cmd='' hit=0
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = $$ ] && continue
        { read -r comm <"$d/comm"; } 2>/dev/null || continue
        # shellcheck disable=SC2254
        case $comm in $srv) ;; *) continue ;; esac
        cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
        n=$((n + 1))
        if [ -z "$chosen" ]; then chosen=$p chosen_cmd=$cmd; fi
        if [ "$hit" = 0 ]; then
            # The mount point as a whole argument (cmd ends with a space).
            case " $cmd" in *" $mp "*) chosen=$p chosen_cmd=$cmd hit=1 ;; esac
        fi
    done
    echo "server_candidates $n"
    if [ -z "$chosen" ]; then
        echo "error server no process named '$srv' is running"
    elif { read -r line <"/proc/$chosen/stat"; } 2>/dev/null; then
        echo "server_stat $line"
        echo "server_cmdline $chosen_cmd"
        if [ "$hit" = 1 ]; then
            echo "server_match mount-point"
        else
            echo "server_match name-only"
        fi
    else
        echo "error server process $chosen exited while probing"
    fi
fi

if [ "$rw" = 1 ]; then
    f=${real:-$mp}/.continuity-rw.$$
    want="rw $$ $up"
    got=''
    if ! { printf '%s\n' "$want" >"$f"; } 2>/dev/null; then
        echo "read_write failed cannot create $f"
    elif ! { read -r got <"$f"; } 2>/dev/null; then
        echo "read_write failed cannot read back $f"
    elif [ "$got" != "$want" ]; then
        echo "read_write failed read back '$got' instead of '$want' from $f"
    elif ! rm -f "$f" 2>/dev/null; then
        echo "read_write failed cannot delete $f"
    else
        echo "read_write ok"
    fi
    rm -f "$f" 2>/dev/null
fi

echo "end"
