# gpt-oss-20b: TTT overhead vs T, flash / floor (training step)
# Drawn by attn-harness report; run: gnuplot overhead_T_gpt-oss-20b.gp
if (!exists("outfile")) outfile = "overhead_T_gpt-oss-20b.svg"
set terminal svg size 660,430 dynamic noenhanced font "DejaVu Sans,12" background "#ffffff"
set encoding utf8
set output outfile
set title "gpt-oss-20b: TTT overhead vs T, flash / floor (training step)" font ",13"
set xlabel "TTT length T (draft steps)"
set ylabel "step time flash / floor (×)"
set border 3 lc rgb "#444444"
set tics nomirror
set grid xtics ytics lc rgb "#e3e3e3" lw 1 dt 1
set key outside below center horizontal noopaque samplen 3 spacing 1.2
set key title "line colour: sequence length L (darker: longer)"
set errorbars 2.5
set xrange [0.5:7.5]
set xtics (1, 3, 7)
set yrange [0.900973423:1.58175645]
set format y "%g"
set label 1 "no overhead" at graph 0.02, first 1 left offset 0,-0.8 tc rgb "#666666" front
plot "overhead_T_gpt-oss-20b.dat" index 0 using 1:2 with linespoints lw 2 pt 9 ps 0.8 dt 1 lc rgb "#bcbddc" title "L = 1K", \
     "overhead_T_gpt-oss-20b.dat" index 1 using 1:2 with linespoints lw 2 pt 9 ps 0.8 dt 1 lc rgb "#9e9ac8" title "L = 2K", \
     "overhead_T_gpt-oss-20b.dat" index 2 using 1:2 with linespoints lw 2 pt 9 ps 0.8 dt 1 lc rgb "#807dba" title "L = 4K", \
     "overhead_T_gpt-oss-20b.dat" index 3 using 1:2 with linespoints lw 2 pt 9 ps 0.8 dt 1 lc rgb "#6a51a3" title "L = 8K", \
     "overhead_T_gpt-oss-20b.dat" index 4 using 1:2 with linespoints lw 2 pt 9 ps 0.8 dt 1 lc rgb "#54278f" title "L = 16K", \
     "overhead_T_gpt-oss-20b.dat" index 5 using 1:2 with linespoints lw 2 pt 9 ps 0.8 dt 1 lc rgb "#3f007d" title "L = 32K", \
     1 with lines lw 1.5 dt 3 lc rgb "#999999" notitle
unset output
