from htsweep.train import main

main()
