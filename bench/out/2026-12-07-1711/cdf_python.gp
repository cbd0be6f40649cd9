set terminal pngcairo size 900,540 noenhanced
set output 'cdf_python.png'
set grid
set key left top
set title 'python: start latency CDF (client round trip)'
set logscale x
set xlabel 'ms'
set ylabel 'fraction'
set yrange [0:1]
plot 'cdf_python_cold.dat' using 1:2 with steps lw 2 title 'cold', 'cdf_python_restore.dat' using 1:2 with steps lw 2 title 'restore', 'cdf_python_warm.dat' using 1:2 with steps lw 2 title 'warm'
