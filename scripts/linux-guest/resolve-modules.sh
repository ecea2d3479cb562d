#!/usr/bin/env bash
# Resolves the guest's module list against a kernel's depmod output.
# Usage: resolve-modules.sh MODULES_DIR LIST_FILE
#   MODULES_DIR: <root>/lib/modules/<version> after `depmod`; LIST_FILE: the format of
#   scripts/linux-guest/modules. Prints one line per result:
#     load NAME     a listed name that is a loadable module (or an alias of some): /init modprobes it
#     file PATH     a module file the initramfs needs, relative to MODULES_DIR: the listed modules,
#                   their dependencies (modules.dep) and soft dependencies (modules.softdep), transitively
#     builtin NAME  a listed module built into the kernel: nothing to load
#     absent NAME   an optional listed module ('?') this kernel does not have
# Fails, naming them, when required modules are neither modules nor built in.
set -euo pipefail

if (($# != 2)); then
  echo "usage: resolve-modules.sh MODULES_DIR LIST_FILE" >&2
  exit 2
fi
modules_dir=$1
list=$2
for index in modules.dep modules.builtin modules.alias modules.softdep; do
  if [[ ! -r $modules_dir/$index ]]; then
    echo "resolve-modules: $modules_dir/$index is missing (run depmod first)" >&2
    exit 1
  fi
done
[[ -r $list ]] || { echo "resolve-modules: cannot read $list" >&2; exit 1; }

exec awk -v dir="$modules_dir" '
# A module name as the kernel spells it: file name without .ko[.xz|.zst], dashes as underscores.
function module_name(text,    name) {
  name = text
  sub(/.*\//, "", name)
  sub(/\.ko(\.[a-z0-9]+)?$/, "", name)
  gsub(/-/, "_", name)
  return name
}

# Adds a module, its hard dependencies and its soft dependencies (the latter when present).
function need(name,    count, list, i) {
  if (name in needed) return
  needed[name] = 1
  print "file " path[name]
  count = split(deps[name], list, " ")
  for (i = 1; i <= count; i++) need(module_name(list[i]))
  count = split(softdeps[name], list, " ")
  for (i = 1; i <= count; i++) need_soft(list[i])
}

# A soft dependency names a module or an alias (e.g. libcrc32c: "pre: crc32c").
function need_soft(word,    count, list, i) {
  if (module_name(word) in path) { need(module_name(word)); return }
  count = split(aliases[word], list, " ")
  for (i = 1; i <= count; i++) if (list[i] in path) need(list[i])
}

BEGIN {
  file = dir "/modules.dep"
  while ((getline line < file) > 0) {
    colon = index(line, ":")
    if (colon == 0) continue
    name = module_name(substr(line, 1, colon - 1))
    path[name] = substr(line, 1, colon - 1)
    deps[name] = substr(line, colon + 1)
  }
  close(file)
  file = dir "/modules.builtin"
  while ((getline line < file) > 0) builtin[module_name(line)] = 1
  close(file)
  file = dir "/modules.alias"
  while ((getline line < file) > 0) {
    if (split(line, word, " ") == 3 && word[1] == "alias" && word[2] !~ /[*?[]/)
      aliases[word[2]] = aliases[word[2]] " " module_name(word[3])
  }
  close(file)
  file = dir "/modules.softdep"
  while ((getline line < file) > 0) {
    count = split(line, word, " ")
    if (count < 3 || word[1] != "softdep") continue
    name = module_name(word[2])
    for (i = 3; i <= count; i++)
      if (word[i] != "pre:" && word[i] != "post:") softdeps[name] = softdeps[name] " " word[i]
  }
  close(file)
}

{ sub(/#.*/, ""); gsub(/[ \t]/, "") }
$0 == "" { next }
{
  optional = sub(/\?$/, "")
  name = module_name($0)
  if (name in path) {
    print "load " name
    need(name)
  } else if (name in builtin) {
    print "builtin " name
  } else if (aliases[$0] != "") {
    print "load " $0
    need_soft($0)
  } else if (optional) {
    print "absent " name
  } else {
    missing = missing " " name
  }
}

END {
  if (missing != "") {
    print "resolve-modules: neither a module nor built in:" missing > "/dev/stderr"
    exit 1
  }
}
' "$list"
