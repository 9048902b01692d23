# Sourced by .ci/system-test. The operator's checks inside the booted guest,
# in install order: install, first boot, provisioning (in the service's own
# sandbox, as the first-boot wizard does, and on the command line), start and
# doctor, a tap, restart, watchdog, polkit reboot, purge. Commands from
# docs/install.md run as written there (through `sudo`, as the `tech` account).
# Each check fails the run with what it saw; none of them sleeps and assumes.

DB=/var/lib/microclass/microclass.db
DROPIN_DIR=/run/systemd/system/microclass.service.d
# The hub's signing key of install.md's example (any valid Ed25519 key will do).
SIGNING_KEY=3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c

# sql QUERY: runs QUERY on the kiosk's database as the service user (so
# SQLite's -wal/-shm files never end up owned by root).
sql() {
    g "sudo -u microclass sqlite3 -batch $DB \"$1\""
}

svc() { g "systemctl show -p $1 --value microclass"; }
svc_active() { [ "$(svc ActiveState)" = active ] && [ "$(svc SubState)" = running ]; }

# wait_active SECS: until the unit is active (after READY=1, Type=notify).
wait_active() {
    deadline=$(( $(date +%s) + $1 ))
    until svc_active 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            g "sudo journalctl -u microclass -b --no-pager | tail -n 40" >&2 || true
            fail "microclass.service is not active after $1 s ($(svc ActiveState)/$(svc SubState))"
        fi
        sleep 0.5
    done
}

# dropin NAME CONTENT: a runtime drop-in (gone at the next boot), reloaded.
dropin() {
    g "sudo mkdir -p $DROPIN_DIR && printf '%s\n' '[Service]' $2 | sudo tee $DROPIN_DIR/$1.conf >/dev/null && sudo systemctl daemon-reload"
}
dropin_remove() {
    g "sudo rm -f $DROPIN_DIR/$1.conf && sudo systemctl daemon-reload"
}

expect_stat() {
    got=$(g "sudo stat -c '%U:%G %a' $1")
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
    ok "$1 $got"
}

