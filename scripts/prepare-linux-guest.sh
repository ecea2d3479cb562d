#!/usr/bin/env bash
# Prepares vmhive's default Linux guest from Debian's stock cloud kernel (docs/linux-guest.md).
# Usage: scripts/prepare-linux-guest.sh OUTPUT_DIR
# Writes OUTPUT_DIR/{bzImage,vmlinux,initramfs.cpio,stamp} and keeps the kernel package in
# OUTPUT_DIR/cache. The kernel is downloaded and unpacked, never installed on the host.
# Idempotent: when the stamp matches (same package version, busybox and scripts) it only prints
# what it has, without touching the network. Run as root on Debian 12 (apt-get installs tools).
set -Eeuo pipefail

readonly me=prepare-linux-guest
readonly meta_package=linux-image-cloud-amd64
readonly tools=(busybox-static e2fsprogs dropbear-bin lz4 kmod cpio binutils)
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly helper_dir=$script_dir/linux-guest

die() {
  echo "$me: $*" >&2
  exit 1
}
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

# Shows a tool's output (stdin) on stderr, indented under the line that will name the failure.
show() {
  sed 's/^/  /' >&2
}

# Runs a command with its output captured; on failure shows that output and one line naming it.
run() {
  local what=$1 output
  shift
  if ! output=$("$@" 2>&1); then
    [[ -z $output ]] || show <<<"$output"
    die "$what failed"
  fi
}

apt_updated=false
apt_update_once() {
  $apt_updated && return 1
  apt_updated=true
  echo "$me: apt-get update"
  run "apt-get update" apt-get update -qq
}

