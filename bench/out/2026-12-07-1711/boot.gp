set terminal pngcairo size 900,540 noenhanced
set output 'boot.png'
set grid
set key left top
set title 'VM boot: exec -> init marker CDF'
set xlabel 'ms'
set ylabel 'fraction'
plot 'boot_ember-vmm.dat' using 1:2 with steps lw 2 title 'ember-vmm', 'boot_qemu-microvm.dat' using 1:2 with steps lw 2 title 'qemu-microvm'
