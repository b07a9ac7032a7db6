# Sourced by scripts/setup.sh and scripts/cluster-test.sh (which set OUT first).
# A free loopback port, never one the script handed out before: the OS may offer the same port
# again once its probe socket is closed (make chaos once gave two stores the same port).
free_port() {
    local p
    while :; do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        grep -qx "$p" "$OUT/ports.given" 2>/dev/null || break
    done
    echo "$p" >>"$OUT/ports.given"
    echo "$p"
}
