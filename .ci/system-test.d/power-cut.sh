# Sourced by .ci/system-test. The power-cut test: a tap storm driven over
# ssh (`microclass tap` against the service's control socket, a new card
# for every tap), while the uplink drains to the broker on the host; at a
# random moment qemu is killed (no shutdown, no sync), the image booted
# again, and the database checked against every tap the host saw
# acknowledged (exit 0, `ok`), over all cuts so far. At the end the outbox
# must drain completely and the broker must have every acknowledged tap,
# and no row may be marked sent that the broker never received.

# The storm, run in the guest as root: one line per tap on stdout, which
# the host keeps (a line the host has is an acknowledged tap).
STORM='i=0; while :; do uid=$(printf "AC%04X%08X" "$1" "$i"); if r=$(microclass tap "$uid" 2>&1); then echo "ACK $uid $r"; else echo "ERR $uid $r"; fi; i=$((i+1)); done'

# db_check: prints `name value` lines for the acknowledged taps in $RUN/acked.txt.
db_check() {
    {
        echo "CREATE TEMP TABLE acked(uid TEXT, id TEXT);"
        echo "BEGIN;"
        awk '{ printf "INSERT INTO acked VALUES (%c%s%c, %c%s%c);\n", 39, $1, 39, 39, $2, 39 }' "$RUN/acked.txt"
        echo "COMMIT;"
        cat <<'EOF'
SELECT 'integrity', group_concat(integrity_check, ' ') FROM pragma_integrity_check;
SELECT 'acknowledged', count(*) FROM acked;
SELECT 'lost', count(*) FROM acked a WHERE (SELECT count(*) FROM taps t WHERE t.id = a.id AND t.uid = a.uid) <> 1;
SELECT 'taps', count(*) FROM taps WHERE uid LIKE 'AC%';
SELECT 'unacknowledged', count(*) FROM taps t WHERE t.uid LIKE 'AC%' AND NOT EXISTS (SELECT 1 FROM acked a WHERE a.id = t.id);
SELECT 'uid_twice', count(*) FROM (SELECT uid FROM taps WHERE uid LIKE 'AC%' GROUP BY uid HAVING count(*) > 1);
SELECT 'tap_without_outbox', count(*) FROM taps t WHERE (SELECT count(*) FROM outbox o WHERE o.id = t.id) <> 1;
SELECT 'outbox_without_tap', count(*) FROM outbox o WHERE o.kind = 'tap' AND NOT EXISTS (SELECT 1 FROM taps t WHERE t.id = o.id);
SELECT 'outbox_id_twice', count(*) FROM (SELECT id FROM outbox GROUP BY id HAVING count(*) > 1);
SELECT 'payload_mismatch', count(*) FROM outbox o JOIN taps t ON t.id = o.id WHERE json_extract(o.payload, '$.uid') <> t.uid;
SELECT 'seq_below_floor', count(*) FROM outbox WHERE seq <= (SELECT seq_floor FROM outbox_state WHERE id = 1);
SELECT 'unsent', count(*) FROM outbox_unsent;
EOF
    } | g "sudo -u microclass sqlite3 -batch -separator ' ' $DB"
}

# expect_zero REPORT NAME...: each NAME's value in REPORT is 0.
expect_zero() {
    report=$1
    shift
    for name in "$@"; do
        v=$(echo "$report" | awk -v n="$name" '$1 == n { print $2 }')
        [ "$v" = 0 ] || { echo "$report"; fail "after a power cut: $name = ${v:-missing}"; }
    done
}

# hub_ids: the ids of every tap record the broker delivered (with repeats).
hub_ids() {
    python3 - "$RUN/hub.log" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    topic, _, payload = line.rstrip("\n").partition(" ")
    if not topic.endswith("/events"):
        continue
    try:
        batch = json.loads(payload)
    except ValueError:
        continue
    for r in batch.get("records", []):
        if r.get("kind") == "tap":
            print(r["id"])
EOF
}

