#!/usr/bin/env bash
# The layers of src/ as the build draws them (CMakeLists.txt, IX_LAYERS):
# every layer must compile against the headers of the layers it builds on
# and must fail to compile against any other layer's. For each layer and
# each directory of src/, compiles a one-line file that includes the
# directory's smallest header with that layer's include path, and checks the
# outcome against the layer's visible set.
#
#   layers_test.sh CXX SOURCE_DIR BINARY_DIR layer=dep,dep,... ...
set -uo pipefail
cxx=$1 src=$2 bin=$3
shift 3
fail=0 checks=0
for spec in "$@"; do
  layer=${spec%%=*}
  visible=",${spec#*=},"
  for dir in "$src"/src/*/; do
    other=$(basename "$dir")
    header=$(find "$dir" -maxdepth 1 -name '*.hh' -printf '%s %P\n' | sort -n | head -1 | cut -d' ' -f2)
    [ -n "$header" ] || continue
    out=$(printf '#include "%s/%s"\n' "$other" "$header" |
      "$cxx" -std=c++20 -E -o /dev/null -I "$src/include" -I "$bin/layers/$layer" -x c++ - 2>&1)
    ok=$?
    checks=$((checks + 1))
    if [[ "$visible" == *",$other,"* ]]; then
      if [ $ok -ne 0 ]; then
        echo "FAIL: layer $layer cannot include its own or a lower layer's $other/$header:"
        echo "$out" | head -5
        fail=1
      fi
    elif [ $ok -eq 0 ]; then
      echo "FAIL: layer $layer can include $other/$header, which is not below it"
      fail=1
    fi
  done
done
echo "layers: $checks include checks across $# layers"
exit $fail
