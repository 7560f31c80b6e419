#!/usr/bin/env bash
# The layers of docs/ARCHITECTURE.md, checked: which target may depend on which (from
# `swift package dump-package`), and that no target but SpoolSystem imports Glibc or the C shims
# or calls a libc function that SpoolSystem wraps (Foundation re-exports Glibc, so the compiler
# alone cannot forbid it). Exit status 1 and one line per violation when a rule is broken.
set -euo pipefail
cd "$(dirname "$0")/../.."

swift package dump-package | python3 -c '
import json, sys
allowed = {
    "CSpoolShims": set(),
    "SpoolSystem": {"CSpoolShims"},
    "SpoolJSON": set(),
    "SpoolKit": {"SpoolSystem", "SpoolJSON"},
}
package = json.load(sys.stdin)
bad = 0
for target in package["targets"]:
    name = target["name"]
    deps = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                deps.add(dependency[kind][0])
    if name in allowed and not deps <= allowed[name]:
        print(f"check-layers: target {name} depends on {sorted(deps - allowed[name])}; it may use only {sorted(allowed[name]) or chr(8709)}")
        bad = 1
sys.exit(bad)
'

# libc functions SpoolSystem wraps (one call site each, there): nowhere else.
wrapped='open|openat|openat2|close|read|write|pread|pwrite|rename|renameat|renameat2|link|linkat|unlink|unlinkat|mkdir|mkdirat|rmdir|stat|lstat|fstat|fstatat|flock|fsync|fdatasync|syncfs|kill|killpg|waitpid|wait4|waitid|inotify_init1|inotify_add_watch|inotify_rm_watch|pipe|pipe2|dup|dup2|dup3|fcntl|poll|opendir|readdir|closedir|fdopendir|posix_spawn|chmod|fchmod|chown|fchown|ftruncate|lseek|ioctl|socket|sendto|sigaction|prctl|getpwnam|getpwnam_r|getgrouplist|setrlimit|getrlimit|realpath|readlink|chdir|getcwd|isatty|tcgetattr|tcsetattr|execv|execve|vfork|fork|mkdtemp|mkstemp'
status=0
while IFS= read -r hit; do
    file=${hit%%:*}
    name=$(printf '%s\n' "${hit#*:*:}" | grep -oE "(^|[^A-Za-z0-9_.])($wrapped)\(" | head -1 | tr -cd 'A-Za-z0-9_' || true)
    # A call of a function or closure of that name that the file itself declares is not libc's.
    if [ -n "$name" ] && grep -qE "func $name\(|[(, ]$name: " "$file"; then continue; fi
    echo "check-layers: libc outside SpoolSystem: $hit"
    status=1
done < <(grep -rnE "^import (Glibc|CSpoolShims)|Glibc\.|(^|[^A-Za-z0-9_.])($wrapped)\(" Sources --include='*.swift' \
    | grep -v '^Sources/SpoolSystem/' \
    | grep -vE '^[^:]+:[0-9]+:\s*(///|//)' \
    | grep -vE "func ($wrapped)\(" || true)
exit $status
