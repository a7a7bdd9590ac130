set terminal pngcairo size 520,460 font "DejaVu Sans,10"
set output "throughput-vs-sas.png"
set multiplot layout 1,1 title "inbound, 64 B, cpu crypto, one worker core (full run)"
set grid
set key top right
set ylabel "Mpps (decrypted)"
set xlabel "SAs (traffic spread round-robin over all of them)"
set yrange [0:*]
set offsets 0, 0, graph 0.22, 0
set logscale x
set xrange [0.5:300000]
set format x "10^{%L}"
set title "AES-128-CBC+SHA256"
plot "chart-data/throughput-vs-sas-cbc128-sha256-spigate.dat" using 1:2:3:4 with yerrorlines lc rgb "#1f77b4" lw 2 pt 7 title "spigate", \
     "chart-data/throughput-vs-sas-cbc128-sha256-peer.dat" using 1:2:3:4 with yerrorlines lc rgb "#d62728" lw 2 pt 5 title "ipsec-secgw", \
     "chart-data/throughput-vs-sas-cbc128-sha256-limit.dat" using 1:2 with linespoints lc rgb "#555555" lw 1 dt 2 pt 1 title "rig limit"
unset multiplot
