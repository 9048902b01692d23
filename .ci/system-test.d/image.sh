# Sourced by .ci/system-test. Builds the throw-away Debian 12 system the
# package is tested in: a root file system from Debian's packages
# (mmdebstrap), its own kernel and initrd, an ext4 image made with
# `mkfs.ext4 -d`. Cached under target/system-test/<arch>/, keyed on this
# file's content, so a second run only copies the image. Never installs
# anything of the project into the image: the test installs the package.

# The kernel, systemd and what an operator uses; then the package's
# dependencies and recommendations, so `apt install ./microclass_*.deb`
# (as install.md writes it) finds them without a download.
IMAGE_PKGS="systemd systemd-sysv udev dbus polkitd linux-image-amd64 initramfs-tools
openssh-server sudo sqlite3 ca-certificates iproute2 procps less adduser
libfontconfig1 libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 libinput10 libudev1
libxkbcommon0 libgbm1 libdrm2 fonts-noto-cjk gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-libav systemd-timesyncd"
IMAGE_SIZE=4G
IMAGE_SUITE=bookworm
IMAGE_MIRROR=${IMAGE_MIRROR:-http://deb.debian.org/debian}

# Files of the guest, written into the root before the image is made.
image_customize() {
    root=$1 key=$2
    echo "mc-systest" > "$root/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 mc-systest\n' > "$root/etc/hosts"
    echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$root/etc/fstab"
    # QEMU user networking: DHCP from 10.0.2.2, DNS at 10.0.2.3.
    mkdir -p "$root/etc/systemd/network"
    printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' > "$root/etc/systemd/network/10-qemu.network"
    echo "nameserver 10.0.2.3" > "$root/etc/resolv.conf"
    chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
    # The technician's account: key login, sudo without a password (the
    # test runs install.md's `sudo ...` lines as written).
    chroot "$root" useradd --create-home --shell /bin/bash --groups sudo tech
    echo "tech ALL=(ALL) NOPASSWD: ALL" > "$root/etc/sudoers.d/tech"
    chmod 0440 "$root/etc/sudoers.d/tech"
    install -d -m 0700 "$root/home/tech/.ssh"
    install -m 0600 "$key.pub" "$root/home/tech/.ssh/authorized_keys"
    chroot "$root" chown -R tech:tech /home/tech/.ssh
    # Fast, quiet logins over the forwarded port.
    printf 'UseDNS no\nPasswordAuthentication no\n' > "$root/etc/ssh/sshd_config.d/systest.conf"
    # Keep the journal on disk: the power-cut test reads the previous boots.
    mkdir -p "$root/var/log/journal"
    # Nothing scheduled competes with the test (the guest may be emulated).
    for t in apt-daily apt-daily-upgrade man-db e2scrub_all fstrim dpkg-db-backup; do
        chroot "$root" systemctl mask "$t.timer" >/dev/null 2>&1
    done
    # A small initrd with the virtual machine's drivers only: the kernel
    # unpacks it at every boot of the power-cut test.
    sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
    printf '%s\n' virtio_pci virtio_blk virtio_net ext4 crc32c_generic >> "$root/etc/initramfs-tools/modules"
    chroot "$root" update-initramfs -u -k all >/dev/null
    rm -f "$root"/boot/initrd.img-*.dpkg-bak
}

# image_build OUTDIR: OUTDIR/{disk.ext4,vmlinuz,initrd.img,id_ed25519,stamp}.
image_build() {
    out=$1
    stamp=$(cat "$STDIR/image.sh" | sha256sum | cut -c1-16)
    if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/disk.ext4" ]; then
        echo "cached image $out/disk.ext4 ($stamp)"
        return 0
    fi
    rm -rf "$out"
    mkdir -p "$out"
    ssh-keygen -q -t ed25519 -N "" -C systest -f "$out/id_ed25519"
    root="$out/root"
    mmdebstrap --quiet --variant=apt --skip=cleanup/apt/lists \
        --include="$(echo $IMAGE_PKGS | tr ' ' ',')" \
        "$IMAGE_SUITE" "$root" "$IMAGE_MIRROR" "deb $IMAGE_MIRROR $IMAGE_SUITE-updates main" \
        "deb http://deb.debian.org/debian-security $IMAGE_SUITE-security main"
    image_customize "$root" "$out/id_ed25519"
    cp "$(ls "$root"/boot/vmlinuz-* | tail -n 1)" "$out/vmlinuz"
    cp "$(ls "$root"/boot/initrd.img-* | tail -n 1)" "$out/initrd.img"
    chmod 0644 "$out/vmlinuz" "$out/initrd.img"
    rm -f "$out/disk.ext4"
    truncate -s "$IMAGE_SIZE" "$out/disk.ext4"
    mkfs.ext4 -q -F -L root -d "$root" "$out/disk.ext4"
    rm -rf "$root"
    echo "$stamp" > "$out/stamp"
}
