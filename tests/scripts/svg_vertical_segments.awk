# Counts the vertical segments (an error bar, or the ends of a key's bar
# sample) in each group of a gnuplot SVG whose <title> is TITLE: one line
# with the count per such group. Used by the scaling-study tests:
#   awk -v title="<title>strong</title>" -f svg_vertical_segments.awk plot.svg
index($0, title) { on = 1; n = 0; depth = 0 }
on {
  s = $0
  while (match(s, /M[0-9.]+,[0-9.]+ L[0-9.]+,[0-9.]+/)) {
    seg = substr(s, RSTART + 1, RLENGTH - 1); s = substr(s, RSTART + RLENGTH)
    split(seg, p, /[, L]+/)
    if (p[1] == p[3] && p[2] != p[4]) n++
  }
  s = $0; depth += gsub(/<g[ >]/, "", s); s = $0; depth -= gsub(/<\/g>/, "", s)
  if (depth <= 0) { print n; on = 0 } # the group closed
}