power_cut_test() {
    cuts=$1
    : > "$RUN/acked.txt"
    g "sudo systemctl is-active microclass" >/dev/null || fail "the service is not running before the cuts"
    cut=1
    boot_total=0
    while [ "$cut" -le "$cuts" ]; do
        log="$RUN/storm-$cut.log"
        # shellcheck disable=SC2046
        ssh $(vm_ssh_opts) -o ControlMaster=no -o ControlPath=none tech@127.0.0.1 \
            "sudo sh -c '$STORM' storm $cut" > "$log" 2>&1 &
        storm_pid=$!
        wait_for 60 "the first acknowledged tap of cut $cut" grep -q '^ACK ' "$log"
        # The cut comes 0.2-3 s into the storm, at a random moment.
        sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.2 + (r % 280) / 100 }')"
        vm_power_cut
        kill "$storm_pid" 2>/dev/null || true
        wait "$storm_pid" 2>/dev/null || true
        # Only complete lines: the last one may have been cut mid-write.
        if [ -n "$(tail -c 1 "$log")" ]; then head -n -1 "$log"; else cat "$log"; fi | awk '$1 == "ACK" && $3 != "-" && NF >= 3 { print $2, $3 }' >> "$RUN/acked.txt"
        errors=$(grep -c '^ERR ' "$log" || true)
        t=$(date +%s)
        vm_start
        vm_wait_ssh 180
        wait_active 120
        boot_total=$((boot_total + $(date +%s) - t))
        report=$(db_check)
        expect_zero "$report" lost uid_twice tap_without_outbox outbox_without_tap outbox_id_twice payload_mismatch seq_below_floor
        echo "$report" | grep -q '^integrity ok$' || { echo "$report"; fail "integrity_check after cut $cut"; }
        printf 'cut %d: %s taps acknowledged in all, %s committed, lost 0, %s tap errors this cut\n' "$cut" \
            "$(echo "$report" | awk '$1 == "acknowledged" { print $2 }')" \
            "$(echo "$report" | awk '$1 == "taps" { print $2 }')" "$errors"
        cut=$((cut + 1))
    done
    # After the last boot the outbox drains; then the broker has every tap,
    # and nothing is marked sent that it never received.
    wait_for 180 "the outbox to drain after the cuts" test "$(sql "SELECT count(*) FROM outbox_unsent")" = 0
    hub_ids | sort > "$RUN/hub-ids.txt"
    sort -u "$RUN/hub-ids.txt" > "$RUN/hub-ids-unique.txt"
    awk '{ print $2 }' "$RUN/acked.txt" | sort -u > "$RUN/acked-ids.txt"
    missing=$(comm -23 "$RUN/acked-ids.txt" "$RUN/hub-ids-unique.txt" | wc -l)
    [ "$missing" -eq 0 ] || fail "$missing acknowledged taps never reached the broker although the outbox is drained"
    sql "SELECT id FROM outbox WHERE kind = 'tap'" | sort -u > "$RUN/sent-ids.txt"
    phantom=$(comm -23 "$RUN/sent-ids.txt" "$RUN/hub-ids-unique.txt" | wc -l)
    [ "$phantom" -eq 0 ] || fail "$phantom outbox rows are marked sent but the broker never received them"
    report=$(db_check)
    acked=$(echo "$report" | awk '$1 == "acknowledged" { print $2 }')
    taps=$(echo "$report" | awk '$1 == "taps" { print $2 }')
    resent=$(( $(wc -l < "$RUN/hub-ids.txt") - $(wc -l < "$RUN/hub-ids-unique.txt") ))
    echo
    echo "power cuts: $cuts, acknowledged taps: $acked, committed: $taps, lost: 0," \
         "delivered to the broker: $(wc -l < "$RUN/hub-ids-unique.txt") (resent after a cut: $resent)," \
         "mean boot to active: $((boot_total / cuts)) s" | tee "$RUN/power-cut-figures.txt"
}
