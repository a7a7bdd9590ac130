set terminal pngcairo size 520,460 font "DejaVu Sans,10"
set output "throughput-vs-size.png"
set multiplot layout 1,1 title "inbound, 1 SA, cpu crypto, one worker core (full run)"
set grid
set key top right
set ylabel "Mpps (decrypted)"
set xlabel "inner packet size (bytes; IMIX = 7:4:1 of 64/512/1420, mean 326 B)"
set yrange [0:*]
set offsets 0, 0, graph 0.22, 0
set xrange [0:1500]
set xtics ("64" 64, "IMIX" 326, "512" 512, "1420" 1420)
set title "AES-128-CBC+SHA256"
plot "chart-data/throughput-vs-size-cbc128-sha256-spigate.dat" using 1:2:3:4 with yerrorlines lc rgb "#1f77b4" lw 2 pt 7 title "spigate", \
     "chart-data/throughput-vs-size-cbc128-sha256-peer.dat" using 1:2:3:4 with yerrorlines lc rgb "#d62728" lw 2 pt 5 title "ipsec-secgw", \
     "chart-data/throughput-vs-size-cbc128-sha256-limit.dat" using 1:2 with linespoints lc rgb "#555555" lw 1 dt 2 pt 1 title "rig limit"
unset multiplot