check_install() {
    deb=$1
    name=$(basename "$deb")
    gcp "$deb" "/home/tech/$name"
    # install.md: `sudo apt install ./microclass_<version>_<arch>.deb`; no
    # terminal, so apt must not need to ask anything.
    g "sudo apt install ./$name </dev/null" > "$RUN/apt-install.log" 2>&1 \
        || { cat "$RUN/apt-install.log"; fail "apt install ./$name failed"; }
    grep -E '^(Setting up|E:|W:|warning|microclass)' "$RUN/apt-install.log" || true
    g "dpkg-query -W -f='\${Status} \${Version}' microclass" | grep -q "install ok installed" \
        || fail "microclass is not installed"
    ok "apt install ./$name"
    for f in /usr/bin/microclass /usr/lib/systemd/system/microclass.service /usr/lib/udev/rules.d/99-microclass.rules \
             /usr/share/polkit-1/rules.d/50-microclass-reboot.rules /usr/share/microclass/board/pi4-mfrc522.toml \
             /usr/share/microclass/board/pi4-usb-reader.toml /usr/share/microclass/board/sim.toml; do
        g "sudo test -f $f" || fail "$f is not installed"
    done
    ok "the files of install.md's table are there"
    groups=$(g "id -nG microclass")
    for want in microclass spi gpio input video render audio; do
        echo " $groups " | grep -q " $want " || fail "user microclass is not in group $want (groups: $groups)"
    done
    ok "user microclass, groups: $groups"
    [ "$(g "getent passwd microclass | cut -d: -f7")" = /usr/sbin/nologin ] || fail "microclass has a login shell"
    expect_stat /var/lib/microclass "microclass:microclass 750"
    expect_stat /etc/microclass "microclass:microclass 750"
    expect_stat /etc/microclass/config.toml "microclass:microclass 600"
    [ "$(g "systemctl is-enabled microclass" || true)" = enabled ] || fail "the service is not enabled"
    [ "$(svc ActiveState)" = inactive ] || fail "the installation started the service (install.md says it does not)"
    ok "enabled, not started"
    out=$(g "systemd-analyze verify microclass.service 2>&1" || true)
    [ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify on the installed unit printed warnings"; }
    ok "systemd-analyze verify on the booted system: clean"
    # udev: postinst reloaded the rules; udevd logs every line it rejects.
    out=$(g "sudo journalctl -b --no-pager -o cat -u systemd-udevd" | grep -i "99-microclass" || true)
    [ -z "$out" ] || fail "udevd complains about 99-microclass.rules: $out"
    ok "udev loads 99-microclass.rules without errors"
}

check_first_boot() {
    g "sudo systemctl start microclass"
    wait_active 60
    # An unprovisioned kiosk answers `ignored: ...`, and `microclass tap` exits 3.
    rc=0
    reply=$(g "sudo microclass tap 04A1B2C3" 2>&1) || rc=$?
    [ "$rc" = 3 ] || fail "tap on the unprovisioned kiosk: exit $rc (want 3, ignored): $reply"
    echo "$reply" | grep -q "not provisioned" || fail "an unprovisioned kiosk answered a tap with: $reply"
    [ "$(sql "SELECT count(*) FROM taps")" = 0 ] || fail "an unprovisioned kiosk recorded a tap"
    ok "unprovisioned: active (headless first-boot wizard), tap ignored, nothing recorded"
    g "sudo systemctl stop microclass"
}

check_provision_in_sandbox() {
    GUEST_HUB="mqtt://10.0.2.2:$MQTT_PORT"
    # The first-boot wizard writes the config from inside the service, so it
    # runs as `microclass` under ProtectSystem=strict; ExecStartPre in a
    # drop-in runs the same provisioning code with the unit's own sandbox.
    dropin 50-systest-wizard "Environment=MICROCLASS_TECH_PIN=258071 \
'ExecStartPre=/usr/bin/microclass --config /etc/microclass/config.toml provision --non-interactive --no-hub-test \
--district systest --centre c01 --device-id d01 --hub-url $GUEST_HUB --signing-key $SIGNING_KEY \
--board /usr/share/microclass/board/sim.toml'"
    g "sudo systemctl start microclass" || true
    wait_active 60
    dropin_remove 50-systest-wizard
    g "sudo grep -q '^id = \"d01\"' /etc/microclass/config.toml" \
        || { g "sudo cat /etc/microclass/config.toml"; fail "the sandboxed provisioning did not write the device id"; }
    g "sudo head -n 1 /etc/microclass/config.toml" | grep -q "microclass device configuration" \
        || fail "the sandboxed provisioning lost the comments of the config file"
    expect_stat /etc/microclass/config.toml "microclass:microclass 600"
    left=$(g "sudo ls -A /etc/microclass")
    [ "$left" = config.toml ] || fail "files left in /etc/microclass: $left"
    reply=$(g "sudo microclass tap 04A1B2C4") || fail "tap after provisioning: $reply"
    case "$reply" in -*) fail "the provisioned kiosk recorded nothing: $reply" ;; esac
    ok "written by the service user inside ProtectSystem=strict; the kiosk serves: $reply"
}

check_provision_cli() {
    # install.md: re-run provision to change one thing; with a hub password,
    # which goes to /etc/microclass/hub-password. Tests the hub (the host's broker).
    out=$(g "sudo MICROCLASS_HUB_PASSWORD=systest-secret microclass provision --username d01 </dev/null 2>&1") \
        || { echo "$out"; fail "sudo microclass provision --username failed"; }
    echo "$out" | tail -n 8
    expect_stat /etc/microclass/config.toml "microclass:microclass 600"
    expect_stat /etc/microclass/hub-password "microclass:microclass 600"
    g "sudo grep -q '^id = \"d01\"' /etc/microclass/config.toml" || fail "provision lost the device id"
    g "sudo grep -q 'systest-secret' /etc/microclass/config.toml" && fail "the hub password is in config.toml"
    g "sudo systemctl restart microclass"
    wait_active 60
    ok "sudo microclass provision changed one setting, kept the rest and the owner"
}