ensure_tools() {
  local tool missing=()
  for tool in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$tool" 2>/dev/null | grep -q "install ok installed" || missing+=("$tool")
  done
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "missing packages ${missing[*]}: run as root to install them"
  echo "$me: installing ${missing[*]}"
  apt_update_once
  run "apt-get install ${missing[*]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Sets package, version and package_sha256 to what `apt-get install linux-image-cloud-amd64`
# would bring: the candidate of the metapackage names one versioned kernel package.
resolve_package() {
  local record
  if ! record=$(apt-cache show --no-all-versions "$meta_package" 2>/dev/null); then
    apt_update_once || true
    record=$(apt-cache show --no-all-versions "$meta_package" 2>/dev/null) ||
      die "apt-cache does not know $meta_package (is Debian's main archive in the apt sources?)"
  fi
  package=$(sed -n 's/^Depends: .*\b\(linux-image-[0-9][^ ,|]*\).*/\1/p' <<<"$record" | head -n 1)
  [[ -n $package ]] || die "no linux-image-<version> package among the dependencies of $meta_package"
  record=$(apt-cache show --no-all-versions "$package" 2>/dev/null) ||
    die "apt-cache show $package failed"
  version=$(sed -n 's/^Version: //p' <<<"$record")
  package_sha256=$(sed -n 's/^SHA256: //p' <<<"$record")
  [[ -n $version && -n $package_sha256 ]] || die "apt-cache show $package gave no Version/SHA256"
}

# The inputs that decide the outputs; the stamp holds them plus the kernel release.
stamp_inputs() {
  local scripts busybox
  scripts=$(cd "$script_dir" && sha256sum prepare-linux-guest.sh linux-guest/* | sha256sum)
  busybox=$(dpkg-query -W -f='${Version}' busybox-static)
  e2fsprogs=$(dpkg-query -W -f='${Version}' e2fsprogs)
  dropbear=$(dpkg-query -W -f='${Version}' dropbear-bin)
  printf 'package=%s\nversion=%s\nbusybox=%s\ne2fsprogs=%s\ndropbear=%s\nscripts=%s\n' \
    "$package" "$version" "$busybox" "$e2fsprogs" "$dropbear" "${scripts%% *}"
}

outputs_exist() {
  [[ -s $out/bzImage && -s $out/vmlinux && -s $out/initramfs.cpio && -s $out/stamp ]]
}

# Sets deb to the cached package file, downloading it when it is missing or does not match
# the archive's checksum.
fetch_package() {
  local encoded=${version//:/%3a}
  deb=$out/cache/${package}_${encoded}_amd64.deb
  if [[ -f $deb ]] && sha256sum --status -c <<<"$package_sha256  $deb"; then
    return
  fi
  rm -rf "$out/cache/download" "$deb"
  mkdir -p "$out/cache/download"
  echo "$me: downloading $package $version"
  # Root downloads as root: apt's _apt sandbox user cannot write into OUTPUT_DIR/cache.
  local download=(apt-get download -qq -o APT::Sandbox::User=root "$package=$version")
  ((EUID == 0)) || download=(apt-get download -qq "$package=$version")
  cd "$out/cache/download"
  if ! "${download[@]}" >/dev/null 2>&1; then
    # Stale package lists name versions the mirror no longer has: refresh once and retry.
    apt_update_once || die "apt-get download $package=$version failed"
    resolve_package
    encoded=${version//:/%3a}
    deb=$out/cache/${package}_${encoded}_amd64.deb
    download[-1]="$package=$version"
    run "apt-get download $package=$version" "${download[@]}"
  fi
  cd "$out"
  local file=("$out/cache/download/${package}_"*.deb)
  [[ -f ${file[0]} ]] || die "apt-get download $package=$version left no .deb"
  sha256sum --status -c <<<"$package_sha256  ${file[0]}" ||
    die "$(basename "${file[0]}") does not match the archive's SHA256"
  rm -f "$out/cache/"linux-image-*.deb
  mv "${file[0]}" "$deb"
  rmdir "$out/cache/download"
}

# Reads a little-endian unsigned integer of SIZE bytes at OFFSET of FILE.
read_uint() {
  od -An -tu"$3" -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# Extracts the ELF vmlinux from a bzImage: the payload the boot protocol locates
# (setup_sects at 0x1f1, payload_offset at 0x248, payload_length at 0x24c, protocol >= 2.08).
# Debian compresses it with LZ4 in the legacy frame and, like every x86 kernel build, appends
# the uncompressed size as a 32-bit little-endian number: that size checks the result.
extract_vmlinux() {
  local bzimage=$1 target=$2
  [[ $(od -An -c -j $((0x202)) -N 4 "$bzimage" | tr -d ' ') == HdrS ]] ||
    die "$bzimage is not a bzImage (no HdrS at 0x202)"
  local protocol setup_sects payload_offset payload_length
  protocol=$(read_uint "$bzimage" $((0x206)) 2)
  ((protocol >= 0x208)) || die "$bzimage: boot protocol $(printf %#x "$protocol") has no payload fields"
  setup_sects=$(read_uint "$bzimage" $((0x1f1)) 1)
  ((setup_sects)) || setup_sects=4
  payload_offset=$(read_uint "$bzimage" $((0x248)) 4)
  payload_length=$(read_uint "$bzimage" $((0x24c)) 4)
  local start=$(((setup_sects + 1) * 512 + payload_offset))
  local payload=$work/payload
  dd if="$bzimage" of="$payload" bs=1M iflag=skip_bytes,count_bytes skip="$start" \
    count="$payload_length" status=none
  (($(stat -c %s "$payload") == payload_length)) || die "$bzimage: payload runs past the end of the file"
  local magic
  magic=$(od -An -tx1 -N 4 "$payload" | tr -d ' \n')
  [[ $magic == 02214c18 ]] ||
    die "$bzimage: payload is not LZ4 legacy frame (magic $magic, want 02214c18); another compression needs another decompressor here"
  local expected_size
  expected_size=$(read_uint "$payload" $((payload_length - 4)) 4)
  # lz4 reads the appended size as the start of another block and exits non-zero after writing
  # everything; the checks below decide whether the output is complete.
  lz4 -dc "$payload" >"$target.tmp" 2>"$work/lz4.log" || true
  local size
  size=$(stat -c %s "$target.tmp")
  if [[ $(od -An -c -N 4 "$target.tmp" | tr -d ' ') != 177ELF ]]; then
    show <"$work/lz4.log"
    die "lz4 -d of the payload of $bzimage did not give an ELF file"
  fi
  ((size == expected_size)) ||
    die "lz4 -d of the payload of $bzimage gave $size bytes, the bzImage says $expected_size"
  # The section header table and every segment must lie inside the file.
  local shoff shentsize shnum
  shoff=$(read_uint "$target.tmp" $((0x28)) 8)
  shentsize=$(read_uint "$target.tmp" $((0x3a)) 2)
  shnum=$(read_uint "$target.tmp" $((0x3c)) 2)
  ((shoff + shentsize * shnum <= size)) || die "vmlinux is truncated: its section headers end past $size bytes"
  local type offset filesz rest segments_end=0
  while read -r type offset _ _ filesz rest; do
    [[ $type == LOAD || $type == NOTE ]] || continue
    ((offset + filesz <= segments_end)) || segments_end=$((offset + filesz))
  done < <(readelf -lW "$target.tmp")
  ((segments_end > 0 && segments_end <= size)) || die "vmlinux is truncated: its segments end past $size bytes"
  # PVH entry: a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY (18).
  readelf -nW "$target.tmp" | grep -Eq '^\s*Xen\s+0x[0-9a-f]+\s+.*\(0x00000012\)' ||
    die "vmlinux has no Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 0x12): no PVH entry point"
  mv "$target.tmp" "$target"
}

# Builds the initramfs (newc cpio, uncompressed: on KVM-PVM the guest kernel's gunzip runs in
# the emulated ring 0 and took ~5 minutes for this archive; copying is cheap): busybox and its applet links, /init, and the listed
# modules with everything they depend on, indexed by depmod so modprobe works in the guest.
# Debian's boot/System.map is a placeholder (the real one is in the -dbg package), so depmod
# learns what the kernel exports from vmlinux itself: the names in __ksymtab_strings, written
# as the __ksymtab_<name> lines depmod -F looks for. The linker merges a name that is the tail
# of another ("memcpy" inside "__memcpy"), so every tail of every name is listed too; that can
# only make the check more lenient, never report a symbol that is there as missing.
write_export_map() {
  local vmlinux=$1 target=$2
  run "objcopy __ksymtab_strings" objcopy -O binary --only-section=__ksymtab_strings "$vmlinux" "$work/ksymtab_strings"
  tr '\0' '\n' <"$work/ksymtab_strings" |
    awk 'length($0) > 0 { for (i = 1; i <= length($0); i++) print "0000000000000000 r __ksymtab_" substr($0, i) }' |
    LC_ALL=C sort -u >"$target"
  [[ -s $target ]] || die "vmlinux has no exported symbol names (__ksymtab_strings)"
}

# Copies a module without its .BTF section. The kernel checks a module's BTF against its own the
# first time one loads, parsing all of vmlinux's BTF (minutes of emulated ring 0 on KVM-PVM); a
# module without .BTF skips that. objcopy also drops the appended signature, so the guest logs
# "module verification failed" and marks itself tainted; Debian's kernel does not enforce
# signatures outside Secure Boot. docs/linux-guest.md, "Modules".
install_module() {
  local source=$1 target=$2
  mkdir -p "$(dirname "$target")"
  run "objcopy ${source##*/}" objcopy --remove-section=.BTF "$source" "$target"
  chmod 0644 "$target"
}

# A dynamically linked host program at the same path in the initramfs, with the shared libraries
# it links (and the dynamic loader).
install_host_program() {
  local staging=$1 program=$2 library
  [[ -x $program ]] || die "no $program on the host"
  install -D -m 0755 "$program" "$staging$program"
  while read -r library; do
    install -D -m 0755 "$library" "$staging$library"
  done < <(ldd "$program" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  [[ -n $(find "$staging" -name 'ld-linux*' -print -quit) ]] || die "ldd $program named no dynamic loader"
}

# mke2fs from the host's e2fsprogs (busybox's makes only ext2).
install_mke2fs() {
  local staging=$1 mke2fs
  mke2fs=$(command -v mke2fs || echo /sbin/mke2fs)
  rm -f "$staging/sbin/mke2fs" "$staging/sbin/mkfs.ext4"  # busybox applet links (ext2 only)
  install_host_program "$staging" "$mke2fs"
  [[ $mke2fs == /sbin/mke2fs ]] || ln -sf "$mke2fs" "$staging/sbin/mke2fs"
  ln -sf mke2fs "$staging/sbin/mkfs.ext4"
  [[ ! -f /etc/mke2fs.conf ]] || install -D -m 0644 /etc/mke2fs.conf "$staging/etc/mke2fs.conf"
}

# The honeypot's services (vmhive.services= in /init): Debian's dropbear for SSH (host keys made
# on the first connection, so every clone of a snapshot gets keys of its own), busybox's httpd
# serving /var/www and its telnetd.
install_services() {
  local staging=$1
  install_host_program "$staging" /usr/sbin/dropbear
  mkdir -p "$staging/etc/dropbear" "$staging/var/www" "$staging/var/log"
  printf '/bin/sh\n/bin/ash\n' >"$staging/etc/shells"
  printf '%s\n' '<!DOCTYPE html>' '<html><head><title>Welcome</title></head>' \
    '<body><h1>It works!</h1><p>This is the default web page for this server.</p></body></html>' \
    >"$staging/var/www/index.html"
}

build_initramfs() {
  local modules_dir=$1 system_map=$2 target=$3
  local staging=$work/initramfs
  local guest_modules=$staging/lib/modules/$kernel
  mkdir -p "$staging"/{bin,sbin,usr/bin,usr/sbin,etc/vmhive,proc,sys,dev,root,tmp,run,mnt,lib/modules}
  chmod 1777 "$staging/tmp"
  chmod 0700 "$staging/root"

  local busybox
  busybox=$(dpkg -L busybox-static | grep -m1 '/bin/busybox$') || die "busybox-static ships no bin/busybox"
  readelf -lW "$busybox" | grep -q 'INTERP' && die "$busybox is not statically linked"
  cp "$busybox" "$staging/bin/busybox"
  local applet
  while read -r applet; do
    [[ $applet == */* && ! -e $staging/$applet ]] || continue
    ln -s /bin/busybox "$staging/$applet"
  done < <("$busybox" --list-full)
  install -m 0755 "$helper_dir/init" "$staging/init"
  install_mke2fs "$staging"
  install_services "$staging"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$staging/etc/passwd"
  printf 'root:*:0:0:99999:7:::\n' >"$staging/etc/shadow"
  chmod 0600 "$staging/etc/shadow"
  printf 'root:x:0:\n' >"$staging/etc/group"
  # Mounted by /init with one `mount -a`.
  printf '%s\n' 'proc /proc proc defaults 0 0' 'sysfs /sys sysfs defaults 0 0' \
    'devtmpfs /dev devtmpfs defaults 0 0' 'devpts /dev/pts devpts defaults 0 0' \
    'tmpfs /dev/shm tmpfs mode=1777 0 0' >"$staging/etc/fstab"
  # The kernel opens /dev/console before /init runs (and before devtmpfs is mounted).
  ((EUID != 0)) || mknod -m 0600 "$staging/dev/console" c 5 1

  local resolved
  resolved=$("$helper_dir/resolve-modules.sh" "$modules_dir" "$helper_dir/modules" 2>&1) ||
    die "resolving modules: ${resolved##*$'\n'}"
  local kind name loads=() builtins=() absent=()
  while read -r kind name; do
    case $kind in
      load) loads+=("$name") ;;
      builtin) builtins+=("$name") ;;
      absent) absent+=("$name") ;;
      file) install_module "$modules_dir/$name" "$guest_modules/$name" ;;
    esac
  done <<<"$resolved"
  printf '%s\n' "${loads[@]}" >"$staging/etc/vmhive/modules"
  module_count=$(find "$guest_modules" -name '*.ko*' | wc -l)
  module_summary="${#loads[@]} listed to load, $module_count files; built in: ${builtins[*]:-none}"
  ((${#absent[@]} == 0)) || module_summary+="; absent (optional): ${absent[*]}"

  local index
  for index in modules.order modules.builtin modules.builtin.modinfo; do
    [[ ! -f $modules_dir/$index ]] || cp "$modules_dir/$index" "$guest_modules/"
  done
  # depmod over the subset both writes the guest's indexes and checks the closure: a module
  # whose symbols neither the subset nor the kernel exports is reported.
  local depmod_log
  depmod_log=$(depmod -e -F "$system_map" -b "$staging" "$kernel" 2>&1) || {
    show <<<"$depmod_log"
    die "depmod for the initramfs modules failed"
  }
  if grep -q 'unknown symbol' <<<"$depmod_log"; then
    show <<<"$depmod_log"
    die "the initramfs modules miss dependencies (depmod: unknown symbols)"
  fi

  # Fixed timestamps and inode numbers: the same inputs give the same archive.
  find "$staging" -exec touch -h -d @0 {} +
  (cd "$staging" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet >"$target.tmp") ||
    die "cpio of the initramfs failed"
  mv "$target.tmp" "$target"
}

print_summary() {
  local file size
  echo "$me: kernel $kernel ($package $version) in $out"
  for file in vmlinux bzImage initramfs.cpio; do
    size=$(stat -c %s "$out/$file")
    awk -v name="$file" -v size="$size" 'BEGIN { printf "  %-18s %10d bytes (%.1f MiB)\n", name, size, size / 1048576 }'
  done
}

main() {
  (($# == 1)) || { echo "usage: scripts/prepare-linux-guest.sh OUTPUT_DIR" >&2; exit 2; }
  mkdir -p "$1/cache" || die "cannot create $1/cache"
  out=$(cd "$1" && pwd)
  # One preparation at a time per OUTPUT_DIR (parallel CI jobs share a build tree).
  exec 9>"$out/cache/lock"
  flock 9 || die "cannot lock $out/cache/lock"

  ensure_tools
  resolve_package
  local inputs
  inputs=$(stamp_inputs)
  if outputs_exist && [[ $(grep -v '^kernel=' "$out/stamp") == "$inputs" ]]; then
    kernel=$(sed -n 's/^kernel=//p' "$out/stamp")
    echo "$me: up to date"
    print_summary
    return
  fi

  rm -f "$out/stamp"
  fetch_package
  work=$(mktemp -d "$out/cache/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  local root=$work/root
  run "dpkg-deb -x $(basename "$deb")" dpkg-deb -x "$deb" "$root"
  local releases=("$root"/lib/modules/*/)
  if ((${#releases[@]} != 1)) || [[ ! -d ${releases[0]} ]]; then
    die "$package does not ship exactly one lib/modules/<release> directory"
  fi
  kernel=$(basename "${releases[0]}")
  [[ -f $root/boot/vmlinuz-$kernel ]] || die "$package has no boot/vmlinuz-$kernel"
  run "depmod -b <unpacked $package> $kernel" depmod -b "$root" "$kernel"

  echo "$me: extracting vmlinux from $package"
  cp "$root/boot/vmlinuz-$kernel" "$out/bzImage.tmp"
  mv "$out/bzImage.tmp" "$out/bzImage"
  extract_vmlinux "$out/bzImage" "$out/vmlinux"
  echo "$me: building the initramfs"
  write_export_map "$out/vmlinux" "$work/exports.map"
  build_initramfs "$root/lib/modules/$kernel" "$work/exports.map" "$out/initramfs.cpio"
  echo "$me: modules: $module_summary"

  printf '%s\nkernel=%s\n' "$inputs" "$kernel" >"$out/stamp.tmp"
  mv "$out/stamp.tmp" "$out/stamp"
  print_summary
}

main "$@"
