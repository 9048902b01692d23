# Sourced by .ci/system-test. Starts, reaches and cuts the power of the test
# virtual machine (qemu-system-x86_64 with KVM; the image's own kernel, serial
# console to a file, ssh through a forwarded port). A power cut is
# `kill -9` of qemu: no shutdown, no sync; whatever the guest had not written
# to its virtual disk is gone. Every wait polls a condition with a deadline.

VM_DIR=""       # run directory: disk, console log, pid file
VM_PORT=""      # host port forwarded to the guest's ssh
VM_KEY=""       # ssh key of the guest's `tech` account
VM_ACCEL=${SYSTEST_ACCEL:-auto}   # kvm, tcg, or auto (kvm when a probe boots)

vm_ssh_opts() {
    echo "-q -i $VM_KEY -p $VM_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
-o LogLevel=ERROR -o ConnectTimeout=5 -o ServerAliveInterval=2 -o ServerAliveCountMax=3 \
-o ControlMaster=auto -o ControlPath=$VM_DIR/ssh.ctl -o ControlPersist=60"
}

# g CMD...: runs a shell command line in the guest as `tech`.
g() {
    # shellcheck disable=SC2046
    ssh $(vm_ssh_opts) tech@127.0.0.1 "$@"
}

# gcp FILE DEST: copies a file into the guest.
gcp() {
    # shellcheck disable=SC2046
    scp $(vm_ssh_opts | sed 's/-p /-P /') "$1" "tech@127.0.0.1:$2"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# vm_start: boots $VM_DIR/disk.ext4 with the kernel and initrd of $IMAGE_DIR.
vm_start() {
    VM_PORT=$(free_port)
    rm -f "$VM_DIR/ssh.ctl" "$VM_DIR/qemu.pid"
    accel="-accel tcg,thread=multi"
    [ "$VM_ACCEL" = kvm ] && accel="-enable-kvm"
    # shellcheck disable=SC2086
    qemu-system-x86_64 $accel -smp 2 -m 1024 \
        -kernel "$IMAGE_DIR/vmlinuz" -initrd "$IMAGE_DIR/initrd.img" \
        -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=0" \
        -drive file="$VM_DIR/disk.ext4",format=raw,if=virtio \
        -netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$VM_PORT"-:22 -device virtio-net-pci,netdev=n0 \
        -vga none -display none -serial file:"$VM_DIR/console.log" -monitor none \
        -pidfile "$VM_DIR/qemu.pid" -daemonize \
        || fail "qemu did not start"
}

# vm_pick_accel: KVM when /dev/kvm is usable and a guest kernel really starts
# under it (nested KVM on some cloud hosts hangs before the kernel's first
# line), else TCG emulation.
vm_pick_accel() {
    [ "$VM_ACCEL" = auto ] || { echo "accelerator: $VM_ACCEL (SYSTEST_ACCEL)"; return 0; }
    VM_ACCEL=tcg
    if [ -w /dev/kvm ]; then
        probe="$VM_DIR/kvm-probe.log"
        rm -f "$probe"
        qemu-system-x86_64 -enable-kvm -smp 1 -m 256 -kernel "$IMAGE_DIR/vmlinuz" -initrd "$IMAGE_DIR/initrd.img" \
            -append "console=ttyS0 panic=-1" -no-reboot -vga none -display none -serial file:"$probe" \
            -monitor none -pidfile "$VM_DIR/probe.pid" -daemonize 2>/dev/null || true
        deadline=$(( $(date +%s) + 20 ))
        while [ "$(date +%s)" -lt "$deadline" ]; do
            if grep -q "Linux version" "$probe" 2>/dev/null; then VM_ACCEL=kvm; break; fi
            sleep 0.5
        done
        [ -f "$VM_DIR/probe.pid" ] && kill -9 "$(cat "$VM_DIR/probe.pid")" 2>/dev/null
        rm -f "$VM_DIR/probe.pid"
    fi
    if [ "$VM_ACCEL" = kvm ]; then echo "accelerator: kvm"
    else echo "accelerator: tcg (no usable KVM here: /dev/kvm missing, or a guest kernel does not start under it)"; fi
}

# vm_wait_ssh SECS: until the guest answers over ssh.
vm_wait_ssh() {
    deadline=$(( $(date +%s) + $1 ))
    until g true 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -n 40 "$VM_DIR/console.log" >&2
            fail "the guest did not answer over ssh within $1 s"
        fi
        vm_alive || { tail -n 40 "$VM_DIR/console.log" >&2; fail "qemu exited during boot"; }
        sleep 1
    done
}

vm_alive() {
    [ -f "$VM_DIR/qemu.pid" ] && kill -0 "$(cat "$VM_DIR/qemu.pid")" 2>/dev/null
}

# vm_power_cut: kill -9 qemu, then wait until it is gone.
vm_power_cut() {
    pid=$(cat "$VM_DIR/qemu.pid")
    kill -9 "$pid" 2>/dev/null || true
    deadline=$(( $(date +%s) + 20 ))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "qemu $pid did not die"
        sleep 0.1
    done
    # shellcheck disable=SC2046
    ssh $(vm_ssh_opts) -O exit tech@127.0.0.1 2>/dev/null || true
    rm -f "$VM_DIR/ssh.ctl" "$VM_DIR/qemu.pid"
}

# vm_stop: a clean shutdown (poweroff), or a cut if it does not come.
vm_stop() {
    vm_alive || return 0
    g sudo systemctl poweroff 2>/dev/null || true
    deadline=$(( $(date +%s) + 60 ))
    while vm_alive; do
        if [ "$(date +%s)" -ge "$deadline" ]; then vm_power_cut; return 0; fi
        sleep 0.5
    done
    rm -f "$VM_DIR/ssh.ctl"
}

# vm_boot_id: the guest's boot id (changes with every boot).
vm_boot_id() {
    g cat /proc/sys/kernel/random/boot_id
}

# wait_for SECS DESCRIPTION CMD...: polls CMD (on the host) until it succeeds.
wait_for() {
    secs=$1 what=$2
    shift 2
    deadline=$(( $(date +%s) + secs ))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after $secs s waiting for: $what"
        sleep 0.5
    done
}