check_start_and_doctor() {
    g "sudo systemctl start microclass"
    wait_active 60
    ok "$(g "systemctl show -p Type -p ActiveState -p SubState -p StatusText microclass | tr '\n' ' '")"
    g "sudo journalctl -u microclass -b --no-pager -o cat" > "$RUN/journal-start.log"
    # install.md section 5, as written.
    set +e
    g "sudo -u microclass microclass doctor" > "$RUN/doctor.txt" 2>&1
    rc=$?
    set -e
    cat "$RUN/doctor.txt"
    for id in config disk clock database cache hub.dns hub.tcp hub.mqtt; do
        grep -Eq "^(OK|WARN) +$id " "$RUN/doctor.txt" || fail "doctor: $id is not OK/WARN on the booted system"
    done
    # A simulated board with no screen: the only failures allowed are the
    # hardware ones a VM has not got.
    bad=$(grep -E '^FAIL' "$RUN/doctor.txt" | grep -Ev '^FAIL +(spi|gpio|reader|display) ' || true)
    [ -z "$bad" ] || fail "doctor failed on checks a VM can pass: $bad"
    ok "doctor exit $rc; every check a VM can pass passes"
    set +e
    g "sudo -u microclass microclass doctor --headless" > "$RUN/doctor-headless.txt" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || { cat "$RUN/doctor-headless.txt"; fail "doctor --headless exit $rc on a simulated board"; }
    ok "doctor --headless exit 0"
}

check_tap() {
    reply=$(g "sudo microclass tap 04A1B2C5") || fail "tap: $reply"
    id=${reply%% *}
    case "$id" in -|"") fail "no tap record: $reply" ;; esac
    [ "$(sql "SELECT count(*) FROM taps WHERE id='$id' AND uid='04A1B2C5'")" = 1 ] || fail "tap $id is not in the database"
    [ "$(sql "SELECT count(*) FROM outbox WHERE id='$id'")" = 1 ] || fail "tap $id is not in the outbox"
    ok "tap $id committed with its outbox row"
    wait_for 60 "tap $id at the hub's broker" grep -q "$id" "$RUN/hub.log"
    wait_for 60 "the outbox to be acknowledged" test "$(sql "SELECT count(*) FROM outbox_unsent")" = 0
    ok "drained to the broker on the host, outbox acknowledged"
}

# record_counts: the records a restart or reboot must keep. Outbox rows made
# since (status and telemetry of the new start) are left out: only the rows
# up to $RECORDS_SEQ (set by check_restart) count.
RECORDS_SEQ=0
record_counts() {
    sql "SELECT (SELECT count(*) FROM taps) || ' taps, ' || (SELECT count(*) FROM attendance) || ' attendance, ' \
|| (SELECT count(*) FROM outbox WHERE seq <= $RECORDS_SEQ) || ' outbox rows up to seq $RECORDS_SEQ'"
}

check_restart() {
    RECORDS_SEQ=$(sql "SELECT coalesce(max(seq), 0) FROM outbox")
    before=$(record_counts)
    pid=$(svc MainPID)
    g "sudo systemctl restart microclass"
    wait_active 60
    [ "$(svc MainPID)" != "$pid" ] || fail "restart did not start a new process"
    after=$(record_counts)
    [ "$before" = "$after" ] || fail "restart changed the records: $before -> $after"
    ok "restart: $after"
}

