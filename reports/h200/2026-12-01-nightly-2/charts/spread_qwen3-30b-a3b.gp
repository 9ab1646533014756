# qwen3-30b-a3b: spread of the repetitions (training step, T = 7)
# Drawn by attn-harness report; run: gnuplot spread_qwen3-30b-a3b.gp
if (!exists("outfile")) outfile = "spread_qwen3-30b-a3b.svg"
set terminal svg size 660,430 dynamic noenhanced font "DejaVu Sans,12" background "#ffffff"
set encoding utf8
set output outfile
set title "qwen3-30b-a3b: spread of the repetitions (training step, T = 7)" font ",13"
set xlabel "sequence length L (tokens)"
set ylabel "(slowest - fastest) / median repetition (%)"
set border 3 lc rgb "#444444"
set tics nomirror
set grid xtics ytics lc rgb "#e3e3e3" lw 1 dt 1
set key outside below center horizontal noopaque samplen 3 spacing 1.2
set errorbars 2.5
set logscale x 2
set xrange [758.518519:44236.8]
set xtics ("1K" 1024, "2K" 2048, "4K" 4096, "8K" 8192, "16K" 16384, "32K" 32768)
set yrange [0:13.0440105]
set format y "%g"
plot "spread_qwen3-30b-a3b.dat" index 0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#d62728" title "sdpa", \
     "spread_qwen3-30b-a3b.dat" index 1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#2ca02c" title "flex", \
     "spread_qwen3-30b-a3b.dat" index 2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#1f77b4" title "flash", \
     "spread_qwen3-30b-a3b.dat" index 3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 2 lc rgb "#555555" title "floor", \
     "spread_qwen3-30b-a3b.dat" index 4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 2 lc rgb "#e377c2" title "floor-sdpa"
unset output
