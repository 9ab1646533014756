# llama3-8b: TTT overhead, flash / floor (training step)
# Drawn by attn-harness report; run: gnuplot overhead_llama3-8b.gp
if (!exists("outfile")) outfile = "overhead_llama3-8b.svg"
set terminal svg size 660,430 dynamic noenhanced font "DejaVu Sans,12" background "#ffffff"
set encoding utf8
set output outfile
set title "llama3-8b: TTT overhead, flash / floor (training step)" font ",13"
set xlabel "sequence length L (tokens)"
set ylabel "step time flash / floor (×)"
set border 3 lc rgb "#444444"
set tics nomirror
set grid xtics ytics lc rgb "#e3e3e3" lw 1 dt 1
set key outside below center horizontal noopaque samplen 3 spacing 1.2
set key title "line colour: TTT length T (darker: larger)"
set errorbars 2.5
set logscale x 2
set xrange [758.518519:44236.8]
set xtics ("1K" 1024, "2K" 2048, "4K" 4096, "8K" 8192, "16K" 16384, "32K" 32768)
set yrange [0.853198007:1.44491671]
set format y "%g"
set label 1 "no overhead" at graph 0.02, first 1 left offset 0,-0.8 tc rgb "#666666" front
plot "overhead_llama3-8b.dat" index 0 using 1:2 with linespoints lw 2 pt 5 ps 0.8 dt 1 lc rgb "#fd8d3c" title "T = 1", \
     "overhead_llama3-8b.dat" index 1 using 1:2 with linespoints lw 2 pt 5 ps 0.8 dt 1 lc rgb "#d94801" title "T = 3", \
     "overhead_llama3-8b.dat" index 2 using 1:2 with linespoints lw 2 pt 5 ps 0.8 dt 1 lc rgb "#7f2704" title "T = 7", \
     1 with lines lw 1.5 dt 3 lc rgb "#999999" notitle
unset output
