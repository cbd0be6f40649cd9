set terminal pngcairo size 900,540 noenhanced
set output 'throughput.png'
set grid
set key left top
set title 'warm invokes/s against concurrency (provided)'
set logscale x 2
set xlabel 'concurrency'
set ylabel 'invokes/s'
set y2label 'latency ms'
set y2tics
set logscale y2
plot 'throughput.dat' using 1:2 with linespoints lw 2 title 'invokes/s', '' using 1:3 axes x1y2 with linespoints title 'p50 ms', '' using 1:4 axes x1y2 with linespoints title 'p99 ms'
