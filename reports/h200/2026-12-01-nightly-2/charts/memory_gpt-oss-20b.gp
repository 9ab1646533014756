# gpt-oss-20b: peak memory (training step, T = 7)
# Drawn by attn-harness report; run: gnuplot memory_gpt-oss-20b.gp
if (!exists("outfile")) outfile = "memory_gpt-oss-20b.svg"
set terminal svg size 660,430 dynamic noenhanced font "DejaVu Sans,12" background "#ffffff"
set encoding utf8
set output outfile
set title "gpt-oss-20b: peak memory (training step, T = 7)" font ",13"
set xlabel "sequence length L (tokens)"
set ylabel "peak GPU memory above inputs (GiB, log scale)"
set border 3 lc rgb "#444444"
set tics nomirror
set grid xtics ytics lc rgb "#e3e3e3" lw 1 dt 1
set key outside below center horizontal noopaque samplen 3 spacing 1.2
set errorbars 2.5
set logscale x 2
set xrange [758.518519:44236.8]
set xtics ("1K" 1024, "2K" 2048, "4K" 4096, "8K" 8192, "16K" 16384, "32K" 32768)
set logscale y 10
set yrange [0.0906381011:259.206621]
set ytics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200)
set mytics 10
set label 1 "sdpa OOM" at first 8192, graph 0.92 center tc rgb "#d62728" point pt 2 ps 1.3 lw 2 lc rgb "#d62728" offset 0,0.9 front
set label 2 "sdpa OOM" at first 16384, graph 0.92 center tc rgb "#d62728" point pt 2 ps 1.3 lw 2 lc rgb "#d62728" offset 0,0.9 front
set label 3 "sdpa OOM" at first 32768, graph 0.92 center tc rgb "#d62728" point pt 2 ps 1.3 lw 2 lc rgb "#d62728" offset 0,0.9 front
plot "memory_gpt-oss-20b.dat" index 0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#d62728" title "sdpa", \
     "memory_gpt-oss-20b.dat" index 1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#2ca02c" title "flex", \
     "memory_gpt-oss-20b.dat" index 2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#1f77b4" title "flash", \
     "memory_gpt-oss-20b.dat" index 3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 2 lc rgb "#555555" title "floor", \
     "memory_gpt-oss-20b.dat" index 4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 2 lc rgb "#e377c2" title "floor-sdpa"
unset output
