set terminal pngcairo size 900,540 noenhanced
set output 'density.png'
set grid
set key left top
set title 'PSS per idle restored instance (128 MiB function)'
set xlabel 'instance (sorted)'
set ylabel 'MiB'
set yrange [0:*]
plot 'density_provided.dat' using 1:2 with linespoints lw 2 title 'provided', 'density_python.dat' using 1:2 with linespoints lw 2 title 'python'
