#!/usr/bin/env bash
# Checks that the library keeps its layers (README.md, "Layers"): src/ holds
# one folder per layer, listed bottom to top by MPMP_LAYERS in
# CMakeLists.txt, and src/mpmp.c, the front door above them all. A file may
# use its own layer and the layers below it, never one above:
#
#   includes  no file of src/ includes a header of a higher layer (every
#             header name is unique across the layers, so a name says its
#             layer whatever the include path);
#   calls     with a build directory, no object file of the library refers
#             to a function or variable that a higher layer defines (nm over
#             the objects CMake compiled: what the linker would join).
#
#   scripts/check-layers.sh [BUILD_DIR]
#
# Prints each violation and exits 1 if there is any; CI runs it as the
# ctest test "layers" (tests/CMakeLists.txt) with the build directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

read -r -a layers < <(sed -n 's/^set(MPMP_LAYERS \(.*\))$/\1/p' CMakeLists.txt)
if ((${#layers[@]} == 0)); then
  echo "check-layers: no set(MPMP_LAYERS ...) line in CMakeLists.txt" >&2
  exit 2
fi
declare -A level header_layer
for i in "${!layers[@]}"; do level[${layers[$i]}]=$i; done
level[front]=${#layers[@]}
fail=0
problem() {
  echo "check-layers: $*"
  fail=1
}

# The folders are the layers, and nothing of the library lies beside them.
for path in src/*; do
  name=${path#src/}
  if [[ -d "$path" && -z "${level[$name]:-}" ]]; then
    problem "$path is not a layer: add it to MPMP_LAYERS in CMakeLists.txt"
  elif [[ -f "$path" && "$path" != src/mpmp.c ]]; then
    problem "$path lies outside the layers: move it into the folder of its layer"
  fi
done

for layer in "${layers[@]}"; do
  for h in src/"$layer"/*.h; do
    [[ -e "$h" ]] || continue
    name=${h##*/}
    if [[ -n "${header_layer[$name]:-}" ]]; then
      problem "two headers named $name (src/${header_layer[$name]} and src/$layer)"
    fi
    header_layer[$name]=$layer
  done
done

# Includes: "x.h" is a header of some layer, or a public one (include/).
check_includes() { # file, its layer
  local file="$1" layer="$2" inc owner
  while read -r inc; do
    owner=${header_layer[$inc]:-}
    if [[ -z "$owner" ]]; then
      [[ -e "include/$inc" || -e "include/mpmp/$inc" || -e "include/mpmp/$inc.in" ]] ||
        problem "$file includes \"$inc\", which is no header of a layer or of include/"
      continue
    fi
    if ((level[$owner] > level[$layer])); then
      problem "$file ($layer) includes $inc of the higher layer $owner"
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
}
for layer in "${layers[@]}"; do
  for f in src/"$layer"/*.[ch]; do
    [[ -e "$f" ]] && check_includes "$f" "$layer"
  done
done
[[ -e src/mpmp.c ]] && check_includes src/mpmp.c front

# Calls: every undefined symbol of an object, joined with its definition.
if (($# > 0)); then
  objdir="$1/CMakeFiles/mpmp_objs.dir/src"
  if [[ ! -d "$objdir" ]]; then
    echo "check-layers: $objdir not found: build the library first" >&2
    exit 2
  fi
  levels=""
  for name in "${!level[@]}"; do levels+="$name=${level[$name]} "; done
  out=$(
    find "$objdir" -name '*.o' | sort | while read -r obj; do
      rel=${obj#"$objdir"/}
      # A build folder keeps the objects of sources since moved or removed:
      # only today's sources count.
      [[ -e "src/${rel%.o}" ]] || continue
      layer=${rel%%/*}
      [[ "$rel" == */* ]] || layer=front
      nm --defined-only -g "$obj" | awk -v f="src/${rel%.o}" -v l="$layer" \
        'NF == 3 { print "D", $3, l, f }'
      nm -u "$obj" | awk -v f="src/${rel%.o}" -v l="$layer" \
        'NF == 2 { print "U", $2, l, f }'
    done | awk -v levels="$levels" '
      BEGIN { n = split(levels, kv, " ")
              for (i = 1; i <= n; i++) { split(kv[i], p, "="); lv[p[1]] = p[2] } }
      $1 == "D" { def_layer[$2] = $3; def_file[$2] = $4; next }
      { use[++nu] = $0 }
      END {
        for (i = 1; i <= nu; i++) {
          split(use[i], u, " ")
          if (!(u[2] in def_layer)) continue
          if (lv[def_layer[u[2]]] > lv[u[3]])
            printf "%s (%s) uses %s of the higher layer %s (%s)\n",
                   u[4], u[3], u[2], def_layer[u[2]], def_file[u[2]]
        }
      }'
  )
  if [[ -n "$out" ]]; then
    while read -r line; do problem "$line"; done <<<"$out"
  fi
fi

if ((fail)); then
  echo "check-layers: the layers do not hold (see above)" >&2
  exit 1
fi
echo "check-layers: ${layers[*]} and the front door: no file includes or" \
  "uses a layer above its own${1:+ (objects in $1)}"
