# qwen3-30b-a3b: throughput (training step, T = 7)
# Drawn by attn-harness report; run: gnuplot tflops_qwen3-30b-a3b.gp
if (!exists("outfile")) outfile = "tflops_qwen3-30b-a3b.svg"
set terminal svg size 660,430 dynamic noenhanced font "DejaVu Sans,12" background "#ffffff"
set encoding utf8
set output outfile
set title "qwen3-30b-a3b: throughput (training step, T = 7)" font ",13"
set xlabel "sequence length L (tokens)"
set ylabel "useful TFLOP/s"
set border 3 lc rgb "#444444"
set tics nomirror
set grid xtics ytics lc rgb "#e3e3e3" lw 1 dt 1
set key outside below center horizontal noopaque samplen 3 spacing 1.2
set errorbars 2.5
set logscale x 2
set xrange [758.518519:44236.8]
set xtics ("1K" 1024, "2K" 2048, "4K" 4096, "8K" 8192, "16K" 16384, "32K" 32768)
set yrange [0:1013.09883]
set format y "%g"
set label 1 "sdpa OOM" at first 16384, graph 0.92 center tc rgb "#d62728" point pt 2 ps 1.3 lw 2 lc rgb "#d62728" offset 0,0.9 front
set label 2 "sdpa OOM" at first 32768, graph 0.92 center tc rgb "#d62728" point pt 2 ps 1.3 lw 2 lc rgb "#d62728" offset 0,0.9 front
set label 3 "bf16 GEMM 780 TFLOP/s" at graph 0.02, first 779.786665 left offset 0,-0.8 tc rgb "#666666" front
plot "tflops_qwen3-30b-a3b.dat" index 0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#d62728" title "sdpa", \
     "tflops_qwen3-30b-a3b.dat" index 1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#2ca02c" title "flex", \
     "tflops_qwen3-30b-a3b.dat" index 2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 1 lc rgb "#1f77b4" title "flash", \
     "tflops_qwen3-30b-a3b.dat" index 3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 2 lc rgb "#555555" title "floor", \
     "tflops_qwen3-30b-a3b.dat" index 4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 dt 2 lc rgb "#e377c2" title "floor-sdpa", \
     779.786665 with lines lw 1.5 dt 3 lc rgb "#999999" notitle
unset output