check_watchdog() {
    before=$(svc NRestarts)
    # The kiosk's test hook wedges the main loop: the watchdog pings stop.
    dropin 60-systest-wedge "Environment=MICROCLASS_TEST_WEDGE_AFTER_MS=1000"
    g "sudo systemctl restart microclass"
    # 30 s without a ping, then SIGABRT; slow on an emulated, loaded guest.
    deadline=$(( $(date +%s) + 180 ))
    until [ "$(svc NRestarts)" -gt "$before" ]; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            g "systemctl status --no-pager microclass; sudo journalctl -u microclass -b --no-pager | tail -n 30" >&2 || true
            fail "systemd did not restart the wedged kiosk within 180 s"
        fi
        sleep 1
    done
    g "sudo journalctl -u microclass -b --no-pager" | grep -i "watchdog timeout" | tail -n 1 \
        || fail "the restart was not the watchdog's"
    dropin_remove 60-systest-wedge
    g "sudo systemctl restart microclass"
    wait_active 60
    ok "watchdog killed the wedged loop, Restart=always brought it back (NRestarts $before -> $(svc NRestarts))"
}

check_polkit_reboot() {
    boot=$(vm_boot_id)
    records=$(record_counts)
    out=$(g "sudo -u nobody systemctl reboot 2>&1") && fail "user nobody may reboot: $out"
    [ "$(vm_boot_id)" = "$boot" ] || fail "user nobody rebooted the system"
    ok "nobody: refused ($out)"
    # The service itself asks for the reboot (as the hub's `reboot` command
    # does): as `microclass`, inside the unit's sandbox.
    dropin 70-systest-reboot "'ExecStartPre=/usr/bin/systemctl reboot'"
    g "sudo systemctl restart --no-block microclass"
    deadline=$(( $(date +%s) + 90 ))
    while :; do
        now_boot=$(vm_boot_id 2>/dev/null || true)
        [ -n "$now_boot" ] && [ "$now_boot" != "$boot" ] && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            g "sudo journalctl -u microclass -b --no-pager | tail -n 20" >&2 || true
            fail "the service user's systemctl reboot did not reboot within 90 s"
        fi
        sleep 1
    done
    vm_wait_ssh 120
    ok "microclass rebooted the system from its sandbox (polkit rule)"
    g "test ! -e $DROPIN_DIR/70-systest-reboot.conf" || fail "the runtime drop-in survived the reboot"
    wait_active 90
    after=$(record_counts)
    [ "$after" = "$records" ] || fail "the reboot changed the records: $records -> $after"
    ok "after the reboot the service is active by itself; $after"
}

check_purge() {
    # install.md section 6 (with -y: there is no terminal to answer).
    g "sudo apt remove -y microclass </dev/null" > "$RUN/apt-remove.log" 2>&1 \
        || { cat "$RUN/apt-remove.log"; fail "apt remove failed"; }
    g "sudo test ! -e /usr/bin/microclass" || fail "remove left /usr/bin/microclass"
    g "pgrep -u microclass" >/dev/null && fail "a microclass process survived the removal"
    g "sudo grep -q '^id = \"d01\"' /etc/microclass/config.toml" || fail "remove did not keep the config"
    g "sudo test -s $DB" || fail "remove lost the database"
    ok "remove: program and service gone; config and database kept"
    g "sudo apt purge -y microclass </dev/null" > "$RUN/apt-purge.log" 2>&1 \
        || { cat "$RUN/apt-purge.log"; fail "apt purge failed"; }
    grep -E 'microclass:' "$RUN/apt-purge.log" || true
    for gone in /etc/microclass/config.toml /etc/microclass/hub-password /etc/microclass \
                /usr/bin/microclass /usr/lib/systemd/system/microclass.service \
                /etc/systemd/system/multi-user.target.wants/microclass.service; do
        g "sudo test ! -e $gone" || fail "purge left $gone"
    done
    g "pgrep -u microclass" >/dev/null && fail "a microclass process survived the purge"
    g "sudo test -s $DB" || fail "purge removed the attendance database"
    g "getent passwd microclass" >/dev/null || fail "purge removed the user microclass (it owns the kept data)"
    ok "purge removed the config, the password, the unit; kept $DB and the user"
    g "sudo rm -r /var/lib/microclass && sudo deluser microclass" >/dev/null 2>&1 \
        || fail "install.md's last command failed: sudo rm -r /var/lib/microclass && sudo deluser microclass"
    ok "the data and the user removed by hand as install.md says"
}
