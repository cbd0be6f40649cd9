set terminal pngcairo size 900,540 noenhanced
set output 'cdf_nodejs.png'
set grid
set key left top
set title 'nodejs: start latency CDF (client round trip)'
set logscale x
set xlabel 'ms'
set ylabel 'fraction'
set yrange [0:1]
plot 'cdf_nodejs_cold.dat' using 1:2 with steps lw 2 title 'cold', 'cdf_nodejs_restore.dat' using 1:2 with steps lw 2 title 'restore', 'cdf_nodejs_warm.dat' using 1:2 with steps lw 2 title 'warm'
